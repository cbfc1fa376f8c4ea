// One change at a time per key (a task, a worker). A change is planned from the committed state,
// committed, and only then applied to memory (commit, then apply); a second change of the same key
// waits for the first to finish, so it is planned from what the database holds. Changes of different
// keys run concurrently, so the group committer still batches them.
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `change` after every earlier change of `key` has finished (whatever its outcome). */
  run<T>(key: string, change: () => Promise<T>): Promise<T> {
    // Tails never reject (they settle on either outcome), so chaining on one needs no error path.
    const next = (this.tails.get(key) ?? Promise.resolve()).then(change);
    const settled = (): void => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    const tail: Promise<void> = next.then(settled, settled);
    this.tails.set(key, tail);
    return next;
  }

  /**
   * The last change of `key` queued so far (undefined: none in flight). Compared by identity: it is
   * the same only while no change of `key` was queued after that one.
   */
  last(key: string): object | undefined {
    return this.tails.get(key);
  }

  /** Whether a change of `key` is being planned or committed (the dispatcher leaves such a task alone). */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
