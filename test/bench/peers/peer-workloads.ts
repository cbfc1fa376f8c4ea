// The Taskgrid benches' work, done by a peer job queue through its PeerDriver: (a) unary submits
// in a closed loop with N in flight (submit.bench.ts), (b) a batched insert of no-op jobs drained
// by workers, one after the other and overlapping (e2e.bench.ts), (c) submits paced open loop at a
// fixed rate, timing submit call -> handler start (latency.bench.ts). Every measurement starts on
// emptied, vacuumed job tables.
import { BATCH, BATCHES_IN_FLIGHT } from "../e2e.bench.js";
import { pollUntil, quantile, sleep } from "../report.js";
import type { PeerDriver } from "./peer-driver.js";

const DRAIN_TIMEOUT_MS = 120_000;
/** How long a paced run waits after its last submit for the handlers to start the rest. */
const CATCH_UP_MS = 8000;

export interface UnaryRun {
  perSecond: number;
  failed: number;
}

/** Keeps `inFlight` single-job submits outstanding for `ms` after `warmupMs`; committed jobs per second. */
export async function peerUnary(driver: PeerDriver, inFlight: number, warmupMs: number, ms: number): Promise<UnaryRun> {
  await driver.reset();
  let seq = 0;
  const loop = async (stopAt: number) => {
    let acked = 0;
    let failed = 0;
    const worker = async () => {
      while (performance.now() < stopAt) {
        try {
          await driver.submitOne(seq++);
          acked++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return { acked, failed };
  };
  await loop(performance.now() + warmupMs);
  await driver.reset();
  const started = performance.now();
  const r = await loop(started + ms);
  return { perSecond: r.acked / ((performance.now() - started) / 1000), failed: r.failed };
}

export interface DrainRun {
  tasks: number;
  /** Until the last batch insert committed. */
  submitSeconds: number;
  /** First submit until every job is completed in the database. */
  seconds: number;
  perSecond: number;
}

async function insertAll(driver: PeerDriver, tasks: number): Promise<void> {
  let next = 0;
  const submitter = async () => {
    while (next < tasks) {
      const first = next;
      const n = Math.min(BATCH, tasks - first);
      next += n;
      await driver.submitBatch(first, n);
    }
  };
  await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, submitter));
}

/**
 * `overlap` false: insert every job, then start the workers and drain (the peers' usual bulk path);
 * true: workers already running while the batches go in (what Taskgrid's e2e does).
 */
export async function peerDrain(driver: PeerDriver, tasks: number, overlap: boolean): Promise<DrainRun> {
  await driver.reset();
  let started = 0;
  const onStart = () => void started++;
  if (overlap) await driver.startWorkers(onStart);
  const t0 = performance.now();
  await insertAll(driver, tasks);
  const submitSeconds = (performance.now() - t0) / 1000;
  if (!overlap) await driver.startWorkers(onStart);
  // Handlers started for all; then the database confirms every job's completion was recorded.
  const done = (await pollUntil(() => started >= tasks, DRAIN_TIMEOUT_MS, 5)) && (await pollUntil(async () => (await driver.unfinished()) === 0, 30_000, 5));
  const seconds = (performance.now() - t0) / 1000;
  await driver.stopWorkers();
  if (!done) throw new Error(`${driver.name}: ${started} of ${tasks} jobs started, ${await driver.unfinished()} unfinished after the drain timeout`);
  return { tasks, submitSeconds, seconds, perSecond: tasks / seconds };
}

export interface LatencyRun {
  rate: number;
  /** Submit call -> handler start, ms, per job that started (sorted). */
  startMs: number[];
  /** Jobs that never started within the drain timeout, or whose submit failed. */
  missing: number;
  /** Every job started and p99 <= SUSTAINED_P99_MS (the queue kept up with the rate). */
  sustained: boolean;
  /** Jobs started per second, first scheduled submit to last handler start. */
  startedPerSecond: number;
}

/** A rate counts as sustained when p99 stays under this (a growing backlog takes it far past). */
export const SUSTAINED_P99_MS = 1000;

/** Sends `rate`/s single-job submits on schedule for `seconds` (open loop); times each to its handler's start. */
export async function peerLatency(driver: PeerDriver, rate: number, warmupS: number, seconds: number): Promise<LatencyRun> {
  await driver.reset();
  const startedAt = new Map<number, number>();
  await driver.startWorkers((seq) => startedAt.set(seq, performance.now()), true);
  try {
    await openLoop(driver, rate, warmupS, 0, startedAt, 0);
    await driver.reset();
    const base = rate * warmupS;
    const { scheduled, failed } = await openLoop(driver, rate, seconds, base, startedAt, CATCH_UP_MS);
    const startMs: number[] = [];
    let first = Infinity;
    let last = -Infinity;
    for (const [seq, at] of scheduled) {
      first = Math.min(first, at);
      const got = startedAt.get(seq);
      if (got === undefined) continue;
      startMs.push(got - at);
      last = Math.max(last, got);
    }
    startMs.sort((a, b) => a - b);
    const missing = scheduled.size - startMs.length + failed;
    const startedPerSecond = startMs.length / Math.max(0.001, (last - first) / 1000);
    return { rate, startMs, missing, sustained: missing === 0 && quantile(startMs, 0.99) <= SUSTAINED_P99_MS, startedPerSecond };
  } finally {
    await driver.stopWorkers();
  }
}

async function openLoop(driver: PeerDriver, rate: number, seconds: number, firstSeq: number, startedAt: Map<number, number>, catchUpMs: number) {
  const total = Math.round(rate * seconds);
  const scheduled = new Map<number, number>();
  const pending: Promise<void>[] = [];
  let failed = 0;
  const t0 = performance.now() + 5;
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const seq = firstSeq + sent;
      scheduled.set(seq, t0 + (sent * 1000) / rate);
      pending.push(driver.submitOne(seq, true).catch(() => void failed++));
    }
    await sleep(1);
  }
  await Promise.all(pending);
  // A queue that fell behind gets a bounded time to catch up; what is still missing then counts as missing.
  await pollUntil(() => [...scheduled.keys()].every((seq) => startedAt.has(seq)), catchUpMs, 20);
  return { scheduled, failed };
}
