// Real child processes through one agent (DESIGN §8: >= 1,000 tasks/s of `true` through one local
// agent; Slurm 22.05 with slurmctld + slurmd on the reference machine launches 10 jobs/s).
//
// A master in its own process on Postgres and ONE real agent (`taskgrid agent`, its own process,
// the real executor: a process group, a temp dir and a child process per attempt). This process
// submits N tasks running `true` with SubmitTasks and waits until the database holds them all
// SUCCEEDED. Run once per --max-tasks level, each with a fresh agent.
import { spawn } from "node:child_process";
import { TaskSpec } from "../../src/gen/taskgrid/v1/task.js";
import { BIN, ROOT } from "../helpers/processes.js";
import { createBenchDatabase, type BenchDatabase } from "./bench-db.js";
import { cpuWindow, type CpuWindow } from "./cpu.js";
import { TaskClients } from "./load/task-clients.js";
import { startMasterProcess, type MasterProcess } from "./master-process.js";
import { num, pollUntil, tableMarkdown, tableText, verdict, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const TARGET = 1000;
const LEVELS = (process.env.TASKGRID_BENCH_LEVELS ?? "16,64").split(",").map(Number);
const TASKS = 6000;
const WARMUP_TASKS = 500;
const BATCH = 500;
/** Small enough that --max-tasks, not the agent's CPU capacity, bounds concurrency. */
const TRUE_SPEC = TaskSpec.fromPartial({ name: "true", command: ["true"], resources: { cpuMillis: 10, memoryMib: 1 } });

interface Row {
  maxTasks: number;
  perSecond: number;
  seconds: number;
  failed: number;
  cpu: CpuWindow;
  agentCores: number;
}

interface AgentProcess {
  pid: number;
  stop(): Promise<void>;
}

async function startAgent(master: string, maxTasks: number, id: string): Promise<AgentProcess> {
  const profileDir = process.env.TASKGRID_BENCH_PROFILE;
  const execArgv = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}/agent`] : [];
  const child = spawn(process.execPath, [...execArgv, BIN, "agent", "--master", master, "--max-tasks", String(maxTasks), "--id", id], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let tail = "";
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  child.stderr.on("data", (d: Buffer) => {
    tail = (tail + d.toString()).slice(-8000);
    if (tail.includes(`agent ${id} connected`)) connected();
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  await Promise.race([ready, exited.then(() => Promise.reject(new Error(`agent exited:\n${tail}`)))]);
  return {
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function countByState(db: BenchDatabase): Promise<Map<string, number>> {
  const rows = await db.query<{ state: string; n: string }>("SELECT state, count(*) AS n FROM tasks GROUP BY state");
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}

async function runTasks(master: MasterProcess, clients: TaskClients, db: BenchDatabase, tasks: number): Promise<{ seconds: number; failed: number }> {
  const before = await countByState(db);
  const started = performance.now();
  for (let sent = 0; sent < tasks; sent += BATCH) await clients.submitBatch(Math.min(BATCH, tasks - sent), TRUE_SPEC);
  const drained = await pollUntil(async () => (await master.stats()).activeTasks === 0, 120_000, 10);
  let after = await countByState(db);
  const ended = () => [...after.values()].reduce((a, b) => a + b, 0) - [...before.values()].reduce((a, b) => a + b, 0);
  await pollUntil(
    async () => (
      (after = await countByState(db)),
      (after.get("SUCCEEDED") ?? 0) - (before.get("SUCCEEDED") ?? 0) + (after.get("FAILED") ?? 0) - (before.get("FAILED") ?? 0) >= tasks
    ),
    10_000,
    10,
  );
  const seconds = (performance.now() - started) / 1000;
  if (!drained) throw new Error(`processes: tasks still active after 120 s (${ended()} of ${tasks} ended)\n${master.logTail()}`);
  const succeeded = (after.get("SUCCEEDED") ?? 0) - (before.get("SUCCEEDED") ?? 0);
  return { seconds, failed: tasks - succeeded };
}

export const processesBench: BenchModule = {
  name: "processes",
  section: "Real child processes through one agent",
  async run(env: BenchEnv): Promise<BenchResult> {
    const db = await createBenchDatabase();
    const master = await startMasterProcess(db.options);
    const clients = new TaskClients(master.address, 1);
    const rows: Row[] = [];
    try {
      await clients.ready();
      for (const maxTasks of LEVELS) {
        const agent = await startAgent(master.address, maxTasks, `bench-agent-${maxTasks}`);
        try {
          await runTasks(master, clients, db, WARMUP_TASKS);
          await db.vacuum();
          const end = cpuWindow(master.pid, db.name);
          const agentEnd = cpuWindow(agent.pid);
          const r = await runTasks(master, clients, db, TASKS);
          rows.push({ maxTasks, perSecond: TASKS / r.seconds, seconds: r.seconds, failed: r.failed, cpu: end(), agentCores: agentEnd().master });
        } finally {
          await agent.stop();
        }
      }
    } finally {
      clients.close();
      await master.stop();
      await db.drop();
    }
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
    const table: Table = {
      header: ["--max-tasks", "tasks", "tasks/s", "target", "failed", "s", "CPU (cores)"],
      rows: rows.map((r) => [
        String(r.maxTasks),
        num(TASKS),
        num(r.perSecond),
        `>= ${num(TARGET)}: ${verdict(r.perSecond >= TARGET && r.failed === 0)}`,
        String(r.failed),
        r.seconds.toFixed(2),
        `agent ${f(r.agentCores)} (its children not counted), master ${f(r.cpu.master)}, Postgres ${f(r.cpu.postgres)}, machine ${f(r.cpu.machine)} of ${r.cpu.cores}`,
      ]),
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, ${db.label}.`,
      "",
      `Method: a master in its own process (metrics on) and one real agent (\`taskgrid agent --max-tasks N\`, its own process, real executor: ` +
        `a process group, a temp dir and a child process per attempt); this process submits ${num(TASKS)} tasks running \`true\` with \`SubmitTasks\` ` +
        `(${BATCH} per call) after a warm-up of ${num(WARMUP_TASKS)}, and the figure is tasks / (first submit until the database holds them all ended). ` +
        "A fresh agent per level. The agent's CPU excludes its children's.",
      "",
      "Reading: the agent starts each attempt with Node's `child_process.spawn`, which forks the whole agent process and waits until the child " +
        "has exec'd, blocking the agent's event loop; in a CPU profile of this benchmark (TASKGRID_BENCH_PROFILE) that spawn call is about 70% of the " +
        "agent's main-thread time. The master and Postgres are mostly idle, and more --max-tasks helps little.",
      "",
      tableMarkdown(table),
      "",
      "Target (DESIGN §8): >= 1,000 tasks/s of real child processes (`true`) through one local agent (Slurm 22.05 on the reference machine: 10 jobs/s).",
    ].join("\n");
    return { text: tableText(table), markdown };
  },
};
