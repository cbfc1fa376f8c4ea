// One change at a time per task. A change is planned from the task's committed state, committed,
// and only then applied to memory (commit, then apply); a second change of the same task waits for
// the first to finish, so it is planned from what the database holds. Changes of different tasks
// run concurrently, so the group committer still batches them.
export class TaskSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `change` after every earlier change of `taskId` has finished (whatever its outcome). */
  run<T>(taskId: string, change: () => Promise<T>): Promise<T> {
    // Tails never reject (they settle on either outcome), so chaining on one needs no error path.
    const next = (this.tails.get(taskId) ?? Promise.resolve()).then(change);
    const settled = (): void => {
      if (this.tails.get(taskId) === tail) this.tails.delete(taskId);
    };
    const tail: Promise<void> = next.then(settled, settled);
    this.tails.set(taskId, tail);
    return next;
  }

  /** Whether a change of `taskId` is being planned or committed (the dispatcher leaves it alone). */
  busy(taskId: string): boolean {
    return this.tails.has(taskId);
  }
}
