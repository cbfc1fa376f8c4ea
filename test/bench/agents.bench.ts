// Many connected agents (DESIGN §8: 10,000 connected agents on one master, heartbeats every 3 s,
// master RSS <= 1 GiB).
//
// A master in its own process on Postgres; a load-generator process of its own opens 10,000 raw
// agent streams over several HTTP/2 connections (load/agents-child.ts): each registers, then sends a
// heartbeat with telemetry every 3 s (spread over the interval). After all registered, the master's
// RSS is sampled over several heartbeat rounds; at the end every worker must still be ONLINE.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createBenchDatabase } from "./bench-db.js";
import { cpuWindow, type CpuWindow } from "./cpu.js";
import type { AgentsFromChild, AgentsToChild } from "./load/agents-child.js";
import { startMasterProcess } from "./master-process.js";
import { mib, num, sleep, tableMarkdown, tableText, verdict, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const AGENTS = 10_000;
const CHANNELS = 20;
const HEARTBEAT_MS = 3000;
const HOLD_MS = 4 * HEARTBEAT_MS;
const TARGET_RSS = 2 ** 30;
const CHILD = fileURLToPath(new URL("./load/agents-child.ts", import.meta.url));

export const agentsBench: BenchModule = {
  name: "agents",
  section: "Many connected agents",
  async run(env: BenchEnv): Promise<BenchResult> {
    const db = await createBenchDatabase();
    const master = await startMasterProcess({ ...db.options, heartbeatIntervalMs: HEARTBEAT_MS });
    const idleRss = (await master.stats()).rssBytes;
    const child = fork(CHILD, [JSON.stringify({ address: master.address, agents: AGENTS, channels: CHANNELS })], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const next = <T extends AgentsFromChild["type"]>(type: T) =>
      new Promise<Extract<AgentsFromChild, { type: T }>>((resolve) => {
        const on = (m: AgentsFromChild) => m.type === type && (child.off("message", on), resolve(m as never));
        child.on("message", on);
      });
    let registerMs = NaN;
    let peakRss = 0;
    let _endRss = 0;
    let online = 0;
    let workers = 0;
    let ended = 0;
    let cpu: CpuWindow;
    let agentsCores = NaN;
    try {
      const registered = await Promise.race([next("registered"), sleep(180_000).then(() => null)]);
      if (registered) registerMs = registered.ms;
      const end = cpuWindow(master.pid, db.name);
      const agentsEnd = cpuWindow(child.pid!);
      const until = performance.now() + HOLD_MS;
      while (performance.now() < until) {
        peakRss = Math.max(peakRss, (await master.stats()).rssBytes);
        await sleep(500);
      }
      cpu = end();
      agentsCores = agentsEnd().master;
      const s = await master.stats();
      _endRss = s.rssBytes;
      online = s.workersOnline;
      workers = s.workers;
      const counted = next("count");
      child.send({ type: "count" } satisfies AgentsToChild);
      ended = (await counted).ended;
    } finally {
      child.send({ type: "stop" } satisfies AgentsToChild);
      await new Promise((r) => child.on("exit", r));
      await master.stop();
      await db.drop();
    }
    const allOnline = online === AGENTS && ended === 0;
    const table: Table = {
      header: [
        "agents",
        "all registered in",
        "ONLINE at the end",
        "master RSS peak",
        "target",
        "RSS idle before",
        "streams ended",
        "CPU over the hold (cores)",
      ],
      rows: [
        [
          num(AGENTS),
          Number.isFinite(registerMs) ? `${(registerMs / 1000).toFixed(1)} s` : "NOT within 180 s",
          `${num(online)} of ${num(workers)}`,
          mib(peakRss),
          `<= 1 GiB: ${verdict(peakRss <= TARGET_RSS && allOnline)}`,
          mib(idleRss),
          String(ended),
          `master ${cpu.master.toFixed(2)}, agents process ${agentsCores.toFixed(2)}, Postgres ${cpu.postgres.toFixed(2)}, machine ${cpu.machine.toFixed(2)} of ${cpu.cores}`,
        ],
      ],
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, ${db.label}.`,
      "",
      `Method: a master in its own process (metrics on); a load-generator process of its own opens ${num(AGENTS)} raw agent streams over ${CHANNELS} HTTP/2 connections; ` +
        `each registers, then heartbeats with telemetry every ${HEARTBEAT_MS / 1000} s (spread over the interval, ~${num(AGENTS / (HEARTBEAT_MS / 1000))} heartbeats/s). ` +
        `Once all are registered, the master's RSS is sampled every 0.5 s for ${HOLD_MS / 1000} s (${HOLD_MS / HEARTBEAT_MS} heartbeat rounds); ` +
        '"ONLINE at the end" is the master\'s own view; "streams ended" counts agent streams the master closed. CPU is over the hold.',
      "",
      "Reading: per agent the master holds an HTTP/2 stream, a session and a worker slot; a heartbeat updates memory only (status changes are " +
        "written, heartbeats are not), so once the registrations are committed Postgres has nothing to do.",
      "",
      tableMarkdown(table),
      "",
      "Target (DESIGN §8): 10,000 connected agents on one master, heartbeats every 3 s, master RSS <= 1 GiB.",
    ].join("\n");
    return { text: tableText(table), markdown };
  },
};
