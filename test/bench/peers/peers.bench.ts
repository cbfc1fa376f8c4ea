// `npm run bench -- peers`: Taskgrid beside pg-boss and graphile-worker on the same Postgres in the
// same run, doing the same work as the submit, e2e and latency benches (see peer-workloads.ts for
// the peers' side, and the exported measure* functions of those benches for Taskgrid's). Rounds
// alternate the three sides for each workload (the order rotates each round) and the report gives
// medians and every run. TASKGRID_PEERS_QUICK=1 is a smoke run (one short round);
// TASKGRID_PEERS_ROUNDS=N sets the number of rounds.
import { benchAdminUrl } from "../bench-db.js";
import type { BenchEnv, BenchModule, BenchResult } from "../bench-module.js";
import { measureE2e } from "../e2e.bench.js";
import { measureLatency } from "../latency.bench.js";
import { quantile } from "../report.js";
import { LEVELS, measureSubmits } from "../submit.bench.js";
import { startGraphileWorker } from "./graphile-worker-driver.js";
import type { PeerDriver } from "./peer-driver.js";
import { peerDrain, peerLatency, peerUnary, SUSTAINED_P99_MS } from "./peer-workloads.js";
import { startPgBoss } from "./pg-boss-driver.js";
import { peersReport, type PeersConfig } from "./peers-report.js";
import { RunLog, SIDES, type Side } from "./run-log.js";

const QUICK = process.env.TASKGRID_PEERS_QUICK === "1";

const config: PeersConfig = {
  quick: QUICK,
  rounds: Number(process.env.TASKGRID_PEERS_ROUNDS ?? (QUICK ? 1 : 3)),
  levels: LEVELS,
  unaryWarmupMs: QUICK ? 500 : 1000,
  unaryMs: QUICK ? 2000 : 4000,
  e2eTasks: QUICK ? 5000 : 20_000,
  e2eWarmupTasks: QUICK ? 1000 : 3000,
  taskgridRate: 1000,
  peerRates: QUICK ? [250, 1000] : [100, 250, 500, 1000],
  latencyWarmupS: 1,
  latencyS: QUICK ? 2 : 4,
};

/** Runs `fn` once per side, starting at a different side each round so no side always goes first. */
async function alternate(round: number, fn: (side: Side) => Promise<void>): Promise<void> {
  for (let i = 0; i < SIDES.length; i++) await fn(SIDES[(round + i) % SIDES.length]);
}

const log = (line: string): void => void process.stdout.write(`  ${line}\n`);

async function unaryRound(round: number, peers: Map<Side, PeerDriver>, runs: RunLog): Promise<void> {
  await alternate(round, async (side) => {
    if (side === "Taskgrid") {
      const { rows } = await measureSubmits(config.levels, config.unaryWarmupMs, config.unaryMs);
      for (const r of rows) runs.add(`unary ${r.inFlight}`, side, r.perSecond);
    } else {
      for (const inFlight of config.levels) {
        const r = await peerUnary(peers.get(side)!, inFlight, config.unaryWarmupMs, config.unaryMs);
        if (r.failed) log(`${side}: ${r.failed} submits failed`);
        runs.add(`unary ${inFlight}`, side, r.perSecond);
      }
    }
    log(`round ${round + 1} unary ${side}: ${config.levels.map((n) => Math.round(runs.values(`unary ${n}`, side).at(-1)!)).join(", ")} tasks/s`);
  });
}

