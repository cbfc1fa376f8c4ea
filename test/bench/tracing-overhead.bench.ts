// The cost of tracing on unary submit throughput, on and off (docs/benchmarks.md "Tracing overhead
// on unary submit throughput"; DESIGN §7 traces, measured against the DESIGN §8 submit rate).
//
// The same closed-loop SubmitTask load as the submit benchmark (a master in its own process on
// Postgres, no agents), then a steady open-loop rate to measure the master's CPU time per task
// (steadier than throughput on a shared machine), against three masters: tracing off (no OTEL endpoint: nothing loaded),
// tracing on with each task its own trace, and tracing on with every call carrying a caller's
// `traceparent` (the submit spans become its children). "On" exports OTLP/HTTP to a local sink in
// this process that reads and discards each export (counting its spans), as a collector on another
// machine would take them. Configurations alternate over three rounds, each run on a fresh
// database; medians are reported.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { TaskServiceClient } from "../../src/gen/taskgrid/v1/task_service.js";
import type { MasterOptions } from "../../master/master.js";
import { createBenchDatabase } from "./bench-db.js";
import { cpuWindow } from "./cpu.js";
import { NOOP_SPEC } from "./load/task-clients.js";
import { systemClock } from "../../master/clock.js";
import { TaskTracing, type SubmitOrigin } from "../../master/task-tracing.js";
import { startTracing, type TracingOptions } from "../../src/telemetry/tracing.js";
import { task } from "../helpers/domain.js";
import { startMasterProcess } from "./master-process.js";
import { num, tableMarkdown, tableText, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const CHANNELS = 4;
const IN_FLIGHT = 128;
const WARMUP_MS = 3000;
const MEASURE_MS = 8000;
const ROUNDS = 3;
const STEADY_RATE = 1000;
const STEADY_MS = 6000;
const CALLER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

type Mode = "off" | "on" | "on, caller traceparent";
const MODES: Mode[] = ["off", "on", "on, caller traceparent"];

/** Accepts OTLP/HTTP exports and drops them, counting requests, bytes and spans. */
async function startSink() {
  const counts = { requests: 0, bytes: 0, spans: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      counts.requests++;
      counts.bytes += body.length;
      counts.spans += body.toString("latin1").split('"traceId"').length - 1; // one per span (no links here)
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, counts, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function submitOne(clients: TaskServiceClient[], at: number, traceparent: string | null): Promise<boolean> {
  const md = new grpc.Metadata();
  if (traceparent) md.set("traceparent", traceparent);
  return new Promise((resolve) => clients[at % clients.length].submitTask({ spec: NOOP_SPEC }, md, (err) => resolve(!err)));
}

/** Closed loop: IN_FLIGHT SubmitTask calls outstanding until `stopAt`, optionally each with a traceparent. */
async function submitLoop(clients: TaskServiceClient[], traceparent: string | null, stopAt: number): Promise<{ acked: number; failed: number }> {
  let acked = 0;
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < stopAt) {
        if (await submitOne(clients, next++, traceparent)) acked++;
        else failed++;
      }
    }),
  );
  return { acked, failed };
}

/** Open loop at a steady `perSecond` for `ms` (sent on a 5 ms tick, whatever the answers do); waits for every answer. */
async function steadyRate(clients: TaskServiceClient[], traceparent: string | null, perSecond: number, ms: number): Promise<{ acked: number; failed: number }> {
  const calls: Array<Promise<boolean>> = [];
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(ms, performance.now() - started);
      const due = Math.floor((elapsed / 1000) * perSecond);
      while (calls.length < due) calls.push(submitOne(clients, calls.length, traceparent));
      if (elapsed >= ms) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  const results = await Promise.all(calls);
  const acked = results.filter(Boolean).length;
  return { acked, failed: results.length - acked };
}

interface Run {
  mode: Mode;
  /** Closed loop. */
  perSecond: number;
  /** Master CPU per task at the steady rate, in microseconds. */
  steadyCpuUs: number;
  failed: number;
  /** Spans the sink received / tasks acknowledged over the whole run (after the master's final flush). */
  spansPerTask: number;
}

