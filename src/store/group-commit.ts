// Group commit: many concurrent callers, few transactions.
//
// Callers enqueue jobs; the committer takes everything queued so far, runs it as ONE transaction
// (via `runBatch`), and resolves each caller after COMMIT. While a transaction runs, new jobs queue
// up and form the next batch. There is no timer: a batch starts as soon as there is room for it
// (pipelining below) and takes whatever accumulated meanwhile, so an idle system commits a lone job
// immediately and a loaded one amortises each commit (one fsync) over many jobs.
//
// Pipelining: with `maxInFlight` 2 (Postgres), a batch may start while the previous one runs, when
// no job in it names a row the running batch names (`conflictKeysOf`): its statements run on another
// connection while the first batch commits and the master handles its results, so the database's
// second core and the master's turn between batches are no longer idle. Commits still happen in
// batch order: a pipelined batch runs its statements, then waits (`predecessor`) until its
// predecessor has settled (retries included) before its COMMIT, so the database always holds a
// prefix of the master's decisions, exactly as with one batch at a time; on disjoint rows nothing
// can wait for a lock the waiting batch holds. During an outage one batch runs at a time. The store
// bounds the wait (pipeline-wait.ts): past it the batch rolls back and runs again after its
// predecessor, so no lock is held through a wait the database cannot see.
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
   * rolled back) if the transaction did not commit. `predecessor`, given to a pipelined batch,
   * resolves once the batch before it has settled: the transaction must not COMMIT before that.
   */
  runBatch(jobs: readonly J[], predecessor?: () => Promise<void>): Promise<R[]>;
  /**
   * The names of the rows a job writes or depends on; two batches run at once only when no name is
   * in both. Without it, one batch at a time.
   */
  conflictKeysOf?(job: J): readonly string[];
  /** Batches running at once (default 1; more only with conflictKeysOf). */
  maxInFlight?: number;
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
  /** Batches started while another was running (see pipelining above). */
  pipelinedBatches: number;
}

interface Pending<J, R> {
  job: J;
  resolve(result: R): void;
  reject(error: unknown): void;
  /** Its job's conflict keys, once asked for (a job kept waiting is asked again on each pump). */
  keys?: readonly string[];
}

/** A batch taken from the queue and not yet settled. */
interface Running<J, R> {
  batch: Pending<J, R>[];
  /** The conflict keys of its jobs, computed when a batch first wants to start beside it. */
  keys: Set<string> | null;
  /** Resolves (never rejects) once every job of the batch is resolved or rejected. */
  settled: Promise<void>;
}

export class GroupCommitter<J, R> {
  private readonly queue: Pending<J, R>[] = [];
  private readonly maxBatchRows: number;
  private readonly maxInFlight: number;
  /** Batches running, in the order they started (which is their commit order). */
  private readonly running: Running<J, R>[] = [];
  /** A pump is due at the next setImmediate. */
  private pumpScheduled = false;
  private closed = false;
  /** Set during an outage: the error that started it. */
  private outage: unknown = null;
  /** After close(timeout) gave up: jobs still waiting for the database are rejected. */
  private abandoned = false;
  /** Wakes the batches waiting out an outage's backoff. */
  private readonly wakeRetries = new Set<() => void>();
  private readonly counters: GroupCommitStats = {
    jobs: 0,
    batches: 0,
    transactions: 0,
    retriedBatches: 0,
    failedJobs: 0,
    largestBatch: 0,
    pipelinedBatches: 0,
  };

  constructor(private readonly options: GroupCommitOptions<J, R>) {
    this.maxBatchRows = options.maxBatchRows ?? 5000;
    this.maxInFlight = options.conflictKeysOf ? Math.max(1, options.maxInFlight ?? 1) : 1;
  }