async function e2eRound(round: number, peers: Map<Side, PeerDriver>, runs: RunLog): Promise<void> {
  await alternate(round, async (side) => {
    if (side === "Taskgrid") {
      const { run } = await measureE2e(config.e2eTasks, config.e2eWarmupTasks);
      runs.add("e2e overlapping", side, run.tasks / run.seconds);
      runs.add("e2e insert", side, run.tasks / run.submitSeconds);
    } else {
      const driver = peers.get(side)!;
      await peerDrain(driver, config.e2eWarmupTasks, true); // Warm-up, as Taskgrid's side has.
      const apart = await peerDrain(driver, config.e2eTasks, false);
      runs.add("e2e apart", side, apart.perSecond);
      runs.add("e2e insert", side, apart.tasks / apart.submitSeconds);
      runs.add("e2e drain", side, apart.tasks / (apart.seconds - apart.submitSeconds));
      const overlapping = await peerDrain(driver, config.e2eTasks, true);
      runs.add("e2e overlapping", side, overlapping.perSecond);
    }
    const apart = runs.values("e2e apart", side).at(-1);
    log(
      `round ${round + 1} e2e ${side}: ${Math.round(runs.values("e2e overlapping", side).at(-1)!)} tasks/s overlapping${apart ? `, ${Math.round(apart)} apart` : ""}`,
    );
  });
}

async function latencyRound(round: number, peers: Map<Side, PeerDriver>, runs: RunLog): Promise<void> {
  await alternate(round, async (side) => {
    if (side === "Taskgrid") {
      // Every rate the peers run, so that each comparison is at one rate (DESIGN §8: "below both
      // peers at any rate they sustain"); the target itself is at taskgridRate.
      for (const rate of latencyRates()) {
        const { phase } = await measureLatency(rate, config.latencyWarmupS, config.latencyS);
        record(runs, side, rate, phase.startMs, phase.missing + phase.failed);
      }
    } else {
      // Rates go up; above the first one a peer does not sustain, only Taskgrid's own rate still runs
      // (a backlog run costs the most time and says little more). A skipped rate counts as not sustained.
      let fellBehind = false;
      for (const rate of config.peerRates) {
        if (fellBehind && rate !== config.taskgridRate) {
          record(runs, side, rate, [], NaN);
          continue;
        }
        const r = await peerLatency(peers.get(side)!, rate, config.latencyWarmupS, config.latencyS);
        record(runs, side, rate, r.startMs, r.missing, r.startedPerSecond);
        fellBehind ||= !r.sustained;
      }
    }
  });
}

/** The peers' rates and Taskgrid's own, ascending. */
function latencyRates(): number[] {
  return [...new Set([...config.peerRates, config.taskgridRate])].sort((a, b) => a - b);
}

function record(runs: RunLog, side: Side, rate: number, startMs: number[], missing: number, startedPerSecond = NaN): void {
  const p99 = quantile(startMs, 0.99);
  runs.add(`latency ${rate} p50`, side, quantile(startMs, 0.5));
  runs.add(`latency ${rate} p99`, side, p99);
  runs.add(`latency ${rate} missing`, side, missing);
  runs.add(`latency ${rate} started/s`, side, startedPerSecond);
  runs.add(`latency ${rate} sustained`, side, missing === 0 && p99 <= SUSTAINED_P99_MS ? 1 : 0);
  if (startMs.length === 0) {
    log(`latency ${side} at ${rate}/s: skipped (a lower rate was not sustained)`);
    return;
  }
  log(`latency ${side} at ${rate}/s: p50 ${quantile(startMs, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ${missing} missing`);
}

export const peersBench: BenchModule = {
  name: "peers",
  section: "Taskgrid beside pg-boss and graphile-worker",
  async run(env: BenchEnv): Promise<BenchResult> {
    const adminUrl = benchAdminUrl();
    if (!adminUrl) throw new Error("the peers benchmark needs Postgres (TASKGRID_BENCH_PG_URL)");
    const peers = new Map<Side, PeerDriver>();
    const runs = new RunLog();
    try {
      peers.set("pg-boss", await startPgBoss(adminUrl));
      peers.set("graphile-worker", await startGraphileWorker(adminUrl));
      for (let round = 0; round < config.rounds; round++) {
        await unaryRound(round, peers, runs);
        await e2eRound(round, peers, runs);
        await latencyRound(round, peers, runs);
      }
    } finally {
      for (const driver of peers.values()) await driver.close();
    }
    return peersReport(env, config, runs, [...peers.values()], new URL(adminUrl).host);
  },
};
