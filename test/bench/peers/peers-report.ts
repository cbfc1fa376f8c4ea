// The "Taskgrid beside pg-boss and graphile-worker" section: one table per workload (medians over
// the rounds, ratios Taskgrid / peer, DESIGN §8's targets), every run, and the method: what each
// side does per task.
import type { BenchEnv, BenchResult } from "../bench-module.js";
import { num, tableMarkdown, tableText, verdict, type Table } from "../report.js";
import type { PeerDriver } from "./peer-driver.js";
import { SUSTAINED_P99_MS } from "./peer-workloads.js";
import { median } from "../report.js";
import type { RunLog, Side } from "./run-log.js";

export interface PeersConfig {
  quick: boolean;
  rounds: number;
  levels: number[];
  unaryWarmupMs: number;
  unaryMs: number;
  e2eTasks: number;
  e2eWarmupTasks: number;
  taskgridRate: number;
  peerRates: number[];
  latencyWarmupS: number;
  latencyS: number;
}

const PEERS: Side[] = ["pg-boss", "graphile-worker"];
const UNARY_TARGET = 4500;
const UNARY_RATIO = 3;
const E2E_TARGET = 15_000;
const E2E_RATIO = 1.2;
const P99_TARGET_MS = 25;

const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "-");
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");

function unaryTable(c: PeersConfig, runs: RunLog): Table {
  return {
    header: ["calls in flight", "Taskgrid tasks/s", "pg-boss", "graphile-worker", "Taskgrid / pg-boss", "Taskgrid / graphile-worker", "target", "verdict"],
    rows: c.levels.map((n) => {
      const [tg, pb, gw] = (["Taskgrid", "pg-boss", "graphile-worker"] as Side[]).map((s) => runs.median(`unary ${n}`, s));
      return [
        String(n),
        num(tg),
        num(pb),
        num(gw),
        ratio(tg, pb),
        ratio(tg, gw),
        `>= ${UNARY_RATIO}x pg-boss and >= ${num(UNARY_TARGET)}/s`,
        verdict(tg >= UNARY_RATIO * pb && tg >= UNARY_TARGET),
      ];
    }),
  };
}

function e2eTable(runs: RunLog): { table: Table; better: string } {
  const m = (measure: string, side: Side) => runs.median(`e2e ${measure}`, side);
  // The better peer, each at its better variant (work overlapping or apart): the strictest yardstick.
  const best = PEERS.map((side) => ({ side, perSecond: Math.max(m("overlapping", side), m("apart", side)) })).sort((a, b) => b.perSecond - a.perSecond)[0];
  const tg = m("overlapping", "Taskgrid");
  const row = (label: string, tgValue: number, measure: string, target = "", verdictText = "") => [
    label,
    num(tgValue),
    num(m(measure, "pg-boss")),
    num(m(measure, "graphile-worker")),
    ratio(tgValue, m(measure, "pg-boss")),
    ratio(tgValue, m(measure, "graphile-worker")),
    target,
    verdictText,
  ];
  return {
    better: `${best.side} at ${num(best.perSecond)}/s`,
    table: {
      header: ["work", "Taskgrid tasks/s", "pg-boss", "graphile-worker", "Taskgrid / pg-boss", "Taskgrid / graphile-worker", "target", "verdict"],
      rows: [
        row(
          "submit and run, overlapping",
          tg,
          "overlapping",
          `>= ${E2E_RATIO}x the better peer (${best.side}, ${num(best.perSecond)}/s) and >= ${num(E2E_TARGET)}/s`,
          verdict(tg >= E2E_RATIO * best.perSecond && tg >= E2E_TARGET),
        ),
        row("insert all, then drain (peers; Taskgrid's overlapping figure beside it)", tg, "apart"),
        row("insert phase alone (Taskgrid: its submit phase, overlapping the runs)", m("insert", "Taskgrid"), "insert"),
        row("drain phase alone (peers)", NaN, "drain"),
      ],
    },
  };
}

