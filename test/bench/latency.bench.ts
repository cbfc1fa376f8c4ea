// Submit -> start latency at a steady rate (DESIGN §8: p99 <= 25 ms at 1,000 unary submits/s;
// neither peer sustains 1,000/s on the reference machine, at 250/s their p99 is 450-550 ms).
//
// Open loop: this process sends unary SubmitTask calls on a fixed schedule (1,000/s), whatever the
// answers do, so a slow master cannot slow the load down (no coordinated omission). Fake agents in
// this process (load/fake-agents.ts) note when each assignment arrives and answer at once. Latency
// of a task = arrival of its assignment at the agent - the time its submit was scheduled.
import { createBenchDatabase } from "./bench-db.js";
import { cpuText, cpuWindow, type CpuWindow } from "./cpu.js";
import { FakeAgents } from "./load/fake-agents.js";
import { TaskClients, unaryClientText } from "./load/task-clients.js";
import { startMasterProcess } from "./master-process.js";
import { num, pollUntil, quantile, sleep, tableMarkdown, tableText, verdict, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const TARGET_P99_MS = 25;
const RATE = 1000;
const WARMUP_S = 2;
const MEASURE_S = 10;
const AGENTS = 8;
const SLOTS = 64;
const CHANNELS = 4;

export interface Phase {
  /** Submit -> start, ms, per task (sorted). */
  startMs: number[];
  /** Submit -> acknowledgement, ms (sorted). */
  ackMs: number[];
  failed: number;
  sentLate: number;
  missing: number;
  cpu: CpuWindow;
}

/** Sends `seconds * rate` submits on schedule; resolves when every answer and assignment is in. */
async function openLoop(
  clients: TaskClients,
  assignedAt: Map<string, number>,
  masterPid: number,
  database: string | undefined,
  seconds: number,
  rate = RATE,
): Promise<Phase> {
  const total = seconds * rate;
  const scheduled = new Map<string, number>();
  const ackMs: number[] = [];
  const pending: Promise<void>[] = [];
  let failed = 0;
  let sentLate = 0;
  const end = cpuWindow(masterPid, database);
  const t0 = performance.now() + 5;
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const at = t0 + (sent * 1000) / rate;
      if (now - at > 5) sentLate++;
      pending.push(
        clients.submit().then(
          (id) => {
            scheduled.set(id, at);
            ackMs.push(performance.now() - at);
          },
          () => void failed++,
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  await pollUntil(() => [...scheduled.keys()].every((id) => assignedAt.has(id)), 30_000, 20);
  const cpu = end();
  const startMs: number[] = [];
  let missing = 0;
  for (const [id, at] of scheduled) {
    const got = assignedAt.get(id);
    if (got === undefined) missing++;
    else startMs.push(got - at);
  }
  return { startMs: startMs.sort((a, b) => a - b), ackMs: ackMs.sort((a, b) => a - b), failed, sentLate, missing, cpu };
}

/** A fresh database and master, fake agents, a warm-up, then one measured open-loop phase at `rate`; `label` names the database. */
export async function measureLatency(rate = RATE, warmupS = WARMUP_S, measureS = MEASURE_S): Promise<{ phase: Phase; label: string }> {
  const db = await createBenchDatabase();
  const master = await startMasterProcess(db.options);
  const clients = new TaskClients(master.address, CHANNELS);
  const assignedAt = new Map<string, number>();
  const agents = new FakeAgents({ address: master.address, agents: AGENTS, channels: CHANNELS, slots: SLOTS, onAssign: (id, at) => assignedAt.set(id, at) });
  try {
    await clients.ready();
    await agents.start();
    await openLoop(clients, assignedAt, master.pid, db.name, warmupS, rate);
    await db.vacuum();
    assignedAt.clear();
    return { phase: await openLoop(clients, assignedAt, master.pid, db.name, measureS, rate), label: db.label };
  } finally {
    agents.close();
    clients.close();
    await master.stop();
    await db.drop();
  }
}

export const latencyBench: BenchModule = {
  name: "latency",
  section: "Submit to start latency",
  async run(env: BenchEnv): Promise<BenchResult> {
    const { phase, label } = await measureLatency();
    const s = phase.startMs;
    const p99 = quantile(s, 0.99);
    const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
    const table: Table = {
      header: ["rate", "tasks", "p50 ms", "p90 ms", "p99 ms", "max ms", "target p99", "submit ack p50/p99 ms", "late sends", "failed", "CPU (cores)"],
      rows: [
        [
          `${num(RATE)}/s`,
          num(s.length),
          ms(quantile(s, 0.5)),
          ms(quantile(s, 0.9)),
          ms(p99),
          ms(s[s.length - 1]),
          `<= ${TARGET_P99_MS} ms: ${verdict(p99 <= TARGET_P99_MS && phase.missing === 0 && phase.failed === 0)}`,
          `${ms(quantile(phase.ackMs, 0.5))} / ${ms(quantile(phase.ackMs, 0.99))}`,
          String(phase.sentLate),
          String(phase.failed + phase.missing),
          cpuText(phase.cpu),
        ],
      ],
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, ${label}.`,
      "",
      `Method: a master in its own process (metrics on); this process sends unary \`SubmitTask\` calls open loop at ${num(RATE)}/s over ${CHANNELS} channels (${unaryClientText()}) ` +
        `for ${MEASURE_S} s after a ${WARMUP_S} s warm-up, and ${AGENTS} fake agents (${SLOTS} slots each, raw agent streams) note when each assignment arrives and answer it at once ` +
        "with `started` and `finished`. Latency = assignment arrival at the agent - the submit's scheduled send time (so a stalled sender counts against the master). " +
        '"late sends" = submits sent over 5 ms behind schedule (the load generator itself lagging). One process measures both ends, so one clock.',
      "",
      "Reading: with a worker free and nothing queued, a task is placed at submission and its assignment commits in the submission's own " +
        "transaction (master/dispatcher.ts placeAtSubmit), so one group commit lies on its path: it waits for the transaction in progress, " +
        "then its own (one round trip: BEGIN, every statement of the batch (prepared, its rows one json parameter) and COMMIT written at once, its checks made by Postgres; src/store/write-script.ts), " +
        "and the assignment goes out right after the acknowledgement. Start latency is therefore about the submit's acknowledgement latency " +
        "(the column beside it). The same writer also commits the agents' started and finished reports. Measured inside the master on this " +
        "machine (2026-12-07, a slow day for it): from the submit handler's start to the assignment's send p50 8 ms, p99 45 ms; a transaction " +
        "(~35 KB of statements for ~40 jobs) p50 7 ms, p99 65 ms, and after a slow one the next batch is bigger (up to 500 KB), which is the tail. " +
        "Replayed alone on an idle Postgres, the same statements execute in ~0.2 ms per task (index entries and JSON for the task row, the attempt " +
        "and two events): most of a transaction's time is the master, Postgres and the load generator waiting for one of two cores. Since then a " +
        "second transaction may run beside the first for jobs on other rows, committing after it (src/store/group-commit.ts): no clear change in " +
        "this figure in alternating runs (p99 14.9/27.8 ms against 16.4/25.0 ms with one), +12-14% end to end. What is left is CPU per task. " +
        "Where the time goes, measured by instrumenting runs on the night of 2026-12-07 (AMD EPYC): inside the master, from the submit handler's start to the " +
        "assignment's send, p50 3.4-6.6 ms and p99 10-22 ms (a batch waits p50 0.4-0.7 ms for a transaction slot; a pipelined transaction takes " +
        "p50 3-4.5 ms); from the submit's actual send to the assignment's arrival p50 7.1 ms, p99 31.6 ms; and the load generator itself sends late " +
        "(p50 0.9 ms, p99 11.6 ms behind schedule). The machine runs 1.6 of its 2 cores with 3-7 runnable processes: most of the tail is waiting for a " +
        "core, and in that night's peer rounds all three sides had a p99 of ~42 ms at 1,000/s. Tried and not kept: Postgres's generic plans for the " +
        "batch statements (plan_cache_mode force_generic_plan, with index-only join settings in the write transactions) cut Postgres's CPU at this rate " +
        "by a quarter (0.50 -> 0.37 cores) and moved no latency figure, and a generic plan made on an empty, vacuumed table still walks the whole " +
        "primary-key index for every row (EXPLAIN), so the batches keep force_custom_plan. For the commit order, see the unary submit reading.",
      "",
      tableMarkdown(table),
      "",
      "Target (DESIGN §8): submit->start p99 <= 25 ms at a steady 1,000 unary submits/s (DESIGN's reference run: the peers did not sustain 1,000/s, " +
        "at 250/s their p99 was 450-550 ms; on this machine, see the peers section below).",
    ].join("\n");
    return { text: tableText(table), markdown };
  },
};
