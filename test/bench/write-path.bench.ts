// What each task costs the database (issue 18, "a lean write path"): the end-to-end flow of
// e2e.bench.ts (batched submit, placement, assignment, reports, result) on a Postgres server of the
// benchmark's own, so that its WAL holds nothing else, read back with pg_waldump: WAL bytes and the
// record counts that explain them (rows inserted and updated, row locks, b-tree entries) per task,
// and CPU per task of the master and of Postgres. Counts are exact whatever else the machine does;
// CPU and tasks/s move with it, so rounds alternate nothing and the median is reported.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { OwnPostgres } from "../helpers/own-postgres.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";
import { median, num, tableMarkdown, tableText, type Table } from "./report.js";

const TASKS = 20_000;
const WARMUP_TASKS = 5_000;
const ROUNDS = 3;
const WALDUMP = "/usr/lib/postgresql/15/bin/pg_waldump";

/** Measured with this module on commit 5746636 (before the write-path changes), same machine, 2026-12-07. */
const BEFORE =
  "WAL 9.8 KiB per task: 6.0 rows inserted, 5.0 updated (0.1 heap-only), 8.8 row locks, 29.8 b-tree entries; CPU per task: master 297 us, Postgres 318 us; 2,069, 1,754, 2,016 tasks/s";

/** Measured with this module on 7a7e1f6 and on the commit of migration 0017, one after the other, 2026-12-07 (AMD EPYC). */
const BEFORE_DERIVED_EVENTS =
  "WAL 4.4 KiB per task, 4.0 rows inserted, 14.0 b-tree entries, CPU master 361 us and Postgres 285 us, 2,119-2,276 tasks/s; after: 4.0 KiB, 2.0 rows, 10.0 entries, 331 and 235 us, 2,538-2,793 tasks/s";

/** Measured with this module, alternated 3 runs each, 2026-12-08 (AMD EPYC): f1e7ce2 against positional decisions (a489b49), then a489b49 against positional results too. */
const BEFORE_POSITIONAL =
  "WAL 3.6 KiB per task, Postgres 56.5 / 55.5 / 57.9 us per task; positional decisions: 3.0 KiB, 53.0 / 52.5 / 51.5 us (the same hour, their base again: 52.0 / 50.0 / 50.5); and results: 2.9 KiB, 50.0 / 50.0 / 49.5 us; rows, updates and b-tree entries the same, master CPU and tasks/s within the noise";

interface WalFigures {
  bytes: number;
  inserts: number;
  updates: number;
  hotUpdates: number;
  locks: number;
  btree: number;
}

interface Round {
  perSecond: number;
  masterUs: number;
  postgresUs: number;
  wal: WalFigures;
}

/** pg_waldump --stats=record between two LSNs, per task. */
function walPerTask(walDir: string, from: string, to: string, tasks: number): WalFigures {
  const out = execFileSync(WALDUMP, ["-p", walDir, "--stats=record", "-s", from, "-e", to], { encoding: "utf8" });
  const count = new Map<string, number>();
  let bytes = 0;
  for (const line of out.split("\n")) {
    const m = /^(\S+)\s+(\d+)\s+\(.*?\)\s+\d+\s+\(.*?\)\s+\d+\s+\(.*?\)\s+(\d+)/.exec(line);
    if (!m) continue;
    count.set(m[1], Number(m[2]));
    bytes += Number(m[3]);
  }
  const sum = (...names: string[]) => names.reduce((s, n) => s + (count.get(n) ?? 0), 0) / tasks;
  return {
    bytes: bytes / tasks,
    inserts: sum("Heap/INSERT", "Heap/INSERT+INIT"),
    updates: sum("Heap/UPDATE", "Heap/UPDATE+INIT", "Heap/HOT_UPDATE"),
    hotUpdates: sum("Heap/HOT_UPDATE"),
    locks: sum("Heap/LOCK"),
    btree: sum("Btree/INSERT_LEAF", "Btree/INSERT_UPPER", "Btree/INSERT_POST"),
  };
}