async function runOnce(mode: Mode, sink: Awaited<ReturnType<typeof startSink>>): Promise<Run> {
  const db = await createBenchDatabase();
  const spansBefore = sink.counts.spans;
  const tracing: MasterOptions["tracing"] = mode === "off" ? undefined : { env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } };
  const master = await startMasterProcess({ ...db.options, ...(tracing ? { tracing } : {}) });
  const clients = Array.from(
    { length: CHANNELS },
    () => new TaskServiceClient(master.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
  );
  const traceparent = mode === "on, caller traceparent" ? CALLER_TRACEPARENT : null;
  try {
    const deadline = Date.now() + 10_000;
    await Promise.all(clients.map((c) => new Promise<void>((res, rej) => c.waitForReady(deadline, (e) => (e ? rej(e) : res())))));
    const warm = await submitLoop(clients, traceparent, performance.now() + WARMUP_MS);
    await db.vacuum();
    const started = performance.now();
    const r = await submitLoop(clients, traceparent, started + MEASURE_MS);
    const seconds = (performance.now() - started) / 1000;
    const end = cpuWindow(master.pid, db.name);
    const steady = await steadyRate(clients, traceparent, STEADY_RATE, STEADY_MS);
    const steadyCores = end().master;
    for (const c of clients) c.close();
    await master.stop(); // flushes the spans still queued
    const tasks = warm.acked + r.acked + steady.acked;
    return {
      mode,
      perSecond: r.acked / seconds,
      steadyCpuUs: (steadyCores * 1e6) / STEADY_RATE,
      failed: warm.failed + r.failed + steady.failed,
      spansPerTask: (sink.counts.spans - spansBefore) / Math.max(1, tasks),
    };
  } finally {
    for (const c of clients) c.close();
    await master.stop();
    await db.drop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const ISOLATION_TASKS = 100_000;
const ISOLATION_BATCH = 128;

/**
 * CPU time of the master's tracing work per submitted task, measured alone in this process: the
 * submit span (start, traceparent for the task row, end) and its export, without a master or a
 * database, so the figure holds still on a busy machine. null options = tracing off.
 */
async function tracingWorkNs(options: TracingOptions | null): Promise<number> {
  const tracing = new TaskTracing(options ? await startTracing(options) : await startTracing({ serviceName: "bench", env: {} }), systemClock);
  const tasks = Array.from({ length: ISOLATION_BATCH }, (_, i) => task({ name: "bench" }, { id: `0193a8d1-aaaa-7bbb-8ccc-${String(i).padStart(12, "0")}` }));
  const origin: SubmitOrigin = { method: "SubmitTask", carrier: () => undefined };
  const pass = async () => {
    for (let i = 0; i < ISOLATION_TASKS / ISOLATION_BATCH; i++) {
      tracing.submitted(tasks, origin, Date.now()).end();
      await new Promise((r) => setImmediate(r)); // lets the batch processor's timer and exports run, as in the master
    }
    await tracing.tracing.forceFlush();
  };
  await pass(); // warm-up (JIT)
  const before = process.cpuUsage();
  await pass();
  const used = process.cpuUsage(before);
  await tracing.shutdown();
  return ((used.user + used.system) * 1000) / ISOLATION_TASKS;
}

export const tracingOverheadBench: BenchModule = {
  name: "tracing",
  section: "Tracing overhead on unary submit throughput",
  async run(env: BenchEnv): Promise<BenchResult> {
    const sink = await startSink();
    const runs: Run[] = [];
    const noopExporter = {
      export: (_: unknown, done: (r: { code: number }) => void) => done({ code: 0 }),
      shutdown: async () => {},
      forceFlush: async () => {},
    };
    const work: Array<[string, number]> = [];
    try {
      work.push(["off (the hooks return at once; this is mostly the harness loop)", await tracingWorkNs(null)]);
      work.push(["on, spans only (no-op exporter)", await tracingWorkNs({ serviceName: "bench", exporter: noopExporter })]);
      work.push(["on, OTLP/HTTP export to the sink", await tracingWorkNs({ serviceName: "bench", env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } })]);
      for (let round = 0; round < ROUNDS; round++) for (const mode of MODES) runs.push(await runOnce(mode, sink));
    } finally {
      await sink.close();
    }
    const of = (mode: Mode) => runs.filter((r) => r.mode === mode);
    const offRate = median(of("off").map((r) => r.perSecond));
    const offCpu = median(of("off").map((r) => r.steadyCpuUs));
    const change = (value: number, base: number) => `${value >= base ? "+" : ""}${(((value - base) / base) * 100).toFixed(1)}%`;
    const table: Table = {
      header: [
        "tracing",
        "tasks/s, closed loop (median)",
        "each run",
        "vs off",
        `master CPU per task at ${num(STEADY_RATE)}/s (median)`,
        "each run",
        "vs off",
        "spans exported per task",
        "failed",
      ],
      rows: MODES.map((mode) => {
        const rs = of(mode);
        const rate = median(rs.map((r) => r.perSecond));
        const cpuUs = median(rs.map((r) => r.steadyCpuUs));
        return [
          mode,
          num(rate),
          rs.map((r) => num(r.perSecond)).join(", "),
          mode === "off" ? "-" : change(rate, offRate),
          `${num(cpuUs)} us`,
          rs.map((r) => num(r.steadyCpuUs)).join(", "),
          mode === "off" ? "-" : change(cpuUs, offCpu),
          mode === "off" ? "0" : median(rs.map((r) => r.spansPerTask)).toFixed(2),
          String(rs.reduce((a, r) => a + r.failed, 0)),
        ];
      }),
    };
    const offRates = of("off").map((r) => r.perSecond);
    const spread = Math.max(...offRates) - Math.min(...offRates);
    const withinSpread = MODES.every((mode) => Math.abs(median(of(mode).map((r) => r.perSecond)) - offRate) <= spread);
    const workTable: Table = {
      header: ["tracing", "CPU per submitted task", "cores at 4,500 tasks/s"],
      rows: work.map(([label, ns]) => [label, ns < 1000 ? `${num(ns)} ns` : `${num(ns / 1000)} us`, ((ns * 4500) / 1e9).toFixed(3)]),
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, Postgres.`,
      "",
      `Method: the submit benchmark's load (a master in its own process, no agents; ${IN_FLIGHT} unary \`SubmitTask\` calls in flight over ${CHANNELS} channels ` +
        `for ${MEASURE_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up), then ${STEADY_MS / 1000} s at a steady ${num(STEADY_RATE)} submits/s (open loop) ` +
        "to measure the master's CPU time per task, against a master with tracing off (no OTLP endpoint), on (each task its own trace: one " +
        "`taskgrid.submit` span per task, its traceparent stored in the task row), and on with a caller `traceparent` on every call. " +
        `Spans go over OTLP/HTTP (JSON, batched) to a sink in the load generator's process that reads and discards them. ${ROUNDS} rounds, modes alternating, ` +
        'each run on a fresh database. "spans exported per task" counts what reached the sink after the master\'s final flush (1.00 = none dropped). ' +
        "Closed-loop throughput swings with whatever else runs on the machine; CPU per task at a fixed rate is the steadier measure of what tracing costs.",
      "",
      tableMarkdown(table),
      "",
      `The tracing work alone (\`TaskTracing.submitted\` + end for ${num(ISOLATION_TASKS)} tasks in batches of ${ISOLATION_BATCH}, in the load generator's process, ` +
        "after a warm-up pass; the export row includes the sink reading the exports in the same process, so it is an upper bound):",
      "",
      tableMarkdown(workTable),
      "",
      `Reading: with tracing on, the master does about ${num(work[2][1] / 1000)} us more work per submitted task in isolation ` +
        `(${((work[2][1] * 4500) / 1e9).toFixed(2)} cores at DESIGN §8's 4,500 tasks/s); in the running master, where the JIT and GC share the process ` +
        "with everything else, a CPU profile shows a few times that (span start/end plus OTLP JSON serialisation). Between runs of the same mode the " +
        `closed-loop figures above spread from ${num(Math.min(...offRates))} to ${num(Math.max(...offRates))} tasks/s ` +
        `(tracing off) on this shared machine; the medians of the traced modes are ${withinSpread ? "within" : "outside"} that spread.`,
    ].join("\n");
    return { text: `${tableText(table)}\n\n${tableText(workTable)}`, markdown };
  },
};
