// Several masters on one Postgres (issue 14, DESIGN §9: failover <= 5 s).
//
// 1. Failover time: two real `taskgrid master` processes and one real agent (given both addresses)
//    on one database, a client submitting a no-op task every 20 ms through both addresses. The
//    leader is killed with SIGKILL; the figure is the time from the kill until the first attempt
//    the new leader assigns (attempts.assigned_at_ms, the masters' clock = this host's), and the
//    time until the new leader logged "elected leader". The killed master is restarted (it comes
//    back as a standby) and the next round kills the new leader. ROUNDS rounds.
// 2. Steady state: end-to-end throughput (the e2e benchmark's method) with one master, then with a
//    second master on the same database as a standby, then with one again.
import { createClient } from "../../src/client/index.js";
import { Proc } from "../helpers/processes.js";
import { freePort } from "../helpers/tcp-proxy.js";
import { createBenchDatabase, type BenchDatabase } from "./bench-db.js";
import { cpuPerTaskText } from "./cpu.js";
import { runTasks, type Run } from "./e2e.bench.js";
import { FakeAgents } from "./load/fake-agents.js";
import { TaskClients } from "./load/task-clients.js";
import { startMasterProcess } from "./master-process.js";
import { num, pollUntil, quantile, tableMarkdown, tableText, verdict, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const ROUNDS = Number(process.env.TASKGRID_BENCH_FAILOVER_ROUNDS ?? 20);
const TARGET_MS = 5000;
const TRICKLE_EVERY_MS = 20;
const THROUGHPUT_TASKS = 30_000;
const WARMUP_TASKS = 10_000;

interface Round {
  /** Kill -> the new leader logged "elected leader". */
  electedMs: number;
  /** Kill -> the first attempt assigned after the kill. */
  placedMs: number;
}

function masterArgs(port: number, databaseUrl: string): string[] {
  return ["master", "--listen", `127.0.0.1:${port}`, "--metrics", "127.0.0.1:0", "--database-url", databaseUrl, "--log-format", "json"];
}

/** Wall time of the last "elected leader" line a master logged, or null. */
function electedAt(proc: Proc): number | null {
  const lines = proc.output.split("\n").filter((l) => l.includes('"message":"elected leader"'));
  const last = lines.at(-1);
  return last ? Date.parse(JSON.parse(last).time as string) : null;
}

async function failoverRounds(db: BenchDatabase): Promise<Round[]> {
  const databaseUrl = db.options.databaseUrl!;
  const ports = [await freePort(), await freePort()];
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const masters: Proc[] = [];
  for (const port of ports) {
    const proc = new Proc(masterArgs(port, databaseUrl));
    await proc.waitFor(/master listening/);
    masters.push(proc);
  }
  const agent = new Proc(["agent", "--master", addresses.join(","), "--id", "failover-bench", "--tags", "fo", "--max-tasks", "16", "--log-format", "json"]);
  await agent.waitFor(/"message":"registered"/);
  const client = createClient(addresses);
  let stop = false;
  let submitted = 0;
  let failed = 0;
  const errors = new Map<string, number>();
  const trickle = (async () => {
    while (!stop) {
      const key = `fo-${submitted}`;
      await client.submitTask({ command: ["true"], requiredTags: ["fo"], idempotencyKey: key }).then(
        () => submitted++,
        (err: unknown) => {
          failed++;
          const text = String(err)
            .replace(/127\.0\.0\.1:\d+/g, "ADDR")
            .slice(0, 160);
          errors.set(text, (errors.get(text) ?? 0) + 1);
        },
      );
      await new Promise((r) => setTimeout(r, TRICKLE_EVERY_MS));
    }
  })();
  const rounds: Round[] = [];
  let leader = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Work flows under the current leader before each kill.
      const before = submitted;
      await pollUntil(() => submitted >= before + 10, 30_000, 5);
      const killedAt = Date.now();
      masters[leader].child.kill("SIGKILL");
      const placed = await pollUntil(
        async () => Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM attempts WHERE assigned_at_ms > $1", [killedAt]))[0].n) > 0,
        30_000,
        5,
      );
      if (!placed) throw new Error(`round ${round}: nothing placed within 30 s of the kill\n${masters[1 - leader].output.slice(-3000)}`);
      const firstAssigned = Number((await db.query<{ t: string }>("SELECT min(assigned_at_ms) AS t FROM attempts WHERE assigned_at_ms > $1", [killedAt]))[0].t);
      const next = 1 - leader;
      const elected = electedAt(masters[next]);
      rounds.push({ placedMs: firstAssigned - killedAt, electedMs: elected !== null && elected >= killedAt ? elected - killedAt : NaN });
      // The killed master comes back as a standby of the new leader.
      await masters[leader].exited;
      masters[leader] = new Proc(masterArgs(ports[leader], databaseUrl));
      await masters[leader].waitFor(/master listening/);
      leader = next;
    }
  } finally {
    stop = true;
    await trickle;
    client.close();
    await agent.stop("SIGTERM");
    for (const m of masters) await m.stop("SIGTERM");
  }
  if (failed > 0)
    throw new Error(
      `${failed} submissions failed across the failovers (the client retries UNAVAILABLE with an idempotency key): ${JSON.stringify([...errors])}`,
    );
  return rounds;
}

