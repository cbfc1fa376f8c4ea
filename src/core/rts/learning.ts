// What RTS learns from finished attempts (DESIGN §3, "tau store"), kept in memory as plain data so
// the master can persist it and the simulator can replay it. Pure: every method takes the time it
// needs (`nowMs`); nothing here reads a clock or does I/O.
//
// - LearningTable: per (kind, worker) EWMA of actual/estimated runtime, success/failure counts
//   (the Beta prior is applied by the S factor), EWMA of the absolute relative prediction error;
//   plus per-kind totals of those counts over all workers, derived in memory (not persisted), which
//   S compares each worker against.
// - PenaltyTable: per worker, an exponentially decayed count of recent SLA misses and failures.
// - RecentKinds: per worker, which kinds it ran recently (warm caches), for the affinity bonus.

/** EWMA smoothing factor of the runtime ratio and of the prediction error. */
export const RUNTIME_RATIO_ALPHA = 0.3;
/** Runtime-ratio samples are clamped to this range so one wild outlier cannot poison the row. */
export const MIN_RUNTIME_RATIO = 0.01;
export const MAX_RUNTIME_RATIO = 100;
/** Default half-life of a penalty (SLA miss or failure). */
export const DEFAULT_PENALTY_HALF_LIFE_MS = 10 * 60_000;
/** Default half-life of the "recently ran this kind" warmth. */
export const DEFAULT_WARMTH_HALF_LIFE_MS = 5 * 60_000;
/** Kinds remembered per worker by RecentKinds (least recently run forgotten first). */
export const DEFAULT_KINDS_PER_WORKER = 16;

export interface LearningStats {
  kind: string;
  workerId: string;
  /** EWMA of actual / estimated runtime (1 = estimates are right; 2 = this worker takes twice as long). */
  runtimeRatio: number;
  successes: number;
  failures: number;
  /**
   * EWMA of |actual - predicted| / predicted, predicted = estimate x runtimeRatio before the update.
   * Starts at 0 (prior: the estimate is right), like runtimeRatio starts at 1.
   */
  predictionError: number;
  /** Attempts recorded (successes + failures). */
  samples: number;
  updatedAtMs: number;
}

/** Successes and failures of one kind summed over all its workers' rows. */
export interface KindTotals {
  successes: number;
  failures: number;
}

export interface AttemptObservation {
  kind: string;
  workerId: string;
  succeeded: boolean;
  actualMs: number;
  estimateMs: number;
  nowMs: number;
}

const finiteOr = (x: number, fallback: number): number => (Number.isFinite(x) ? x : fallback);

function freshStats(kind: string, workerId: string, nowMs: number): LearningStats {
  return { kind, workerId, runtimeRatio: 1, successes: 0, failures: 0, predictionError: 0, samples: 0, updatedAtMs: nowMs };
}

export class LearningTable {
  /** kind -> workerId -> stats. Nested maps: the scorer looks the kind up once per task. */
  private readonly byKind = new Map<string, Map<string, LearningStats>>();
  /**
   * kind -> sums of its rows' counts, kept in step by record() and load() so the scorer reads them
   * in O(1) per task (summing every worker's row per decision would cost O(workers)). Derived, so
   * the persisted rows stay the only state.
   */
  private readonly totals = new Map<string, KindTotals>();

  constructor(readonly alpha = RUNTIME_RATIO_ALPHA) {}

  get(kind: string, workerId: string): Readonly<LearningStats> | undefined {
    return this.byKind.get(kind)?.get(workerId);
  }

  /** All rows of one kind (workerId -> stats), for a scorer that evaluates many workers. */
  forKind(kind: string): ReadonlyMap<string, Readonly<LearningStats>> | undefined {
    return this.byKind.get(kind);
  }

  /** Successes and failures of the kind over all workers (undefined when no worker has a row). */
  kindTotals(kind: string): Readonly<KindTotals> | undefined {
    return this.totals.get(kind);
  }

  get size(): number {
    let n = 0;
    for (const m of this.byKind.values()) n += m.size;
    return n;
  }

