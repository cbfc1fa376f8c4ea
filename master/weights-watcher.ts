// Hot reload of the RTS weights file (DESIGN §3): watch, validate, swap atomically.
//
// - Watches the file's DIRECTORY with fs.watch, filtered to the file name (editors and the GA
//   tuner replace the file by rename, which would orphan a watch on the file itself), plus an
//   mtime/size/inode poll every pollIntervalMs (<= 5 s) as the safety net for filesystems whose
//   events are unreliable.
// - Each check reads the file, hashes it (sha256, first 12 hex chars = version) and, when the
//   version differs from the current one, parses and validates it. A valid file replaces the
//   current WeightSet with one reference assignment (a decision sees the old or the new set,
//   never a mix; sets are frozen). A bad file (invalid JSON, truncated mid-write, missing key,
//   negative, not a number, all zero) never takes effect: the last good set stays, the error is
//   recorded, counted and logged once per file content version.
// - Missing file at start: the built-in DEFAULT_WEIGHTS (version "defaults"). A file that
//   disappears later: the last good set stays, an error is recorded once.
import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { parseWeightsFile } from "../src/core/rts/weights-file.js";
import { DEFAULT_WEIGHTS, type WeightSet } from "../src/core/rts/weights.js";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";

export const DEFAULTS_VERSION = "defaults";
export const MAX_POLL_INTERVAL_MS = 5000;

export interface WeightsWatcherOptions {
  path: string;
  log: Logger;
  clock: Clock;
  /** mtime/size/inode poll period; default 1000, must be in (0, 5000]. */
  pollIntervalMs?: number;
  /** Called after each successful swap once start() has resolved (not for the initial load). */
  onChange?: (set: WeightSet) => void;
  /** Called for each counted reload attempt (for the `taskgrid_weights_reloads_total{result}` metric). */
  onReload?: (result: "success" | "failure", set: WeightSet) => void;
  /** fs.watch on the directory (default true). false = poll only (tests of the safety net). */
  fsEvents?: boolean;
}

export interface WeightsInfo {
  path: string;
  version: string;
  loadedAtMs: number;
  source: "file" | "defaults";
  lastError: string;
  lastErrorAtMs: number | null;
  reloads: { success: number; failure: number };
  metadata: Record<string, string>;
}

/** Content version of a weights file: sha256 of its bytes, first 12 hex chars. */
export function weightsVersion(content: Buffer | string): string {
  return createHash("sha256").update(content).digest("hex").slice(0, 12);
}

/** One line for `taskgrid info` / logs, e.g. "defaults (no file at config/ga_output.json)". */
export function describeWeightsInfo(info: WeightsInfo): string {
  if (info.source === "defaults") {
    return info.lastError === "" ? `defaults (no file at ${info.path})` : `defaults (${info.lastError})`;
  }
  const base = `file ${info.path} version ${info.version}`;
  return info.lastError === "" ? base : `${base} (last good; ${info.lastError})`;
}

function freezeSet(set: WeightSet): WeightSet {
  Object.freeze(set.weights);
  Object.freeze(set.metadata);
  return Object.freeze(set);
}

function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

const EVENT_DEBOUNCE_MS = 20;

export class WeightsWatcher {
  private readonly path: string;
  private readonly dir: string;
  private readonly name: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly onChange?: (set: WeightSet) => void;
  private readonly onReload?: (result: "success" | "failure", set: WeightSet) => void;
  private readonly fsEvents: boolean;

  private set: WeightSet;
  private source: "file" | "defaults" = "defaults";
  private lastError = "";
  private lastErrorAtMs: number | null = null;
  private readonly reloads = { success: 0, failure: 0 };

  /** Version of the last rejected content (logged/counted once while it stays). */
  private badVersion: string | null = null;
  /** The file was missing at the last check and that was already handled. */
  private missingHandled = false;
  /** inode:size:mtime at the last read; the poll re-reads only when it changes (or the last read was bad). */
  private lastSig: string | null = null;

  private started = false;
  /** The initial load is done: swaps from now on are reported through onChange. */
  private live = false;
  private stopped = false;
  private fsWatcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private pending: { force: boolean; promise: Promise<void> } | null = null;

  constructor(options: WeightsWatcherOptions) {
    const poll = options.pollIntervalMs ?? 1000;
    if (!Number.isFinite(poll) || poll <= 0 || poll > MAX_POLL_INTERVAL_MS) {
      throw new RangeError(`weights pollIntervalMs must be in (0, ${MAX_POLL_INTERVAL_MS}], got ${poll}`);
    }
    this.path = options.path;
    const abs = resolve(options.path);
    this.dir = dirname(abs);
    this.name = basename(abs);
    this.log = options.log;
    this.clock = options.clock;
    this.pollIntervalMs = poll;
    this.onChange = options.onChange;
    this.onReload = options.onReload;
    this.fsEvents = options.fsEvents ?? true;
    this.set = this.defaults();
  }

  /** Initial load (defaults when the file is missing or bad), then starts watching. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.enqueue(true);
    this.live = true;
    if (this.source === "defaults" && this.lastError === "") {
      this.log.info("weights: using built-in defaults", { path: this.path, detail: describeWeightsInfo(this.info()) });
    }
    if (this.stopped) return;
    this.openFsWatcher();
    this.timer = setInterval(() => {
      if (this.fsEvents && this.fsWatcher === null) this.openFsWatcher();
      void this.enqueue(false);
    }, this.pollIntervalMs);
    this.timer.unref();
  }

  /** One check of the file (forced read + hash; no stat shortcut). Serialised with other checks. */
  tick(): Promise<void> {
    return this.enqueue(true);
  }

  /** The current weight set; never null. Capture it once per decision. */
  current(): WeightSet {
    return this.set;
  }

