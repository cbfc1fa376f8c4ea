// One change at a time per task. A change is planned from the task's committed state, committed,
// and only then applied to memory (commit, then apply); a second change of the same task waits for
// the first to finish, so it is planned from what the database holds. Changes of different tasks
// run concurrently, so the group committer still batches them.
export class TaskSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `change` after every earlier change of `taskId` has finished (whatever its outcome). */
  run<T>(taskId: string, change: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(taskId) ?? Promise.resolve();
    const next = previous.then(change, change);
    const tail = next.catch(() => undefined);
    this.tails.set(taskId, tail);
    void tail.then(() => {
      if (this.tails.get(taskId) === tail) this.tails.delete(taskId);
    });
    return next;
  }

  /** Whether a change of `taskId` is being planned or committed (the dispatcher leaves it alone). */
  busy(taskId: string): boolean {
    return this.tails.has(taskId);
  }
}
