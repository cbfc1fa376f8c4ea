// Cold start and idle footprint (issue 18). `npm start` (= `taskgrid dev`: a master on a fresh
// embedded database plus a local agent) is timed from spawn to "master listening" and to "agent
// connected", with the PGlite template (src/store/pglite-template.ts) present and absent (an
// empty cache dir: the first start on a machine, which builds the template). Then the idle RSS,
// summed over the process tree `npm start` leaves running, ~10 s after it is ready; and the same
// for `taskgrid master --database-url postgres://...`. Targets: <= 3 s to ready with the template,
// <= 150 MiB idle for npm start, <= 100 MiB for a master on Postgres.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, binNodeFlags, ROOT } from "../helpers/processes.js";
import { createBenchDatabase } from "./bench-db.js";
import { median, num, sleep, tableMarkdown, tableText, verdict, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const RUNS = Number(process.env.TASKGRID_BENCH_COLD_RUNS ?? 3);
const IDLE_MS = 10_000;
const READY_TARGET_S = 3;
const DEV_RSS_TARGET_MIB = 150;
const PG_RSS_TARGET_MIB = 100;

/** `npm start`'s command line, read from package.json so that the benchmark follows it. */
function npmStartArgv(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.split(/\s+/);
  if (node !== "node" || args.at(-1) !== "dev") throw new Error(`cold-start: npm start is not \`node ... dev\`: ${pkg.scripts.start}`);
  return args;
}

interface Started {
  listeningS: number;
  readyS: number;
  rssMiB: number;
}

/** Spawns `args`, waits for `readyLine`, then (optionally) ~10 s idle, measures, and stops it. */
async function startAndMeasure(args: string[], env: Record<string, string>, readyLine: RegExp, measureRss: boolean): Promise<Started> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let listeningS = Number.NaN;
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (Number.isNaN(listeningS) && /master listening/.test(output)) listeningS = (performance.now() - started) / 1000;
        if (readyLine.test(output)) resolve();
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      void exited.then(() => reject(new Error(`cold-start: ${args.join(" ")} exited before it was ready:\n${output.slice(-4000)}`)));
    });
    const readyS = (performance.now() - started) / 1000;
    if (!measureRss) return { listeningS, readyS, rssMiB: Number.NaN };
    await sleep(IDLE_MS);
    return { listeningS, readyS, rssMiB: treeRss(child.pid!) / 2 ** 20 };
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

/** RSS of a process and all its descendants (Linux /proc), in bytes. */
function treeRss(pid: number): number {
  let sum = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      sum += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) * 1024;
      const children = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim();
      if (children) stack.push(...children.split(/\s+/).map(Number));
    } catch {
      // The process ended between listing and reading.
    }
  }
  return sum;
}

/** bin/taskgrid.js runs the sources through tsx with this set, even when dist/ is up to date. */
const FROM_SOURCES = { TASKGRID_FROM_SOURCES: "1" };

interface Row {
  label: string;
  runs: Started[];
  /** Which figure the target is about. */
  targetOn: "ready" | "rss" | null;
  target: number;
}