  /** Resolves after the job's transaction commits; rejects with UnavailableError once closed. */
  submit(job: J): Promise<R> {
    if (this.closed) return Promise.reject(new UnavailableError("store is closed"));
    if (this.outage !== null && this.options.failFast?.(job)) return Promise.reject(new DatabaseUnavailableError(this.outage));
    this.counters.jobs++;
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.schedulePump();
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
        for (const wake of this.wakeRetries) wake();
      }, outageTimeoutMs);
    }
    for (;;) {
      if (this.running.length > 0) await Promise.all(this.running.map((r) => r.settled));
      else if (this.queue.length > 0 || this.pumpScheduled) await new Promise<void>((resolve) => setImmediate(resolve));
      else break;
    }
    clearTimeout(timer);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Yield once (setImmediate, not a timer) so that a burst of submissions made in the same turn
    // of the event loop, e.g. requests parsed from one socket read, lands in one batch.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts batches while there is work, room, and a head of the queue free of running rows. */
  private pump(): void {
    while (this.queue.length > 0 && this.hasRoom()) {
      const { batch, keys } = this.takeBatch();
      // The head names a row a running batch holds: it waits for that batch to settle (which pumps).
      if (batch.length === 0) return;
      this.start(batch, keys);
    }
  }

  private hasRoom(): boolean {
    if (this.running.length === 0) return true;
    return this.running.length < this.maxInFlight && this.outage === null;
  }

  private start(batch: Pending<J, R>[], keys: Set<string> | null): void {
    const predecessor = this.running.at(-1);
    if (predecessor) this.counters.pipelinedBatches++;
    const running: Running<J, R> = { batch, keys, settled: Promise.resolve() };
    running.settled = this.runBatch(batch, predecessor ? () => predecessor.settled : undefined)
      .catch((error: unknown) => {
        // runBatch answers every job itself; this is a last guard so that no caller hangs.
        for (const pending of batch) pending.reject(error);
      })
      .finally(() => {
        this.running.splice(this.running.indexOf(running), 1);
        this.pump();
      });
    this.running.push(running);
  }

  /**
   * The next batch: jobs from the head of the queue (order is kept: it stops at the first job that
   * may not go) up to maxBatchRows, and, beside running batches, none naming a row they name.
   */
  private takeBatch(): { batch: Pending<J, R>[]; keys: Set<string> | null } {
    const held = this.running.length > 0 ? this.runningKeys() : null;
    let rows = 0;
    let count = 0;
    const keys = held ? new Set<string>() : null;
    while (count < this.queue.length) {
      const job = this.queue[count].job;
      const next = this.options.rowsOf(job);
      if (count > 0 && rows + next > this.maxBatchRows) break;
      if (held && keys) {
        const jobKeys = this.conflictKeysOf(this.queue[count]);
        if (jobKeys.some((key) => held.some((set) => set.has(key)))) break;
        for (const key of jobKeys) keys.add(key);
      }
      rows += next;
      count++;
    }
    return { batch: this.queue.splice(0, count), keys };
  }

  /** The conflict keys of each running batch (computed once per batch). */
  private runningKeys(): Set<string>[] {
    return this.running.map((running) => (running.keys ??= this.keysOf(running.batch)));
  }

  private keysOf(batch: readonly Pending<J, R>[]): Set<string> {
    const keys = new Set<string>();
    for (const pending of batch) for (const key of this.conflictKeysOf(pending)) keys.add(key);
    return keys;
  }

  private conflictKeysOf(pending: Pending<J, R>): readonly string[] {
    pending.keys ??= this.options.conflictKeysOf!(pending.job);
    return pending.keys;
  }

  private async runBatch(batch: Pending<J, R>[], predecessor?: () => Promise<void>): Promise<void> {
    this.counters.batches++;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    let results: R[];
    try {
      results = await this.runWhileUnavailable(batch, predecessor);
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
          const [result] = await this.runTransaction([pending.job], predecessor);
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
  private async runWhileUnavailable(batch: Pending<J, R>[], predecessor?: () => Promise<void>): Promise<R[]> {
    for (let failures = 0; ; ) {
      try {
        const results = await this.runTransaction(
          batch.map((p) => p.job),
          predecessor,
        );
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
          const wake = () => {
            clearTimeout(timer);
            this.wakeRetries.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, this.options.retryDelayMs?.(failures) ?? Math.min(2000, 100 * 2 ** (failures - 1)));
          this.wakeRetries.add(wake);
        });
      }
    }
  }

  private runTransaction(jobs: J[], predecessor: (() => Promise<void>) | undefined): Promise<R[]> {
    this.counters.transactions++;
    return this.options.runBatch(jobs, predecessor);
  }

  private fail(pending: Pending<J, R>, error: unknown): void {
    this.counters.failedJobs++;
    pending.reject(error);
  }
}
