// The cost of auth (DESIGN §10) on unary submit throughput, on vs off in the same run
// (docs/benchmarks.md "Auth overhead on unary submit").
//
// Two masters in their own processes, each on its own Postgres database: auth off, and auth on
// (every call carries a submitter token; the master checks it, authorizes the RPC and scopes the
// task to the token's project). The same closed-loop SubmitTask load as the submit benchmark
// alternates between them over three rounds; medians are reported. Both masters run all the time,
// so each round's measurement shares the machine the same way.
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AdminServiceClient } from "../../src/gen/taskgrid/v1/admin_service.js";
import { Role } from "../../src/gen/taskgrid/v1/types.js";
import { createBenchDatabase, type BenchDatabase } from "./bench-db.js";
import { cpuWindow } from "./cpu.js";
import { closedLoopSubmits, TaskClients } from "./load/task-clients.js";
import { startMasterProcess, type MasterProcess } from "./master-process.js";
import { num, tableMarkdown, tableText, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const CHANNELS = 4;
const IN_FLIGHT = 128;
const WARMUP_MS = 3000;
const MEASURE_MS = 6000;
const ROUNDS = 3;

type Mode = "auth off" | "auth on (submitter token)";

interface Setup {
  mode: Mode;
  db: BenchDatabase;
  master: MasterProcess;
  clients: TaskClients;
}

/** A submitter token made with the bootstrap admin token the master wrote to `file`. */
async function submitterToken(address: string, file: string): Promise<string> {
  const admin = readFileSync(file, "utf8").trim();
  const client = new AdminServiceClient(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${admin}`);
  try {
    return await new Promise<string>((resolve, reject) =>
      client.createToken({ project: "bench", role: Role.ROLE_SUBMITTER, name: "bench", expiresInSeconds: 0, workerPattern: "" }, md, (err, res) =>
        err ? reject(err) : resolve(res!.secret),
      ),
    );
  } finally {
    client.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export const authOverheadBench: BenchModule = {
  name: "auth",
  section: "Auth overhead on unary submit",
  async run(env: BenchEnv): Promise<BenchResult> {
    const dir = mkdtempSync(join(tmpdir(), "taskgrid-auth-bench-"));
    const setups: Setup[] = [];
    const results = new Map<Mode, { perSecond: number[]; cpuUsPerTask: number[]; failed: number }>();
    try {
      for (const mode of ["auth off", "auth on (submitter token)"] as Mode[]) {
        const db = await createBenchDatabase();
        const on = mode !== "auth off";
        const tokenFile = join(dir, "admin-token");
        const master = await startMasterProcess({ ...db.options, ...(on ? { auth: true, bootstrapTokenFile: tokenFile } : {}) });
        const clients = new TaskClients(master.address, CHANNELS, on ? await submitterToken(master.address, tokenFile) : undefined);
        await clients.ready();
        setups.push({ mode, db, master, clients });
        results.set(mode, { perSecond: [], cpuUsPerTask: [], failed: 0 });
        await closedLoopSubmits(clients, IN_FLIGHT, performance.now() + WARMUP_MS);
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of setups) {
          await s.db.vacuum();
          const end = cpuWindow(s.master.pid, s.db.name);
          const started = performance.now();
          const r = await closedLoopSubmits(s.clients, IN_FLIGHT, started + MEASURE_MS);
          const seconds = (performance.now() - started) / 1000;
          const cpu = end();
          const entry = results.get(s.mode)!;
          const perSecond = r.acked / seconds;
          entry.perSecond.push(perSecond);
          entry.cpuUsPerTask.push((cpu.master / Math.max(1, perSecond)) * 1e6);
          entry.failed += r.failed;
          if (r.failed > 0) process.stderr.write(`auth bench (${s.mode}): ${r.failed} calls failed (${r.firstError})\n`);
        }
      }
    } finally {
      for (const s of setups) {
        s.clients.close();
        await s.master.stop();
        await s.db.drop();
      }
      rmSync(dir, { recursive: true, force: true });
    }
    const off = results.get("auth off")!;
    const table: Table = {
      header: ["mode", "acknowledged tasks/s (median)", "per round", "master CPU us per task (median)", "failed", "vs auth off"],
      rows: [...results].map(([mode, r]) => [
        mode,
        num(median(r.perSecond)),
        r.perSecond.map(num).join(" / "),
        num(median(r.cpuUsPerTask)),
        String(r.failed),
        mode === "auth off" ? "-" : `${(((median(r.perSecond) - median(off.perSecond)) / median(off.perSecond)) * 100).toFixed(1)}%`,
      ]),
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, ${setups[0]?.db.label ?? "Postgres"}.`,
      "",
      `Method: two masters in their own processes, each on its own database: auth off, and auth on with every call carrying a submitter token. ` +
        `${IN_FLIGHT} unary \`SubmitTask\` calls in flight over ${CHANNELS} channels (closed loop), ${MEASURE_MS / 1000} s per measurement after a ` +
        `${WARMUP_MS / 1000} s warm-up, the two alternating over ${ROUNDS} rounds; medians. Master CPU per task from /proc.`,
      "",
      "Reading: a token is verified once per master (database read + scrypt) and then served from memory by its exact header value, so an " +
        "authenticated call adds a map lookup, the RPC rule check, the project rule on the spec and the audit actor on the event. " +
        "The difference is expected to be within the run-to-run spread of this machine (up to 2x between runs).",
      "",
      tableMarkdown(table),
    ].join("\n");
    return { text: tableText(table), markdown };
  },
};
