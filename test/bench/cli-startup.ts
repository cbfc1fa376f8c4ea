// How long `taskgrid ls` takes, start to exit, against a running master: from the compiled dist/
// (what bin/taskgrid.js runs once `npm run build` has) and from the sources through tsx
// (TASKGRID_FROM_SOURCES=1). Standalone: `node --import tsx test/bench/cli-startup.ts [runs]`.
import { fork, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { BIN, ROOT } from "../helpers/processes.js";

const runs = Number(process.argv[2] ?? 10);

function timeRuns(address: string, env: Record<string, string>): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    // spawnSync would block this process's event loop and with it the in-process master: use a separate one.
    const r = spawnSync(process.execPath, [BIN, "ls", "--master", address], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8" });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (r.status !== 0) throw new Error(`taskgrid ls failed: ${r.stderr}`);
  }
  return times;
}

const summary = (label: string, t: number[]) => {
  const sorted = [...t].sort((a, b) => a - b);
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  return `${label.padEnd(28)} median ${sorted[Math.floor(t.length / 2)].toFixed(0)} ms, mean ${mean.toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[t.length - 1].toFixed(0)} ms (${t.length} runs)`;
};

// The master runs in a child process so the timed CLI never waits on this process's event loop.
const master = fork(BIN, ["master", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--data-dir", `${ROOT}.taskgrid/bench-cli-startup`], {
  cwd: ROOT,
  env: { ...process.env, TASKGRID_LOG_FORMAT: "json" },
  stdio: ["ignore", "ignore", "pipe", "ipc"],
});
const address = await new Promise<string>((resolve, reject) => {
  let text = "";
  master.stderr!.on("data", (d: Buffer) => {
    text += d.toString();
    const m = text.match(/"message":"master listening","address":"([^"]+)"/);
    if (m) resolve(m[1]);
  });
  master.on("exit", (code) => reject(new Error(`master exited (${code}): ${text}`)));
});
try {
  timeRuns(address, {}); // warm the file cache
  if (existsSync(`${ROOT}dist/.build-stamp`)) console.log(summary("dist/ (compiled)", timeRuns(address, {})));
  else console.log("dist/ not built: npm run build");
  console.log(summary("sources through tsx", timeRuns(address, { TASKGRID_FROM_SOURCES: "1" })));
} finally {
  master.kill("SIGTERM");
}