async function round(): Promise<Round> {
  const own = await OwnPostgres.create();
  const previousUrl = process.env.TASKGRID_BENCH_PG_URL;
  process.env.TASKGRID_BENCH_PG_URL = own.url;
  try {
    // Imported here: bench-db reads the admin URL when it creates the database.
    const { createBenchDatabase } = await import("./bench-db.js");
    const { FakeAgents } = await import("./load/fake-agents.js");
    const { TaskClients } = await import("./load/task-clients.js");
    const { startMasterProcess } = await import("./master-process.js");
    const { runTasks } = await import("./e2e.bench.js");
    const db = await createBenchDatabase();
    const master = await startMasterProcess(db.options);
    const clients = new TaskClients(master.address, 4);
    const agents = new FakeAgents({ address: master.address, agents: 16, channels: 4, slots: 256 });
    try {
      await clients.ready();
      await agents.start();
      await runTasks(master, db, clients, WARMUP_TASKS, 0);
      await db.vacuum();
      await db.query("CHECKPOINT");
      const lsn = async () => (await db.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l"))[0].l;
      const from = await lsn();
      const run = await runTasks(master, db, clients, TASKS, WARMUP_TASKS);
      const to = await lsn();
      const us = (cores: number) => (cores * run.seconds * 1e6) / TASKS;
      return {
        perSecond: TASKS / run.seconds,
        masterUs: us(run.cpu.master),
        postgresUs: us(run.cpu.postgres),
        wal: walPerTask(join(own.dir, "data", "pg_wal"), from, to, TASKS),
      };
    } finally {
      agents.close();
      clients.close();
      await master.stop();
      await db.drop();
    }
  } finally {
    if (previousUrl === undefined) delete process.env.TASKGRID_BENCH_PG_URL;
    else process.env.TASKGRID_BENCH_PG_URL = previousUrl;
    own.destroy();
  }
}

export const writePathBench: BenchModule = {
  name: "write-path",
  section: "Write path: WAL and CPU per task",
  async run(env: BenchEnv): Promise<BenchResult> {
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
    const m = (f: (r: Round) => number) => median(rounds.map(f));
    const table: Table = {
      header: [
        "WAL per task",
        "rows inserted",
        "rows updated (heap-only)",
        "row locks",
        "b-tree entries",
        "CPU us per task: master / Postgres",
        "tasks/s (each round)",
      ],
      rows: [
        [
          `${(m((r) => r.wal.bytes) / 1024).toFixed(1)} KiB`,
          m((r) => r.wal.inserts).toFixed(1),
          `${m((r) => r.wal.updates).toFixed(1)} (${m((r) => r.wal.hotUpdates).toFixed(1)})`,
          m((r) => r.wal.locks).toFixed(1),
          m((r) => r.wal.btree).toFixed(1),
          `${num(m((r) => r.masterUs))} / ${num(m((r) => r.postgresUs))}`,
          rounds.map((r) => num(r.perSecond)).join(", "),
        ],
      ],
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, a Postgres 15 server of the benchmark's own (fsync off; WAL is the same).`,
      "",
      `Method: the end-to-end flow of the section above (16 fake agents, \`SubmitTasks\` of 1,000, every task submitted, placed, assigned, started, finished) for ${num(TASKS)} tasks after a warm-up of ${num(WARMUP_TASKS)} and a VACUUM and CHECKPOINT, on a fresh server each of ${ROUNDS} rounds; \`pg_waldump --stats=record\` over the run's WAL, divided by the tasks. Medians of the rounds; the counts are exact and steady, CPU and tasks/s move with whatever else the machine runs.`,
      "",
      "What a task writes now: its row (inserted, then updated at assignment and at the end, and at its start too unless the start and the end are read together, as here: master/start-windows.ts; since migration 0016 no index names the state or updated_at_ms, only a generated ended_at_ms that stays NULL while the task is active, so the updates before the end are heap-only and write no index entry), an attempt row (inserted, then updated at start and end, heap-only; once when they are read together), a learning row per (kind, worker) once a second instead of with every end (master/learning-observer.ts), the spec without its default-valued fields (src/store/stored-spec.ts), the attempt's placement decision and the task's and attempt's result as positional arrays rather than objects with keys (src/store/stored-decision.ts and stored-result.ts, migration 0018: a decision ~620 -> ~350 bytes of JSON, which Postgres parses twice), pages half filled by inserts (fillfactor 50, 0016; the attempts' 40% since 0018, their rows being shorter) so that those updates find room on the row's own page (at 80, only 38% of the attempts' updates did), no event row when it starts and succeeds (since migration 0017 its QUEUED, ASSIGNED, RUNNING and ending events are all derived from the task and attempt rows when a history is read; pauses, requeues and failures with their reasons are stored events), no foreign-key checks (each locked the task row), and its jsonb fields converted by a cast from json rather than by json_to_recordset (~4x cheaper per field). " +
        "Since 2026-12-07 a batch's statements go to Postgres as a pipeline of prepared statements, each taking its rows as one json parameter " +
        "(src/store/batch-statement.ts), where they were one script with the json escaped into its text: a replay of 500-task batches (one insert " +
        "and three updates per task, through the same code) went from 6,780-7,535 to 7,875-9,013 tasks/s, the writer's CPU per task from 38-53 to 26-42 us, " +
        "Postgres's from 94-96 to 86-89 us (of 15-task batches: Postgres 176-252 us before, 202-239 after, once each execution is planned afresh; " +
        "a generic plan kept from a connection's first batches had made them 613-1,169 us). In this bench the change is within its noise.",
      "",
      `Before (the same module on commit 5746636, ${BEFORE}). With two event rows per task (before 0017; same run as the commit that added it, this machine): ${BEFORE_DERIVED_EVENTS}. Decisions and results stored as objects (before 0018): ${BEFORE_POSITIONAL}.`,
      "",
      tableMarkdown(table),
    ].join("\n");
    return { text: tableText(table), markdown };
  },
};