  info(): WeightsInfo {
    const set = this.set;
    return {
      path: this.path,
      version: set.version,
      loadedAtMs: set.loadedAtMs,
      source: this.source,
      lastError: this.lastError,
      lastErrorAtMs: this.lastErrorAtMs,
      reloads: { ...this.reloads },
      metadata: { ...set.metadata },
    };
  }

  /** Closes the fs watcher and the poll timer. Checks already queued finish without effect. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.timer = null;
    this.debounce = null;
    this.closeFsWatcher();
  }

  // ---------------------------------------------------------------------------------------------

  private defaults(): WeightSet {
    return freezeSet({ weights: { ...DEFAULT_WEIGHTS }, version: DEFAULTS_VERSION, loadedAtMs: this.clock.now(), metadata: {} });
  }

  private openFsWatcher(): void {
    if (!this.fsEvents || this.stopped || this.fsWatcher !== null) return;
    try {
      const w = watch(this.dir, { persistent: false }, (_event, filename) => {
        // filename can be null on some platforms: then any event in the directory counts.
        if (filename !== null && filename !== undefined && filename.toString() !== this.name) return;
        this.onFsEvent();
      });
      w.on("error", (e) => {
        this.log.warn("weights: directory watch failed; relying on the poll", { path: this.path, error: String(e) });
        this.closeFsWatcher();
      });
      this.fsWatcher = w;
    } catch (e) {
      // e.g. the directory does not exist yet: the poll keeps retrying.
      this.log.debug("weights: cannot watch directory yet; relying on the poll", { dir: this.dir, error: String(e) });
    }
  }

  private closeFsWatcher(): void {
    const w = this.fsWatcher;
    this.fsWatcher = null;
    if (w) {
      try {
        w.close();
      } catch {
        /* already closed */
      }
    }
  }

  private onFsEvent(): void {
    if (this.stopped || this.debounce) return;
    // Coalesce the burst of events a write or rename produces.
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.enqueue(false);
    }, EVENT_DEBOUNCE_MS);
    this.debounce.unref();
  }

  /** Queues a check after any running one; coalesces with a check that is queued but not started. */
  private enqueue(force: boolean): Promise<void> {
    if (this.pending) {
      this.pending.force ||= force;
      return this.pending.promise;
    }
    const entry: { force: boolean; promise: Promise<void> } = { force, promise: Promise.resolve() };
    entry.promise = this.chain
      .then(() => {
        if (this.pending === entry) this.pending = null;
        return this.check(entry.force);
      })
      .catch((e) => {
        this.log.error("weights: check failed unexpectedly", { path: this.path, error: String(e) });
      });
    this.pending = entry;
    this.chain = entry.promise;
    return entry.promise;
  }

  private async check(force: boolean): Promise<void> {
    if (this.stopped) return;
    let sig: string;
    try {
      const st = await stat(this.path);
      sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      this.onUnreadable(e);
      return;
    }
    if (!force && sig === this.lastSig && this.badVersion === null) return;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (e) {
      this.onUnreadable(e);
      return;
    }
    if (this.stopped) return;
    this.lastSig = sig;
    this.missingHandled = false;
    const version = weightsVersion(bytes);
    const now = this.clock.now();

    if (this.source === "file" && version === this.set.version) {
      // Unchanged (or restored to the current good content after a bad or missing file).
      if (this.lastError !== "") {
        this.log.info("weights: file is good again", { path: this.path, version });
        this.clearError();
      }
      this.badVersion = null;
      return;
    }
    if (version === this.badVersion) return; // same bad content: already recorded, counted and logged

    const parsed = parseWeightsFile(bytes.toString("utf8"));
    if (!parsed.ok) {
      this.badVersion = version;
      this.reloads.failure++;
      this.lastError = `weights file ${this.path} (version ${version}) rejected: ${parsed.error}`;
      this.lastErrorAtMs = now;
      this.log.error("weights: file rejected, keeping the last good weights", {
        path: this.path,
        version,
        error: parsed.error,
        keeping: this.set.version,
      });
      this.onReload?.("failure", this.set);
      return;
    }

    const next = freezeSet({ weights: parsed.weights, version, loadedAtMs: now, metadata: parsed.metadata });
    const previous = this.set.version;
    this.set = next; // the atomic swap: one reference assignment
    this.source = "file";
    this.badVersion = null;
    this.clearError();
    this.reloads.success++;
    this.log.info("weights: loaded", { path: this.path, version, previous, weights: next.weights, metadata: next.metadata });
    this.onReload?.("success", next);
    if (this.live && this.onChange) {
      try {
        this.onChange(next);
      } catch (e) {
        this.log.error("weights: onChange handler threw", { path: this.path, error: String(e) });
      }
    }
  }

  private onUnreadable(e: unknown): void {
    if (this.stopped) return;
    const missing = errCode(e) === "ENOENT" || errCode(e) === "ENOTDIR";
    this.lastSig = null;
    this.badVersion = null;
    if (this.missingHandled) return;
    this.missingHandled = true;
    if (missing && this.source === "defaults") {
      // No file and never loaded one: the documented "defaults (no file at PATH)" state.
      this.clearError();
      return;
    }
    const what = missing ? "is missing" : `cannot be read (${e instanceof Error ? e.message : String(e)})`;
    this.lastError = `weights file ${this.path} ${what}; keeping ${this.source === "file" ? `version ${this.set.version}` : "the built-in defaults"}`;
    this.lastErrorAtMs = this.clock.now();
    this.log.error("weights: file unavailable, keeping the last good weights", { path: this.path, error: this.lastError, keeping: this.set.version });
  }

  private clearError(): void {
    this.lastError = "";
    this.lastErrorAtMs = null;
  }
}