function latencyTable(c: PeersConfig, runs: RunLog): Table {
  const m = (rate: number, what: string, side: Side) => runs.median(`latency ${rate} ${what}`, side);
  const sustained = (rate: number, side: Side) => m(rate, "sustained", side) >= 0.5; // the majority of rounds
  const cell = (rate: number, side: Side) => {
    const p99 = m(rate, "p99", side);
    if (!Number.isFinite(p99)) return "-";
    const started = m(rate, "started/s", side);
    const extra =
      side === "Taskgrid"
        ? ""
        : sustained(rate, side)
          ? " (sustained)"
          : ` (not sustained: ${num(started)}/s started, ${num(m(rate, "missing", side))} missing)`;
    return `${ms(m(rate, "p50", side))} / ${ms(p99)}${extra}`;
  };
  const tgP99 = m(c.taskgridRate, "p99", "Taskgrid");
  const rates = [...new Set([...c.peerRates, c.taskgridRate])].sort((a, b) => a - b);
  // At one rate: Taskgrid's p99 against a peer's that sustained it (Taskgrid runs every rate).
  const ratioAt = (rate: number, side: Side) => (sustained(rate, side) ? ratio(m(rate, "p99", "Taskgrid"), m(rate, "p99", side)) : "");
  const belowAt = (rate: number, side: Side) => !sustained(rate, side) || m(rate, "p99", "Taskgrid") < m(rate, "p99", side);
  const rows = rates.map((rate) => {
    const below = PEERS.every((side) => belowAt(rate, side));
    return [
      `${num(rate)}/s`,
      cell(rate, "Taskgrid"),
      cell(rate, "pg-boss"),
      cell(rate, "graphile-worker"),
      ratioAt(rate, "pg-boss"),
      ratioAt(rate, "graphile-worker"),
      rate === c.taskgridRate ? `p99 <= ${P99_TARGET_MS} ms; below each peer that sustains it` : "below each peer that sustains it",
      rate === c.taskgridRate ? verdict(tgP99 <= P99_TARGET_MS && below) : verdict(below),
    ];
  });
  // Each peer at the highest rate it sustains.
  const top = PEERS.map((side) => {
    const ok = c.peerRates.filter((rate) => sustained(rate, side));
    const highest = ok.at(-1);
    return { side, highest, p99: highest === undefined ? NaN : m(highest, "p99", side) };
  });
  const below = rates.every((rate) => PEERS.every((side) => belowAt(rate, side)));
  const peerCell = (t: (typeof top)[number]) => (t.highest === undefined ? "no rate sustained" : `${ms(t.p99)} at ${num(t.highest)}/s`);
  rows.push([
    "each peer at the highest rate it sustains",
    `${ms(tgP99)} at ${num(c.taskgridRate)}/s`,
    peerCell(top[0]),
    peerCell(top[1]),
    ratio(tgP99, top[0].p99),
    ratio(tgP99, top[1].p99),
    `p99 <= ${P99_TARGET_MS} ms at ${num(c.taskgridRate)}/s and below each peer's p99 at every rate it sustains`,
    verdict(tgP99 <= P99_TARGET_MS && below && m(c.taskgridRate, "missing", "Taskgrid") === 0),
  ]);
  return {
    header: [
      "rate",
      "Taskgrid p50 / p99 ms",
      "pg-boss p50 / p99 ms",
      "graphile-worker p50 / p99 ms",
      "Taskgrid / pg-boss p99",
      "Taskgrid / graphile-worker p99",
      "target",
      "verdict",
    ],
    rows,
  };
}

function eachRunTable(c: PeersConfig, runs: RunLog): Table {
  const rows: string[][] = [];
  for (const [measure, side, values] of runs.entries()) {
    // Missing counts and sustained flags are summed up in the latency table; Taskgrid has no started/s.
    if (/ (missing|sustained)$/.test(measure) || values.every((v) => !Number.isFinite(v))) continue;
    const f = measure.startsWith("latency") && !measure.endsWith("started/s") ? ms : num;
    rows.push([measure, side, ...Array.from({ length: c.rounds }, (_, i) => f(values[i])), f(median(values))]);
  }
  return { header: ["figure", "side", ...Array.from({ length: c.rounds }, (_, i) => `round ${i + 1}`), "median"], rows };
}

