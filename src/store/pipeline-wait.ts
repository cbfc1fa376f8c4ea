// How a pipelined group-commit batch waits for its predecessor (group-commit.ts) without holding
// its locks for long. Its transaction waits before COMMIT, holding its row locks and its fence lock
// (FOR KEY SHARE of the leader row). If the predecessor is slow (a huge batch, a retry job by job,
// an outage), something the database cannot see could come to wait on those locks while the
// predecessor waits on that something: a standby's claim of the leader row queued behind the fence
// lock, with the predecessor's next fence queued behind the claim. So the wait is bounded: after
// `waitMs` the transaction is rolled back (its locks freed), and the batch runs again, whole, once
// the predecessor has settled. Commit order is kept either way.

/** Thrown into a pipelined transaction whose predecessor did not settle in time: it rolls back. */
export class PredecessorSlowError extends Error {
  constructor(waitMs: number) {
    super(`the previous write batch did not commit within ${waitMs} ms`);
    this.name = "PredecessorSlowError";
  }
}

/**
 * Runs `transaction` with a gate before its COMMIT that waits for `predecessor` at most `waitMs`;
 * past that, the transaction rolls back, and after the predecessor it runs again ungated.
 */
export async function runAfterPredecessor<T>(
  transaction: (beforeCommit?: () => Promise<void>) => Promise<T>,
  predecessor: () => Promise<void>,
  waitMs: number,
): Promise<T> {
  try {
    return await transaction(() => within(predecessor(), waitMs));
  } catch (error) {
    if (!(error instanceof PredecessorSlowError)) throw error;
    await predecessor();
    return await transaction();
  }
}

function within(settled: Promise<void>, waitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PredecessorSlowError(waitMs)), waitMs);
  });
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}
