// The Knex-backed Store: reads go straight to the pool, writes go through the group committer.
import { DatabaseUnavailableError, InvalidArgumentError, UnavailableError } from "../core/errors.js";
import { selectLearning } from "./learning-sql.js";
import type { LearningStats } from "../core/rts/learning.js";
import type { Attempt, Task, TaskEvent } from "../core/types.js";
import type { ActiveState, Store, TokenStore, StoreWrite, SubmitOutcome, SubmitRequest, TaskFilter, TaskPage } from "./store-types.js";
import { openKnex, type ConnectionConfig, type Dialect, type OpenedKnex } from "./connection.js";
import { migrateToLatest } from "./migrations/index.js";
import { GroupCommitter, type GroupCommitStats } from "./group-commit.js";
import { applyBatch, rowsOfJob, type StoreJob, type StoreJobResult } from "./apply-batch.js";
import { inScriptTransaction } from "./write-script.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { isConnectionError } from "./connection-errors.js";
import { selectActiveTasks, selectTask, selectTaskPage } from "./tasks-sql.js";
import { selectAttempt, selectAttemptsForTask, selectCurrentAttemptsOfActiveTasks } from "./attempts-sql.js";
import { selectEventsForTask } from "./events-sql.js";
import { selectWorkers } from "./workers-sql.js";
import { insertToken, revokeToken, selectTokenList, selectTokens, updateLastUsed } from "./tokens-sql.js";

export interface StoreConfig extends ConnectionConfig {
  /** Upper bound on rows written per group-commit transaction (default 5,000). */
  maxBatchRows?: number;
  /**
   * Called when the database becomes unreachable (with the error) and when it is back (null).
   * Meanwhile writes wait and are retried in order; submissions and reads fail with UnavailableError.
   */
  onOutage?: (error: unknown | null) => void;
}

/** Store plus observability of the group commit (how many transactions served how many calls). */
export interface TaskgridStore extends Store {
  stats(): GroupCommitStats;
}

export const MAX_PAGE_SIZE = 1000;

/** Opens the database connection. Call migrate() before first use. */
export async function openStore(config: StoreConfig = {}): Promise<TaskgridStore> {
  return new KnexStore(await openKnex(config), config);
}

class KnexStore implements TaskgridStore {
  readonly dialect: Dialect;
  private readonly committer: GroupCommitter<StoreJob, StoreJobResult>;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly conn: OpenedKnex,
    config: StoreConfig,
  ) {
    this.dialect = conn.dialect;
    this.committer = new GroupCommitter<StoreJob, StoreJobResult>({
      runBatch: (jobs) => inScriptTransaction(conn.knex, conn.dialect, (session) => applyBatch(session, jobs)),
      rowsOf: rowsOfJob,
      maxBatchRows: config.maxBatchRows,
      isUnavailable: isConnectionError,
      // A client can retry a submission; the master's own state changes must reach the database.
      failFast: (job) => job.kind === "submit",
      onOutage: config.onOutage,
    });
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.db());
  }

  async submit(request: SubmitRequest): Promise<SubmitOutcome> {
    const outcome = await this.committer.submit({ kind: "submit", request });
    return outcome as SubmitOutcome;
  }

  async write(writes: StoreWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await this.committer.submit({ kind: "write", writes });
  }

  async getTask(taskId: string): Promise<Task | null> {
    return readOrUnavailable(() => selectTask(this.db(), taskId));
  }

  async getAttempt(attemptId: string): Promise<Attempt | null> {
    return readOrUnavailable(() => selectAttempt(this.db(), attemptId));
  }

  async getAttempts(taskId: string): Promise<Attempt[]> {
    return readOrUnavailable(() => selectAttemptsForTask(this.db(), taskId));
  }

  async getEvents(taskId: string): Promise<TaskEvent[]> {
    return readOrUnavailable(() => selectEventsForTask(this.db(), taskId));
  }

  async listTasks(filter: TaskFilter, pageSize: number, pageToken: string): Promise<TaskPage> {
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new InvalidArgumentError("page_size", `must be an integer in 1..${MAX_PAGE_SIZE}`);
    }
    const cursor = decodePageToken(pageToken);
    // One extra row tells whether a next page exists, so the last page never returns a token
    // that leads to an empty page.
    const rows = await readOrUnavailable(() => selectTaskPage(this.db(), filter, pageSize + 1, cursor));
    const tasks = rows.slice(0, pageSize);
    const last = tasks[tasks.length - 1];
    const nextPageToken = rows.length > pageSize && last ? encodePageToken({ createdAtMs: last.createdAtMs, id: last.id }) : "";
    return { tasks, nextPageToken };
  }

  async loadActive(): Promise<ActiveState> {
    // One read transaction so the three lists are a consistent snapshot (REPEATABLE READ: all
    // statements see the same snapshot; a write between them could otherwise show an attempt
    // whose task is missing).
    return this.db().transaction(
      async (trx) => ({
        tasks: await selectActiveTasks(trx),
        attempts: await selectCurrentAttemptsOfActiveTasks(trx),
        workers: await selectWorkers(trx),
      }),
      { isolationLevel: "repeatable read" },
    );
  }

  async loadLearning(): Promise<LearningStats[]> {
    return readOrUnavailable(() => selectLearning(this.db()));
  }

  readonly tokens: TokenStore = {
    insert: (token) => readOrUnavailable(() => insertToken(this.db(), token)),
    get: (ids) => readOrUnavailable(() => selectTokens(this.db(), ids)),
    list: (filter) => readOrUnavailable(() => selectTokenList(this.db(), filter)),
    revoke: (id, nowMs) => readOrUnavailable(() => revokeToken(this.db(), id, nowMs)),
    recordLastUsed: (used) => readOrUnavailable(() => updateLastUsed(this.db(), used)),
  };

  /** The Knex instance for reads; after close() reads fail like writes do. */
  private db() {
    if (this.closing !== null) throw new UnavailableError("store is closed");
    return this.conn.knex;
  }

  stats(): GroupCommitStats {
    return this.committer.stats();
  }

  /** Idempotent: later calls wait for the first to finish. */
  close(outageTimeoutMs?: number): Promise<void> {
    this.closing ??= (async () => {
      await this.committer.close(outageTimeoutMs);
      await this.conn.close();
    })();
    return this.closing;
  }
}

/** A read against an unreachable database fails with UnavailableError (UNAVAILABLE: retry). */
async function readOrUnavailable<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isConnectionError(err)) throw new DatabaseUnavailableError(err);
    throw err;
  }
}
