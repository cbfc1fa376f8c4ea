// Unary submit throughput (DESIGN §8: >= 4,500 tasks/s; pg-boss 1,400/s, graphile-worker 740/s).
//
// A master in its own process on Postgres; this process keeps a fixed number of SubmitTask calls in
// flight over a few channels (closed loop) and counts acknowledgements (each one is committed: the
// master answers after its group commit). No agents: tasks stay QUEUED. Two concurrency levels.
import { createBenchDatabase } from "./bench-db.js";
import { cpuPerTaskText, cpuText, cpuWindow, type CpuWindow } from "./cpu.js";
import { closedLoopSubmits, TaskClients, unaryClientText } from "./load/task-clients.js";
import { startMasterProcess } from "./master-process.js";
import { num, tableMarkdown, tableText, verdict, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const TARGET = 4500;
const CHANNELS = 4;
const WARMUP_MS = 3000;
const MEASURE_MS = 8000;
/** Calls in flight (the peer benchmark uses the same levels). */
export const LEVELS = [64, 256];

export interface Row {
  inFlight: number;
  perSecond: number;
  failed: number;
  tasksPerCommit: number;
  cpu: CpuWindow;
}

/** Unary submit runs at each level (in flight) on a fresh database and master; `label` names the database. */
export async function measureSubmits(levels = LEVELS, warmupMs = WARMUP_MS, measureMs = MEASURE_MS): Promise<{ rows: Row[]; label: string }> {
  const db = await createBenchDatabase();
  const master = await startMasterProcess(db.options);
  const clients = new TaskClients(master.address, CHANNELS);
  const rows: Row[] = [];
  try {
    await clients.ready();
    await closedLoopSubmits(clients, 128, performance.now() + warmupMs);
    for (const inFlight of levels) {
      await db.vacuum();
      const before = await master.stats();
      const end = cpuWindow(master.pid, db.name);
      const started = performance.now();
      const r = await closedLoopSubmits(clients, inFlight, started + measureMs);
      const seconds = (performance.now() - started) / 1000;
      const cpu = end();
      const after = await master.stats();
      if (r.failed > 0) process.stderr.write(`submit: ${r.failed} calls failed (${r.firstError})\n`);
      rows.push({
        inFlight,
        perSecond: r.acked / seconds,
        failed: r.failed,
        tasksPerCommit: (after.commitJobs - before.commitJobs) / Math.max(1, after.transactions - before.transactions),
        cpu,
      });
    }
  } finally {
    clients.close();
    await master.stop();
    await db.drop();
  }
  return { rows, label: db.label };
}

export const submitBench: BenchModule = {
  name: "submit",
  section: "Unary submit throughput",
  async run(env: BenchEnv): Promise<BenchResult> {
    const { rows, label } = await measureSubmits();
    const table: Table = {
      header: [
        "calls in flight",
        "acknowledged tasks/s",
        "target",
        "failed",
        "calls per commit",
        "CPU us per task: master / Postgres / load generator",
        "CPU (cores)",
      ],
      rows: rows.map((r) => [
        String(r.inFlight),
        num(r.perSecond),
        `>= ${num(TARGET)}: ${verdict(r.perSecond >= TARGET)}`,
        String(r.failed),
        num(r.tasksPerCommit),
        cpuPerTaskText(r.cpu, r.perSecond),
        cpuText(r.cpu),
      ]),
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, ${label}.`,
      "",
      `Method: a master in its own process (\`startMaster\`, metrics on); this process keeps N unary \`SubmitTask\` calls in flight over ${CHANNELS} channels (${unaryClientText()}) ` +
        `(closed loop) for ${MEASURE_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up, and counts acknowledgements (a task is acknowledged only after its group commit). ` +
        'No agents (tasks stay QUEUED). "calls per commit" = submissions per group-commit transaction. CPU: the master process, the Postgres processes ' +
        "serving the benchmark's database (plus WAL writer and checkpointer), this process (the load generator), and the whole machine (on a shared machine, other work too).",
      "",
      "Reading: each unary call costs the master mostly gRPC/HTTP/2 work (headers, one socket write per response, garbage collection) and the " +
        "load generator about half as much (grpc-js's client: about as much again); Postgres little, thanks to group commit. With 64 calls in flight the figure is " +
        "bound by latency: each call waits for the transaction in progress and then its own (BEGIN, INSERT tasks and COMMIT written at once: one " +
        "round trip through a busy event loop; src/store/write-script.ts). With 256 " +
        "in flight it is bound by CPU, the master and the client sharing two cores with Postgres. Profile with TASKGRID_BENCH_PROFILE (docs/operations.md). " +
        "Tried on the night of 2026-12-07: having Postgres keep the pipelined batches' commit order (every transaction ends by writing its token into one row; a " +
        "pipelined one, waiting on that row's lock, checks that it replaces its predecessor's token, so its COMMIT goes in the same round trip as its " +
        "statements): no gain (64 in flight, alternated with the master's wait: 4,518 / 3,458 / 3,942 -> 4,456 / 3,731 / 3,289 tasks/s; Postgres " +
        "CPU per task +10%), since the two commits still flush one after the other. A pipelined batch committing without any wait gave +14-23% at 64 " +
        "in flight (end to end unchanged), but a crash could then keep a batch without the one before it (a dependent's start durable without its " +
        "dependency's success), so the wait stays.",
      "",
      tableMarkdown(table),
      "",
      "Target (DESIGN §8): >= 4,500 tasks/s with unary submits (pg-boss 1,400/s, graphile-worker 740/s on the reference machine).",
    ].join("\n");
    return { text: tableText(table), markdown };
  },
};
