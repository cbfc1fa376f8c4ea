// The master and an unreachable database: at start it waits (with a capped backoff and a log line
// per try) instead of exiting; while running, the store reports outages (writes wait and are
// retried, submissions and reads answer UNAVAILABLE) and this turns them into health status and
// log lines. The master never crashes on an outage.
import { isConnectionError } from "../src/store/connection-errors.js";
import { openStore, type StoreConfig, type TaskgridStore } from "../src/store/store.js";
import type { Logger } from "./logger.js";

/** Opens and migrates the store, waiting for the database as long as it is unreachable. */
export async function openStoreWhenReachable(config: StoreConfig, log: Logger, maxDelayMs = 5_000): Promise<TaskgridStore> {
  for (let attempt = 1; ; attempt++) {
    let store: TaskgridStore | null = null;
    try {
      store = await openStore(config);
      await store.migrate();
      if (attempt > 1) log.info("database reachable; starting", { attempts: attempt });
      return store;
    } catch (err) {
      await store?.close().catch(() => undefined);
      if (!isConnectionError(err)) throw err;
      const delayMs = Math.min(maxDelayMs, 250 * 2 ** (attempt - 1));
      log.warn("database unreachable; waiting for it", { attempt, retryInMs: delayMs, error: (err as Error).message });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Tracks whether the database is reachable and tells the health service. */
export class DatabaseHealth {
  private down: unknown = null;
  private since = 0;
  private publish: (serving: boolean) => void = () => {};

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** For StoreConfig.onOutage. */
  readonly onOutage = (error: unknown | null): void => {
    if (error !== null) {
      this.down = error;
      this.since = this.now();
      this.log.error("database unreachable: state changes wait and are retried; submissions and reads answer UNAVAILABLE", { error: String(error) });
    } else {
      this.log.info("database reachable again; waiting state changes are being committed", { outageMs: this.now() - this.since });
      this.down = null;
    }
    this.publish(this.down === null);
  };

  get reachable(): boolean {
    return this.down === null;
  }

  /** Connects the health service (NOT_SERVING while the database is unreachable). */
  attach(publish: (serving: boolean) => void): void {
    this.publish = publish;
    publish(this.down === null);
  }
}