/** End-to-end throughput with `standbys` extra masters on the database. */
async function throughput(db: BenchDatabase): Promise<Array<{ label: string; run: Run }>> {
  const master = await startMasterProcess(db.options);
  const clients = new TaskClients(master.address, 4);
  const agents = new FakeAgents({ address: master.address, agents: 16, channels: 4, slots: 256 });
  const runs: Array<{ label: string; run: Run }> = [];
  let done = 0;
  const phase = async (label: string) => {
    await db.vacuum();
    runs.push({ label, run: await runTasks(master, db, clients, THROUGHPUT_TASKS, done) });
    done += THROUGHPUT_TASKS;
  };
  try {
    await clients.ready();
    await agents.start();
    await runTasks(master, db, clients, WARMUP_TASKS, 0);
    done = WARMUP_TASKS;
    await phase("one master");
    const standby = await startMasterProcess(db.options);
    try {
      await phase("leader + one standby");
    } finally {
      await standby.stop();
    }
    await phase("one master again");
  } finally {
    agents.close();
    clients.close();
    await master.stop();
  }
  return runs;
}

export const failoverBench: BenchModule = {
  name: "failover",
  section: "Failover between masters",
  async run(env: BenchEnv): Promise<BenchResult> {
    const db = await createBenchDatabase();
    let rounds: Round[];
    let runs: Array<{ label: string; run: Run }>;
    try {
      rounds = await failoverRounds(db);
      runs = await throughput(db);
    } finally {
      await db.drop();
    }
    const placed = rounds.map((r) => r.placedMs).sort((a, b) => a - b);
    const elected = rounds
      .map((r) => r.electedMs)
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b);
    const failover: Table = {
      header: ["kills", "kill -> elected p50 / max", "kill -> first placement p50 / max", "target"],
      rows: [
        [
          String(rounds.length),
          `${num(quantile(elected, 0.5))} / ${num(elected.at(-1) ?? NaN)} ms`,
          `${num(quantile(placed, 0.5))} / ${num(placed.at(-1) ?? NaN)} ms`,
          `<= ${num(TARGET_MS)} ms: ${verdict((placed.at(-1) ?? Infinity) <= TARGET_MS)}`,
        ],
      ],
    };
    const base = runs[0].run.tasks / runs[0].run.seconds;
    const steady: Table = {
      header: ["masters", "end-to-end tasks/s", "vs one master", "CPU us per task: master / Postgres / load generator"],
      rows: runs.map(({ label, run }) => {
        const rate = run.tasks / run.seconds;
        return [label, num(rate), `${((rate / base - 1) * 100).toFixed(1)}%`, cpuPerTaskText(run.cpu, rate)];
      }),
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, ${db.label}.`,
      "",
      `Failover: two \`taskgrid master\` processes and one real agent (\`--master a,b\`) on one database, default settings (leaderLeaseMs 5000); ` +
        `a client submits a no-op task every ${TRICKLE_EVERY_MS} ms through both addresses (with idempotency keys). Each round kills the leader with SIGKILL, ` +
        'measures the time until the other master logs "elected leader" and until the first attempt assigned after the kill (attempts.assigned_at_ms), ' +
        `then restarts the killed master as a standby; the next round kills the new leader. No submission failed.`,
      "",
      tableMarkdown(failover),
      "",
      `Steady state: the end-to-end benchmark's method (${num(THROUGHPUT_TASKS)} no-op tasks per phase after ${num(WARMUP_TASKS)} of warm-up, fake agents, ` +
        "batched submits) on one master, then with a second master on the same database as a standby, then on one master again. " +
        "Fencing (the epoch check in every write transaction) is on in every phase: a master always fences its writes.",
      "",
      tableMarkdown(steady),
      "",
      "Target (DESIGN §9): a standby leads within 5 s of losing the leader; running tasks keep running.",
    ].join("\n");
    return { text: `${tableText(failover)}\n${tableText(steady)}`, markdown };
  },
};