  /**
   * Folds one finished attempt in and returns a copy of the updated row (to persist). The runtime
   * ratio and the prediction error only move on a success with a positive estimate (a failure's
   * runtime says nothing about how long the work takes).
   */
  record(input: AttemptObservation): LearningStats {
    let rows = this.byKind.get(input.kind);
    if (!rows) this.byKind.set(input.kind, (rows = new Map()));
    let row = rows.get(input.workerId);
    if (!row) rows.set(input.workerId, (row = freshStats(input.kind, input.workerId, input.nowMs)));

    const totals = this.totalsOf(input.kind);
    if (input.succeeded) {
      row.successes++;
      totals.successes++;
    } else {
      row.failures++;
      totals.failures++;
    }
    if (input.succeeded && input.estimateMs > 0 && Number.isFinite(input.estimateMs) && Number.isFinite(input.actualMs) && input.actualMs >= 0) {
      const sample = Math.min(MAX_RUNTIME_RATIO, Math.max(MIN_RUNTIME_RATIO, input.actualMs / input.estimateMs));
      const predicted = input.estimateMs * row.runtimeRatio;
      const error = Math.min(MAX_RUNTIME_RATIO, Math.abs(input.actualMs - predicted) / predicted);
      row.predictionError = (1 - this.alpha) * row.predictionError + this.alpha * error;
      row.runtimeRatio = (1 - this.alpha) * row.runtimeRatio + this.alpha * sample;
    }
    row.samples++;
    row.updatedAtMs = input.nowMs;
    return { ...row };
  }

  /** Replaces the rows it is given (e.g. loaded from the database at start). Bad numbers are repaired. */
  load(rows: readonly LearningStats[]): void {
    for (const r of rows) {
      let m = this.byKind.get(r.kind);
      if (!m) this.byKind.set(r.kind, (m = new Map()));
      const successes = Math.max(0, finiteOr(r.successes, 0));
      const failures = Math.max(0, finiteOr(r.failures, 0));
      const totals = this.totalsOf(r.kind);
      const replaced = m.get(r.workerId);
      // Clamped at 0: float sums of non-integer counts must not leave a tiny negative residue.
      totals.successes = Math.max(0, totals.successes - (replaced?.successes ?? 0) + successes);
      totals.failures = Math.max(0, totals.failures - (replaced?.failures ?? 0) + failures);
      m.set(r.workerId, {
        kind: r.kind,
        workerId: r.workerId,
        runtimeRatio: Math.min(MAX_RUNTIME_RATIO, Math.max(MIN_RUNTIME_RATIO, finiteOr(r.runtimeRatio, 1))),
        successes,
        failures,
        predictionError: Math.max(0, finiteOr(r.predictionError, 0)),
        samples: Math.max(0, finiteOr(r.samples, successes + failures)),
        updatedAtMs: finiteOr(r.updatedAtMs, 0),
      });
    }
  }

  private totalsOf(kind: string): KindTotals {
    let t = this.totals.get(kind);
    if (!t) this.totals.set(kind, (t = { successes: 0, failures: 0 }));
    return t;
  }

  /** Every row (copies), e.g. for a full snapshot. */
  rows(): LearningStats[] {
    const out: LearningStats[] = [];
    for (const m of this.byKind.values()) for (const r of m.values()) out.push({ ...r });
    return out;
  }
}

/** 2^(-elapsed/halfLife), 1 for elapsed <= 0 (a clock that went backwards decays nothing). */
export function decayFactor(elapsedMs: number, halfLifeMs: number): number {
  if (!(elapsedMs > 0)) return 1;
  if (!(halfLifeMs > 0)) return 0;
  return Math.exp((-Math.LN2 * elapsedMs) / halfLifeMs);
}

export interface PenaltyEntry {
  workerId: string;
  /** Decayed count as of `atMs`. */
  score: number;
  atMs: number;
}

/**
 * Per-worker decayed count of SLA misses and failures. count(t) = score x 2^(-(t - atMs)/halfLife);
 * value = 1 - exp(-count / 2), so one fresh miss gives 0.39, two 0.63, four 0.86, saturating at 1.
 */
export class PenaltyTable {
  private readonly entries = new Map<string, PenaltyEntry>();

  constructor(readonly halfLifeMs = DEFAULT_PENALTY_HALF_LIFE_MS) {}

