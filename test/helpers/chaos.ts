// The chaos suite's cluster: real `taskgrid master` processes (one, or several on one database:
// a leader and standbys) on their own Postgres database and real agent processes (optionally
// behind TCP proxies), running tasks that log every execution to one file. The log, not the final states, is what the checks read: how many times each task
// started, whether one that exited 0 started again, and whether two executions overlapped.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "./processes.js";
import { eventually } from "./task-watch.js";
import { freePort, startTcpProxy, type TcpProxy } from "./tcp-proxy.js";
import { createTestDatabase, type TestDatabase } from "./test-master.js";
import { OwnPostgres } from "./own-postgres.js";
import * as grpc from "@grpc/grpc-js";
import { AdminServiceClient, MasterRole, type GetSchedulerInfoResponse } from "../../src/gen/taskgrid/v1/admin_service.js";

/** One run of a task's command, read back from the execution log. */
export interface Execution {
  pid: number;
  startMs: number;
  /** Last sign of life (a beat or the end line). */
  lastMs: number;
  /** The command reached its last line: it exited 0 (or was killed in the instant after). */
  ended: boolean;
}

const TERMINAL = new Set([TaskState.TASK_STATE_SUCCEEDED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED]);

export class ChaosCluster {
  readonly dir: string;
  readonly log: string;
  client!: TaskgridClient;
  /** One process per master (null while stopped); index 0 is the one a single-master scenario uses. */
  readonly masterProcs: Array<Proc | null> = [];
  readonly agents = new Map<string, { proc: Proc; proxy: TcpProxy | null }>();
  private ports: number[] = [];
  private db!: TestDatabase;
  private configFile = "";
  /** The test's own Postgres server, when the scenario stops the database. */
  postgres: OwnPostgres | null = null;

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "taskgrid-chaos-"));
    this.log = join(this.dir, "executions.log");
    writeFileSync(this.log, "");
  }

  /**
   * `masterConfig` goes to the masters' --config file (camelCase keys, e.g. offlineAfterMs).
   * `masters`: how many master processes share the database (started in order: the first leads).
   */
  static async start(masterConfig: Record<string, unknown>, options: { ownPostgres?: boolean; masters?: number } = {}): Promise<ChaosCluster> {
    const c = new ChaosCluster();
    if (options.ownPostgres) c.postgres = await OwnPostgres.create();
    c.db = await createTestDatabase(c.postgres?.url);
    for (let i = 0; i < (options.masters ?? 1); i++) c.ports.push(await freePort());
    c.configFile = join(c.dir, "master.json");
    writeFileSync(c.configFile, JSON.stringify(masterConfig));
    for (let i = 0; i < c.ports.length; i++) await c.startMaster(true, i);
    c.client = createClient(c.addresses);
    return c;
  }

  /** The database every master of the cluster shares. */
  get databaseUrl(): string {
    return this.db.options.databaseUrl!;
  }

  /** The first master's address. */
  get address(): string {
    return this.addressOf(0);
  }

  addressOf(index: number): string {
    return `127.0.0.1:${this.ports[index]}`;
  }

  /** Every master's address, comma-separated as --master and TASKGRID_MASTER take them. */
  get addresses(): string {
    return this.ports.map((_, i) => this.addressOf(i)).join(",");
  }

  get masterProc(): Proc | null {
    return this.masterProcs[0] ?? null;
  }

  /** Starts master `index`; waits until it listens unless `wait` is false. */
  async startMaster(wait = true, index = 0): Promise<void> {
    const { databaseUrl } = this.db.options;
    if (!databaseUrl) throw new Error("the chaos suite needs Postgres (TASKGRID_TEST_PG_URL)");
    const proc = new Proc([
      "master",
      "--listen",
      this.addressOf(index),
      "--metrics",
      "127.0.0.1:0",
      "--database-url",
      databaseUrl,
      "--config",
      this.configFile,
      "--log-format",
      "json",
    ]);
    this.masterProcs[index] = proc;
    if (wait) await proc.waitFor(/master listening/);
  }

  async stopMaster(signal: NodeJS.Signals, index = 0): Promise<void> {
    const proc = this.masterProcs[index];
    proc?.child.kill("SIGCONT"); // a stopped process cannot act on SIGTERM
    await proc?.stop(signal);
    this.masterProcs[index] = null;
  }

  /**
   * Starts an agent (through a proxy when `proxied`, so the test can cut its network).
   * `checkpointDir`: its --checkpoint-dir (default: checkpoints/ under its own state dir; give
   * agents one shared dir so a preempted task resumes from its checkpoint on any of them).
   */
  async startAgent(id: string, options: { proxied?: boolean; maxTasks?: number; checkpointDir?: string } = {}): Promise<Proc> {
    const proxy = options.proxied ? await startTcpProxy(this.address) : null;
    const stateDir = join(this.dir, "agents", id);
    mkdirSync(stateDir, { recursive: true });
    const proc = new Proc([
      "agent",
      "--master",
      proxy?.address ?? this.addresses,
      "--id",
      id,
      "--tags",
      "chaos",
      "--max-tasks",
      String(options.maxTasks ?? 4),
      "--state-dir",
      stateDir,
      "--log-format",
      "json",
      ...(options.checkpointDir ? ["--checkpoint-dir", options.checkpointDir] : []),
    ]);
    this.agents.set(id, { proc, proxy });
    return proc;
  }

  /** A shell command that logs start, a beat every 100 ms for `workMs`, and its end. */
  command(workMs: number): string[] {
    const beats = Math.max(1, Math.round(workMs / 100));
    const log = this.log;
    return [
      "sh",
      "-c",
      [
        `echo "start $TASKGRID_TASK_ID $$ $(date +%s%N)" >> "${log}"`,
        `i=0; while [ $i -lt ${beats} ]; do sleep 0.1; echo "beat $TASKGRID_TASK_ID $$ $(date +%s%N)" >> "${log}"; i=$((i+1)); done`,
        `echo "end $TASKGRID_TASK_ID $$ $(date +%s%N)" >> "${log}"`,
      ].join("\n"),
    ];
  }

  /** Submits `count` tasks in one batch (acknowledged = committed) and returns their ids. Slots, not CPUs, bound them. */
  async submit(count: number, workMs: number, extra: Record<string, unknown> = {}): Promise<string[]> {
    const specs = Array.from({ length: count }, (_, i) => ({
      name: `chaos-${i}`,
      command: this.command(workMs),
      requiredTags: ["chaos"],
      resources: { cpuMillis: 100 },
      ...extra,
    }));
    return this.client.submitTasks(specs);
  }

  /** Waits until every task is terminal (polling the master, which may be restarting); returns the states. */
  async waitTerminal(ids: string[], timeoutMs: number): Promise<Map<string, TaskState>> {
    const states = new Map<string, TaskState>();
    await eventually(
      async () => {
        for (const id of ids) {
          if (states.has(id)) continue;
          const task = await this.client.getTask(id).catch(() => null);
          if (task && TERMINAL.has(task.state)) states.set(id, task.state);
        }
        return states.size === ids.length;
      },
      `${ids.length} tasks to end (${states.size} did)`,
      timeoutMs,
    );
    return states;
  }

  /** Executions per task, from the log. */
  executions(): Map<string, Execution[]> {
    const byTask = new Map<string, Map<number, Execution>>();
    for (const line of readFileSync(this.log, "utf8").split("\n")) {
      const [kind, taskId, pidText, nsText] = line.split(" ");
      if (!taskId || !nsText) continue;
      const pid = Number(pidText);
      const ms = Number(BigInt(nsText) / 1_000_000n);
      let runs = byTask.get(taskId);
      if (!runs) byTask.set(taskId, (runs = new Map()));
      if (kind === "start") runs.set(pid, { pid, startMs: ms, lastMs: ms, ended: false });
      const run = runs.get(pid);
      if (!run) continue;
      run.lastMs = Math.max(run.lastMs, ms);
      if (kind === "end") run.ended = true;
    }
    return new Map([...byTask].map(([id, runs]) => [id, [...runs.values()].sort((a, b) => a.startMs - b.startMs)]));
  }

  /** The index of the master that says it leads, or null when none does (checked in order, at most one answers LEADER). */
  async leaderIndex(): Promise<number | null> {
    for (let i = 0; i < this.ports.length; i++) {
      if (!this.masterProcs[i]) continue;
      // A channel of its own: grpc-js shares subchannels per address, and one that failed while
      // this master was down may still be in its reconnect backoff after the master is back.
      const admin = new AdminServiceClient(this.addressOf(i), grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
      try {
        // A deadline: a stopped (SIGSTOP) master never answers.
        const info = await new Promise<GetSchedulerInfoResponse | null>((resolve) =>
          admin.getSchedulerInfo({}, new grpc.Metadata(), { deadline: Date.now() + 2000 }, (err, res) => resolve(err ? null : res)),
        );
        if (info?.leadership?.role === MasterRole.MASTER_ROLE_LEADER) return i;
      } finally {
        admin.close();
      }
    }
    return null;
  }

  /** grpc.health.v1 status of a master ("SERVING", "NOT_SERVING"), or the error code name. */
  async health(index = 0): Promise<string> {
    const { service } = await import("grpc-health-check");
    const Health = grpc.makeGenericClientConstructor(service as grpc.ServiceDefinition, "Health");
    const client = new Health(this.addressOf(index), grpc.credentials.createInsecure()) as unknown as {
      check(req: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: number | string }) => void): void;
      close(): void;
    };
    try {
      const res = await new Promise<{ status: number | string }>((resolve, reject) => client.check({ service: "" }, (e, r) => (e ? reject(e) : resolve(r!))));
      return typeof res.status === "string" ? res.status : (["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][res.status] ?? String(res.status));
    } catch (err) {
      return grpc.status[(err as grpc.ServiceError).code] ?? "ERROR";
    } finally {
      client.close();
    }
  }

  async close(): Promise<void> {
    this.client?.close();
    for (const { proc, proxy } of this.agents.values()) {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill("SIGCONT");
        await proc.stop("SIGKILL");
      }
      await proxy?.stop();
    }
    for (let i = 0; i < this.masterProcs.length; i++) await this.stopMaster("SIGKILL", i);
    if (this.postgres) this.postgres.destroy();
    else await this.db.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ExactlyOnceReport {
  /** Violations, one line each; empty when every guarantee held. */
  problems: string[];
  /** Number of tasks by how many times they started, e.g. {1: 38, 2: 2}. */
  executionsHistogram: Record<number, number>;
}

/**
 * The guarantees of DESIGN §9 over one scenario: every acknowledged task ended SUCCEEDED (all
 * commands here exit 0 when left alone), exactly once in the sense that a run that reached its end
 * was the last one, and no two runs of one task were alive at the same time.
 */
export function checkExactlyOnce(ids: string[], states: Map<string, TaskState>, executions: Map<string, Execution[]>): ExactlyOnceReport {
  const problems: string[] = [];
  const executionsHistogram: Record<number, number> = {};
  for (const id of ids) {
    const runs = executions.get(id) ?? [];
    executionsHistogram[runs.length] = (executionsHistogram[runs.length] ?? 0) + 1;
    if (states.get(id) !== TaskState.TASK_STATE_SUCCEEDED) problems.push(`${id}: ended ${TaskState[states.get(id) ?? 0]}, not SUCCEEDED`);
    if (runs.length === 0) problems.push(`${id}: never ran`);
    const completed = runs.filter((r) => r.ended);
    if (completed.length > 1) problems.push(`${id}: ran to the end ${completed.length} times`);
    if (completed.length === 1 && runs.at(-1) !== completed[0]) problems.push(`${id}: started again after a run that exited 0`);
    for (let i = 1; i < runs.length; i++) {
      if (runs[i].startMs <= runs[i - 1].lastMs) {
        problems.push(`${id}: runs overlapped (pid ${runs[i - 1].pid} alive until ${runs[i - 1].lastMs}, pid ${runs[i].pid} started ${runs[i].startMs})`);
      }
    }
  }
  return { problems, executionsHistogram };
}