export function peersReport(env: BenchEnv, c: PeersConfig, runs: RunLog, peers: PeerDriver[], host: string): BenchResult {
  const unary = unaryTable(c, runs);
  const e2e = e2eTable(runs);
  const latency = latencyTable(c, runs);
  const each = eachRunTable(c, runs);
  const versions = peers.map((p) => `${p.name} ${p.version}`).join(", ");
  const settings = peers.map((p) => `${p.name}: ${p.settings}`).join("; ");
  const text = [
    "Unary submits (medians)",
    tableText(unary),
    "",
    "Submit and run (medians)",
    tableText(e2e.table),
    "",
    "Submit -> start latency (medians)",
    tableText(latency),
    "",
    "Each run",
    tableText(each),
  ].join("\n");
  const markdown = [
    `Measured ${env.date} on ${env.machine}, Postgres ${host}, ${versions}; ${c.rounds} round${c.rounds === 1 ? "" : "s"}${c.quick ? " (quick smoke run: TASKGRID_PEERS_QUICK=1, shorter runs, figures not comparable)" : ""}.`,
    "",
    "Method: `npm run bench -- peers` (test/bench/peers/). All three sides run on the same Postgres in the same run, each in a database of its own " +
      "(created at the start, dropped at the end). In every round each workload runs on the three sides one after the other (the side that goes first " +
      "rotates from round to round); figures are medians over the rounds, every run is listed below. The peers' job tables are emptied (TRUNCATE) and " +
      "VACUUM ANALYZEd before every measurement (autovacuum is off here); Taskgrid runs on a fresh database and a fresh master each time, with the " +
      "warm-up of its own bench. The peers are libraries: their producer and their workers run in the benchmark's process (as Taskgrid's client and " +
      "fake agents do), and Postgres is their only server; Taskgrid has a master process between the two. The benchmark's process runs with the " +
      "same node flags as Taskgrid's master (`--max-semi-space-size=64`, bin/taskgrid.js's shebang; `npm run bench` passes it), so the peers' workers get the same young-generation cap.",
    "",
    `- Unary submits (submit.bench.ts): N calls in flight (closed loop) for ${c.unaryMs / 1000} s after a ${c.unaryWarmupMs / 1000} s warm-up; a submit counts once committed. ` +
      "Taskgrid: one `SubmitTask` gRPC call per task; the master writes the task row (its QUEUED event is derived from it), and many calls share one group-commit " +
      "transaction (one round trip per transaction: BEGIN, the statements (prepared, their rows one json parameter) and COMMIT written at once), sent by a lean HTTP/2 client (test/bench/load/raw-unary.ts; " +
      "TASKGRID_BENCH_CLIENT=grpc-js for grpc-js's). pg-boss: one `send()` per job, one INSERT of one job row in its own " +
      "transaction (one round trip, one commit per job). graphile-worker: one `addJob()` per job, one `add_job()` call (one job row, a NOTIFY; one " +
      "round trip, one commit per job). No workers run (Taskgrid: no agents, tasks stay QUEUED).",
    `- Submit and run (e2e.bench.ts): ${num(c.e2eTasks)} no-op tasks inserted in batches of 1,000 with 4 batches in flight, after a warm-up of ${num(c.e2eWarmupTasks)}. ` +
      "Taskgrid: `SubmitTasks` batches; placement, assignment over 16 fake agent streams that answer at once, started/finished reports, result " +
      "commits; done when the database holds every task SUCCEEDED; per task it writes the task row (inserted, then updated at assignment and at its " +
      "end: a start and an end read in one turn commit as one write), an attempt row (inserted, then updated once) and no event row (its events " +
      "are derived from these rows), in group commits. pg-boss: `insert()` per batch (one INSERT of 1,000 rows, one commit); `work()` fetches " +
      "batches (one UPDATE ... SKIP LOCKED per batch) and completes each batch with one UPDATE after the handler resolves; per job one row inserted " +
      "and updated twice. graphile-worker: `addJobs()` per batch (one `add_jobs()` call, one commit, one NOTIFY); the runner's local queue locks up " +
      "to 500 jobs per query and completed jobs are deleted in batches; per job one row inserted, updated (locked) and deleted. Peers are measured " +
      "two ways: all inserted first and then drained (their usual bulk path), and with workers running while the batches go in (what Taskgrid's run does). " +
      "Done = every handler started and the database shows no unfinished job. The target compares Taskgrid with the better peer at its better variant.",
    `- Submit -> start latency (latency.bench.ts): single submits sent open loop on a fixed schedule for ${c.latencyS} s after a ${c.latencyWarmupS} s warm-up ` +
      `(every side at ${c.peerRates.map((r) => `${num(r)}/s`).join(", ")}; the absolute target is at ${num(c.taskgridRate)}/s, and at each rate a peer sustains Taskgrid's p99 is compared with the peer's at that same rate); latency = handler start (Taskgrid: ` +
      "assignment arrival at the fake agent) - the submit's scheduled send time, one process and one clock. A peer sustains a rate when every job " +
      `started and p99 <= ${num(SUSTAINED_P99_MS)} ms in the majority of rounds; "started/s" is jobs started per second up to the last start. ` +
      `Above the first rate a peer does not sustain in a round, only ${num(c.taskgridRate)}/s still runs for it ("-" in each run).`,
    "",
    `Settings (their documented ones for throughput and latency): ${settings}.`,
    "",
    "Ratios are Taskgrid / peer: above 1 Taskgrid is faster for throughput; for latency below 1 Taskgrid is faster.",
    "",
    "Unary submits, tasks/s (medians):",
    "",
    tableMarkdown(unary),
    "",
    "Submit and run, tasks/s (medians):",
    "",
    tableMarkdown(e2e.table),
    "",
    "Submit -> start latency, p50 / p99 ms (medians):",
    "",
    tableMarkdown(latency),
    "",
    "Each run:",
    "",
    tableMarkdown(each),
    "",
    "Targets (DESIGN §8): unary submits >= 3x pg-boss and >= 4,500/s; end to end >= 1.2x the better peer's submit-and-run on the same tasks and " +
      ">= 15,000/s; submit->start p99 <= 25 ms at 1,000/s and below both peers' at any rate they sustain.",
  ].join("\n");
  return { text, markdown };
}
