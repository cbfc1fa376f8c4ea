// Group commit: many concurrent callers, few transactions.
//
// Callers enqueue jobs; a single writer loop takes everything queued so far, runs it as ONE
// transaction (via `runBatch`), and resolves each caller after COMMIT. While a transaction runs, new
// jobs queue up and form the next batch. There is no timer: the loop flushes as soon as it is idle
// and batches whatever accumulated meanwhile, so an idle system commits a lone job immediately and
// a loaded one amortises each commit (one fsync) over many jobs.
//
// A failing batch is retried job by job, each in its own transaction, so one bad job fails only its
// own caller. Jobs run in enqueue order both in the batch and in the retry.
//
// A batch that fails because the database is unreachable (`isUnavailable`) is different: nothing in
// it is wrong. Jobs that must answer at once (`failFast`, e.g. submissions: the client retries)
// are rejected with UnavailableError; the others (state changes the master already decided) stay
// queued, in order, and the batch is tried again with a capped backoff until the database is back.
// Callers wait meanwhile (their own backpressure), and `onOutage` reports the start and the end.
//
// Knows nothing about SQL: the store supplies `runBatch`.
import { DatabaseUnavailableError, UnavailableError } from "../core/errors.js";

export interface GroupCommitOptions<J, R> {
  /**
   * Runs the jobs in one transaction and returns one result per job, in order. Must throw (having
   * rolled back) if the transaction did not commit.
   */
  runBatch(jobs: readonly J[]): Promise<R[]>;
  /** Rows a job writes; a batch stops growing once it holds `maxBatchRows` (memory bound). */
  rowsOf(job: J): number;
  /** Default 5,000. A single job larger than this still runs (alone). */
  maxBatchRows?: number;
  /** Whether an error means "the database is unreachable" (retry) rather than "this batch is wrong". */
  isUnavailable?(error: unknown): boolean;
  /** Jobs rejected at once during an outage instead of waiting for the database. */
  failFast?(job: J): boolean;
  /** Called when an outage starts (with its error) and when it ends (null). */
  onOutage?(error: unknown | null): void;
  /** Delay before trying again during an outage, by consecutive failure (default 100 ms doubling to 2 s). */
  retryDelayMs?(failures: number): number;
}

export interface GroupCommitStats {
  /** Jobs accepted. */
  jobs: number;
  /** Batches taken from the queue (each ran as one transaction before any retry). */
  batches: number;
  /** Transactions attempted: one per batch plus one per job retried alone. */
  transactions: number;
  /** Batches whose transaction failed and whose jobs were retried one by one. */
  retriedBatches: number;
  /** Jobs whose promise was rejected. */
  failedJobs: number;
  /** Jobs in the largest batch so far. */
  largestBatch: number;
}

