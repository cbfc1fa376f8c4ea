// Which master benchmark children run: the compiled dist/ (what `npm start` and the `taskgrid` CLI
// run once `npm install` has built it), built once per benchmark process so that the code measured
// is the code checked out, never a stale build. TASKGRID_BENCH_FROM_SOURCES=1 runs the sources
// through tsx instead: its transform wraps every function in a naming helper and its loader
// compiles at start, a few percent of a master's CPU that no installed master spends.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let built: Promise<string | undefined> | null = null;

/** The module a child imports startMaster from; undefined: the sources (master-child.ts's own import). */
export function masterModule(): Promise<string | undefined> {
  if (process.env.TASKGRID_BENCH_FROM_SOURCES === "1") return Promise.resolve(undefined);
  built ??= promisify(execFile)(process.execPath, [`${ROOT}bin/build.mjs`], { cwd: ROOT }).then(() => `${ROOT}dist/master/master.js`);
  return built;
}
