// Starts a master in a child process for a benchmark (see master-child.ts) and talks to it over
// IPC. The child runs the compiled master (compiled-master.ts). TASKGRID_BENCH_PROFILE=DIR runs the child under `node --cpu-prof` and writes its profile
// into DIR when it stops (open it in Chrome DevTools or speedscope).
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { MasterOptions } from "../../master/master.js";
import { binNodeFlags } from "../helpers/processes.js";
import { masterModule } from "./compiled-master.js";
import type { FromChild, ToChild } from "./master-child.js";

const CHILD = fileURLToPath(new URL("./master-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type MasterStats = Omit<Extract<FromChild, { type: "stats" }>, "type">;

export interface MasterProcess {
  address: string;
  pid: number;
  stats(): Promise<MasterStats>;
  /** Graceful stop (flushes writes, writes the CPU profile); SIGKILL if it takes over 20 s. */
  stop(): Promise<void>;
  /** The last lines the master logged (for error reports). */
  logTail(): string;
}

export async function startMasterProcess(options: MasterOptions): Promise<MasterProcess> {
  const profileDir = process.env.TASKGRID_BENCH_PROFILE;
  // The flags an installed `taskgrid master` runs with (its shebang's), so the master measured is that one.
  const execArgv = ["--import", "tsx", ...binNodeFlags(), ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [])];
  const compiled = await masterModule();
  const child: ChildProcess = fork(CHILD, [JSON.stringify({ listen: "127.0.0.1:0", metrics: "127.0.0.1:0", ...options })], {
    cwd: ROOT,
    env: compiled ? { ...process.env, TASKGRID_BENCH_MASTER_MODULE: compiled } : process.env,
    execArgv,
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let tail = "";
  child.stderr!.on("data", (d: Buffer) => (tail = (tail + d.toString()).slice(-8000)));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const waitFor = <T extends FromChild["type"]>(type: T) =>
    new Promise<Extract<FromChild, { type: T }>>((resolve, reject) => {
      const onMessage = (m: FromChild) => {
        if (m.type !== type) return;
        child.off("message", onMessage);
        resolve(m as Extract<FromChild, { type: T }>);
      };
      child.on("message", onMessage);
      void exited.then((code) => reject(new Error(`master exited (${code}) while waiting for ${type}:\n${tail}`)));
    });
  const ready = await waitFor("ready");
  const send = (m: ToChild) => child.send(m);
  return {
    address: ready.address,
    pid: child.pid!,
    async stats() {
      const reply = waitFor("stats");
      send({ type: "stats" });
      const { type: _, ...stats } = await reply;
      return stats;
    },
    async stop() {
      if (child.exitCode !== null) return;
      send({ type: "stop" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
    logTail: () => tail,
  };
}
