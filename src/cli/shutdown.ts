// Graceful shutdown for the long-running verbs (master, agent, dev): the first SIGINT/SIGTERM runs
// the stop sequence once; a second signal, or a stop that takes longer than the bound, exits anyway
// so an operator is never left with a process that ignores Ctrl-C.

export interface ShutdownOptions {
  /** Upper bound for the stop sequence before the process exits regardless. */
  timeoutMs: number;
  log: (line: string) => void;
}

/**
 * Resolves with the exit code once `stop` has finished after a signal (0 when it finished in time).
 * The caller returns that code; the bin then exits the process.
 */
export function stopOnSignal(stop: () => Promise<void>, options: ShutdownOptions): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        options.log(`received ${signal} again; exiting now`);
        process.exit(130);
      }
      stopping = true;
      options.log(`received ${signal}; shutting down (at most ${Math.round(options.timeoutMs / 1000)}s)`);
      const timer = setTimeout(() => {
        options.log("shutdown took too long; exiting anyway");
        process.exit(1);
      }, options.timeoutMs);
      timer.unref();
      stop().then(
        () => {
          clearTimeout(timer);
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          options.log(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
