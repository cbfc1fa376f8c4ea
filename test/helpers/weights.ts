// Shared by the weights watcher tests: a watcher on a temp file (stopped and removed after each
// test), atomic replacement like the GA tuner's, two valid weight files, a recording logger.
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { test } from "uvu";
import { WeightsWatcher, type WeightsWatcherOptions } from "../../master/weights-watcher.js";
import { formatWeightsFile } from "../../src/core/rts/weights-file.js";
import type { Weights, WeightSet } from "../../src/core/rts/weights.js";
import type { Logger } from "../../master/logger.js";

export interface Line {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

export function recordingLogger(): Logger & { lines: Line[]; errors: () => Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      void lines.push({ level, message, fields });
  return { lines, errors: () => lines.filter((l) => l.level === "error"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

const dirs: string[] = [];
const watchers: WeightsWatcher[] = [];
/** Call once per test file: stops the watchers after each test, removes the temp dirs at the end. */
export function cleanUpWatchers(t: typeof test): void {
  t.after.each(() => {
    while (watchers.length) watchers.pop()!.stop();
  });
  t.after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
}

export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "taskgrid-weights-"));
  dirs.push(d);
  return d;
}

let tmpSeq = 0;
/** How the GA tuner and editors replace the file: write a temp file, rename it over the target. */
export async function replaceAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${++tmpSeq}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

export const W1: Weights = { deadline: 0.4, affinity: 0.1, load: 0.2, io: 0.1, success: 0.15, penalty: 0.05 };
export const W2: Weights = { deadline: 0.1, affinity: 0.3, load: 0.3, io: 0.1, success: 0.1, penalty: 0.1 };
export const FILE1 = formatWeightsFile(W1, { generation: "1", fitness: "0.8", created_at: '"2025-01-01T00:00:00Z"' });
export const FILE2 = formatWeightsFile(W2, { generation: "2" });

export function fakeClock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

/** A watcher whose onChange resolves waitFor(version) promises; stopped after each test. */
export async function setup(opts: Partial<WeightsWatcherOptions> & { initial?: string | null } = {}) {
  const dir = await tempDir();
  const path = join(dir, "ga_output.json");
  if (opts.initial !== undefined && opts.initial !== null) await writeFile(path, opts.initial);
  const log = recordingLogger();
  const clock = fakeClock();
  const changes: WeightSet[] = [];
  const waiters: Array<{ version: string; resolve: (s: WeightSet) => void }> = [];
  const w = new WeightsWatcher({
    path,
    log,
    clock,
    pollIntervalMs: 50,
    ...opts,
    onChange: (s) => {
      changes.push(s);
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].version === s.version) waiters.splice(i, 1)[0].resolve(s);
      opts.onChange?.(s);
    },
  });
  watchers.push(w);
  /** Resolves on the onChange for `version` (a guard rejects after timeoutMs so a bug fails, not hangs). */
  const waitFor = (version: string, timeoutMs = 4000, what = "change") =>
    new Promise<WeightSet>((resolve, reject) => {
      if (w.current().version === version) return resolve(w.current());
      const guard = setTimeout(() => reject(new Error(`no onChange for ${version} (${what}) within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ version, resolve: (s) => (clearTimeout(guard), resolve(s)) });
    });
  return { dir, path, log, clock, w, changes, waitFor };
}