  /** Adds `weight` (default 1: one SLA miss or failure) to the worker's decayed count. */
  record(workerId: string, nowMs: number, weight = 1): void {
    const w = Number.isFinite(weight) && weight > 0 ? weight : 0;
    const e = this.entries.get(workerId);
    const current = e ? e.score * decayFactor(nowMs - e.atMs, this.halfLifeMs) : 0;
    this.entries.set(workerId, { workerId, score: current + w, atMs: e ? Math.max(e.atMs, nowMs) : nowMs });
  }

  /** Decayed count at `nowMs` (0 when none). */
  count(workerId: string, nowMs: number): number {
    const e = this.entries.get(workerId);
    return e ? e.score * decayFactor(nowMs - e.atMs, this.halfLifeMs) : 0;
  }

  /** Penalty in [0,1]: 1 - exp(-count/2). */
  value(workerId: string, nowMs: number): number {
    const c = this.count(workerId, nowMs);
    if (!(c > 0)) return 0;
    const v = 1 - Math.exp(-c / 2);
    return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 1;
  }

  /** Entries to persist; those decayed below 0.001 are dropped. */
  snapshot(nowMs?: number): PenaltyEntry[] {
    const out: PenaltyEntry[] = [];
    for (const e of this.entries.values()) {
      if (nowMs === undefined) out.push({ ...e });
      else {
        const score = this.count(e.workerId, nowMs);
        if (score >= 0.001) out.push({ workerId: e.workerId, score, atMs: Math.max(e.atMs, nowMs) });
      }
    }
    return out;
  }

  load(entries: readonly PenaltyEntry[]): void {
    for (const e of entries) {
      if (!Number.isFinite(e.score) || e.score <= 0 || !Number.isFinite(e.atMs)) continue;
      this.entries.set(e.workerId, { workerId: e.workerId, score: e.score, atMs: e.atMs });
    }
  }

  forget(workerId: string): void {
    this.entries.delete(workerId);
  }
}

/**
 * Which kinds each worker ran recently. warmth = 2^(-(now - lastRun)/halfLife) in [0,1]; the kind
 * "" (unset) is never warm. Bounded: at most `perWorker` kinds per worker, least recent dropped.
 */
export class RecentKinds {
  /** kind -> workerId -> last run (the scorer looks a kind up once per task, then once per worker). */
  private readonly byKind = new Map<string, Map<string, number>>();
  /** workerId -> its kinds, least recently run first (for the per-worker bound). */
  private readonly byWorker = new Map<string, string[]>();

  constructor(
    readonly halfLifeMs = DEFAULT_WARMTH_HALF_LIFE_MS,
    readonly perWorker = DEFAULT_KINDS_PER_WORKER,
  ) {}

  record(workerId: string, kind: string, nowMs: number): void {
    if (kind === "" || !Number.isFinite(nowMs)) return;
    let workers = this.byKind.get(kind);
    if (!workers) this.byKind.set(kind, (workers = new Map()));
    const previous = workers.get(workerId);
    workers.set(workerId, previous === undefined ? nowMs : Math.max(previous, nowMs));
    let kinds = this.byWorker.get(workerId);
    if (!kinds) this.byWorker.set(workerId, (kinds = []));
    const at = kinds.indexOf(kind);
    if (at >= 0) kinds.splice(at, 1);
    kinds.push(kind);
    while (kinds.length > this.perWorker) {
      const dropped = kinds.shift()!;
      const m = this.byKind.get(dropped);
      m?.delete(workerId);
      if (m && m.size === 0) this.byKind.delete(dropped);
    }
  }

  /** 2^(-(now - last run)/halfLife) in [0,1]; 0 when the worker has not run the kind (or kind is ""). */
  warmth(workerId: string, kind: string, nowMs: number): number {
    if (kind === "") return 0;
    const at = this.byKind.get(kind)?.get(workerId);
    if (at === undefined) return 0;
    return decayFactor(nowMs - at, this.halfLifeMs);
  }

  /** Kinds the worker ran, least recent first. */
  kindsOf(workerId: string): string[] {
    return [...(this.byWorker.get(workerId) ?? [])];
  }

  forget(workerId: string): void {
    for (const kind of this.byWorker.get(workerId) ?? []) {
      const m = this.byKind.get(kind);
      m?.delete(workerId);
      if (m && m.size === 0) this.byKind.delete(kind);
    }
    this.byWorker.delete(workerId);
  }
}