interface Pending<J, R> {
  job: J;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class GroupCommitter<J, R> {
  private readonly queue: Pending<J, R>[] = [];
  private readonly maxBatchRows: number;
  private drainLoop: Promise<void> | null = null;
  private closed = false;
  /** Set during an outage: the error that started it. */
  private outage: unknown = null;
  /** After close(timeout) gave up: jobs still waiting for the database are rejected. */
  private abandoned = false;
  private wakeRetry: (() => void) | null = null;
  private readonly counters: GroupCommitStats = {
    jobs: 0,
    batches: 0,
    transactions: 0,
    retriedBatches: 0,
    failedJobs: 0,
    largestBatch: 0,
  };

  constructor(private readonly options: GroupCommitOptions<J, R>) {
    this.maxBatchRows = options.maxBatchRows ?? 5000;
  }

  /** Resolves after the job's transaction commits; rejects with UnavailableError once closed. */
  submit(job: J): Promise<R> {
    if (this.closed) return Promise.reject(new UnavailableError("store is closed"));
    if (this.outage !== null && this.options.failFast?.(job)) return Promise.reject(new DatabaseUnavailableError(this.outage));
    this.counters.jobs++;
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.startDrain();
    });
  }

  stats(): GroupCommitStats {
    return { ...this.counters };
  }

  /** True while the database is unreachable. */
  get unavailable(): boolean {
    return this.outage !== null;
  }

  /**
   * Rejects new jobs, waits until every queued job has committed (or failed). During an outage it
   * waits at most `outageTimeoutMs`, then rejects what still waits for the database.
   */
  async close(outageTimeoutMs = Infinity): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    if (Number.isFinite(outageTimeoutMs)) {
      timer = setTimeout(() => {
        if (this.outage === null) return;
        this.abandoned = true;
        this.wakeRetry?.();
      }, outageTimeoutMs);
    }
    while (this.drainLoop !== null) await this.drainLoop;
    clearTimeout(timer);
  }

  private startDrain(): void {
    if (this.drainLoop !== null) return;
    this.drainLoop = this.drain();
  }

  private async drain(): Promise<void> {
    // Yield once (setImmediate, not a timer) so that a burst of submissions made in the same turn
    // of the event loop, e.g. requests parsed from one socket read, lands in the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.queue.length > 0) await this.runBatch(this.takeBatch());
    } finally {
      // Nothing can be enqueued between the loop's last check and here (no await in between).
      this.drainLoop = null;
    }
  }

  private takeBatch(): Pending<J, R>[] {
    let rows = 0;
    let count = 0;
    while (count < this.queue.length) {
      const next = this.options.rowsOf(this.queue[count].job);
      if (count > 0 && rows + next > this.maxBatchRows) break;
      rows += next;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async runBatch(batch: Pending<J, R>[]): Promise<void> {
    this.counters.batches++;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    let results: R[];
    try {
      results = await this.runWhileUnavailable(batch);
    } catch (error) {
      if (batch.length === 0) return; // everything was rejected by the outage handling
      if (batch.length === 1) {
        this.fail(batch[0], error);
        return;
      }
      // Something in the batch failed and the whole transaction rolled back; find the culprit(s)
      // by running each job alone, in order.
      this.counters.retriedBatches++;
      for (const pending of batch) {
        try {
          const [result] = await this.runTransaction([pending.job]);
          pending.resolve(result);
        } catch (singleError) {
          this.fail(pending, singleError);
        }
      }
      return;
    }
    batch.forEach((pending, i) => pending.resolve(results[i]));
  }

  /**
   * Runs the batch; while the database is unreachable, rejects its fail-fast jobs and tries the
   * rest again after a backoff (removing rejected jobs from `batch` in place).
   */
  private async runWhileUnavailable(batch: Pending<J, R>[]): Promise<R[]> {
    for (let failures = 0; ; ) {
      try {
        const results = await this.runTransaction(batch.map((p) => p.job));
        if (this.outage !== null) {
          this.outage = null;
          this.options.onOutage?.(null);
        }
        return results;
      } catch (error) {
        if (!this.options.isUnavailable?.(error)) throw error;
        if (this.outage === null) {
          this.outage = error;
          this.options.onOutage?.(error);
        }
        const keep: Pending<J, R>[] = [];
        for (const p of batch) {
          if (this.abandoned || this.options.failFast?.(p.job)) this.fail(p, new DatabaseUnavailableError(error));
          else keep.push(p);
        }
        batch.splice(0, batch.length, ...keep);
        if (batch.length === 0) throw error;
        failures++;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.retryDelayMs?.(failures) ?? Math.min(2000, 100 * 2 ** (failures - 1)));
          this.wakeRetry = () => (clearTimeout(timer), resolve());
        });
        this.wakeRetry = null;
      }
    }
  }

  private runTransaction(jobs: J[]): Promise<R[]> {
    this.counters.transactions++;
    return this.options.runBatch(jobs);
  }

  private fail(pending: Pending<J, R>, error: unknown): void {
    this.counters.failedJobs++;
    pending.reject(error);
  }
}