export const coldStartBench: BenchModule = {
  name: "cold-start",
  section: "Cold start and idle footprint",
  async run(env: BenchEnv): Promise<BenchResult> {
    // The "npm start" rows measure the compiled CLI, as a fresh install runs it: with a source edited
    // since the last build, bin/taskgrid.js would silently run the sources instead.
    const built = spawnSync(process.execPath, [join(ROOT, "bin/build.mjs")], { cwd: ROOT, encoding: "utf8" });
    if (built.status !== 0) throw new Error(`cold-start: npm run build failed:\n${built.stderr}`);
    const work = mkdtempSync(join(tmpdir(), "taskgrid-cold-start-"));
    const devArgs = npmStartArgv();
    const devOn =
      (cli: string[], extraEnv: Record<string, string> = {}) =>
      (cacheDir: string, measureRss: boolean) =>
        startAndMeasure(
          [...cli, "dev", "--data-dir", mkdtempSync(join(work, "data-")), "--listen", "127.0.0.1:0"],
          { TASKGRID_CACHE_DIR: cacheDir, ...extraEnv },
          /agent \S+ connected/,
          measureRss,
        );
    const dev = devOn(devArgs.slice(0, -1));
    const rows: Row[] = [];
    try {
      // Template absent: every run on an empty cache dir (it builds the template, then copies it).
      const absent: Started[] = [];
      for (let i = 0; i < RUNS; i++) absent.push(await dev(mkdtempSync(join(work, "cache-empty-")), false));
      rows.push({ label: "npm start, fresh data dir, no template (first start)", runs: absent, targetOn: null, target: 0 });
      // Template present: one shared cache dir, made by a first start that is not counted.
      const cache = mkdtempSync(join(work, "cache-"));
      await dev(cache, false);
      const present: Started[] = [];
      for (let i = 0; i < RUNS; i++) present.push(await dev(cache, i === RUNS - 1));
      rows.push({ label: "npm start, fresh data dir, template", runs: present, targetOn: "ready", target: READY_TARGET_S });
      rows.push({ label: "npm start idle RSS (dev + agent's lease guard)", runs: [present[RUNS - 1]], targetOn: "rss", target: DEV_RSS_TARGET_MIB });
      const sourcesDev = devOn(devArgs.slice(0, -1), FROM_SOURCES);
      const sources: Started[] = [];
      for (let i = 0; i < RUNS; i++) sources.push(await sourcesDev(cache, i === RUNS - 1));
      rows.push({ label: "from the sources (tsx), fresh data dir, template", runs: sources, targetOn: "ready", target: READY_TARGET_S });
      rows.push({ label: "from the sources (tsx), idle RSS", runs: [sources[RUNS - 1]], targetOn: "rss", target: DEV_RSS_TARGET_MIB });
      // A master on Postgres as the installed bin runs it (compiled, its shebang's node flags), and from the sources.
      const db = await createBenchDatabase();
      try {
        const url = db.options.databaseUrl;
        if (!url) throw new Error("cold-start: the Postgres master needs a Postgres server (TASKGRID_BENCH_PG_URL)");
        // With the installed bin's node flags (its shebang), as `taskgrid master` runs.
        const master = (env: Record<string, string>) =>
          startAndMeasure([...binNodeFlags(), BIN, "master", "--database-url", url, "--listen", "127.0.0.1:0"], env, /master listening/, true);
        rows.push({ label: "taskgrid master --database-url, idle RSS", runs: [await master({})], targetOn: "rss", target: PG_RSS_TARGET_MIB });
        rows.push({ label: "the same from the sources (tsx), idle RSS", runs: [await master(FROM_SOURCES)], targetOn: "rss", target: PG_RSS_TARGET_MIB });
      } finally {
        await db.drop();
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const seconds = (xs: number[]) => `${num(median(xs))} s`;
    const table: Table = {
      header: ["case", "runs", "to master listening (median)", "to agent connected (median)", "idle RSS", "target", "verdict"],
      rows: rows.map((r) => {
        const ready = median(r.runs.map((x) => x.readyS));
        const rss = r.runs[r.runs.length - 1].rssMiB;
        const met = r.targetOn === "ready" ? ready <= r.target : rss <= r.target;
        return [
          r.label,
          String(r.runs.length),
          r.targetOn === "rss" ? "-" : seconds(r.runs.map((x) => x.listeningS)),
          r.targetOn === "rss" ? "-" : seconds(r.runs.map((x) => x.readyS)),
          Number.isNaN(rss) ? "-" : `${num(rss)} MiB`,
          r.targetOn === null ? "-" : `<= ${r.target} ${r.targetOn === "ready" ? "s" : "MiB"}`,
          r.targetOn === null ? "-" : verdict(met),
        ];
      }),
    };
    const command = `node ${devArgs.join(" ")}`;
    const intro =
      `${env.date}, ${env.machine}. \`npm start\` is \`${command}\` with a fresh \`--data-dir\`; ` +
      '"no template" gives it an empty TASKGRID_CACHE_DIR (the first start on a machine: it builds the template), ' +
      `"template" a cache dir that holds one. Idle RSS: the process tree's VmRSS ${IDLE_MS / 1000} s after it is ready. ` +
      'bin/taskgrid.js runs the compiled CLI in dist/ (built by `npm install`) when it is up to date; the "from the sources" rows ' +
      "force tsx (TASKGRID_FROM_SOURCES=1), what a checkout with edited sources runs. The Postgres master is started as the installed " +
      `bin runs it: \`node ${binNodeFlags().join(" ")} bin/taskgrid.js master\` (the flags of its shebang line).`;
    return { text: `${intro}\n\n${tableText(table)}`, markdown: `${intro}\n\n${tableMarkdown(table)}` };
  },
};
