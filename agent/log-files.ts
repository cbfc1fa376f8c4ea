// The agent's log files (issue 17): each attempt's stdout and stderr in files of their own,
// <root>/<attempt id>/stdout and .../stderr, kept after the attempt ended so that `taskgrid logs`
// can read them later. The directory and a stream's file are made when the stream's first byte
// comes: an attempt that prints nothing leaves nothing on disk (creating a directory and two files
// cost three inodes, most of what the agent spent on a short task on this project's benchmark
// machine), and a missing file of an attempt the agent knows reads as empty (silent-attempts.ts
// remembers the attempts that printed nothing, across restarts too). Two caps keep the disk
// bounded, and neither is silent:
// - per attempt and stream (maxAttemptBytes): once reached, the line
//   `[taskgrid: output cut at <N> bytes]` is written and nothing more of that stream;
// - per agent (maxTotalBytes): the files of the attempts that ended longest ago are removed first,
//   leaving a `purged` marker in their directory, so that a later read says the log was removed
//   rather than that it never existed. Attempts still being written are never removed.
// This object owns the accounting (bytes per attempt, which ones are being written); the writers
// (AttemptLog) and readers (log-reader.ts) go through it.
import fs, { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SILENT_INDEX_FILE, SilentAttempts } from "./silent-attempts.js";

export type LogStreamName = "stdout" | "stderr";
export const LOG_STREAMS: readonly LogStreamName[] = ["stdout", "stderr"];

/** Defaults of the agent settings logMaxAttemptBytes and logMaxTotalBytes. */
export const DEFAULT_LOG_MAX_ATTEMPT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_LOG_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;

/** The name of the marker file left in a removed attempt's directory. */
const PURGED_MARKER = "purged";
/** Removed attempts remembered (and their marker directories kept); older markers are deleted. */
const MAX_PURGED_REMEMBERED = 10_000;

/** The line written where a stream reached its cap. */
export function cutMarker(capBytes: number): string {
  return `[taskgrid: output cut at ${capBytes} bytes]\n`;
}

/** What the agent knows of an attempt's log. */
export type AttemptLogState = "writing" | "ended" | "purged" | "unknown";

export interface LogFilesOptions {
  /** Parent directory of the attempts' log directories; unset: a new directory under the OS temp dir. */
  root?: string;
  maxAttemptBytes?: number;
  maxTotalBytes?: number;
  /** Told about files that could not be removed or written (the agent logs them). */
  onError?: (message: string, error: unknown) => void;
  /** Ended attempts without output remembered (default DEFAULT_MAX_SILENT_REMEMBERED). */
  maxSilentRemembered?: number;
}

interface AttemptEntry {
  dir: string;
  /** Bytes in its files (as written through this object, or found on disk at start). */
  bytes: number;
  writing: boolean;
}

export class LogFiles {
  readonly maxAttemptBytes: number;
  readonly maxTotalBytes: number;
  /** Attempts being written, and ended ones with files, oldest first (a Map keeps insertion order). */
  private readonly attempts = new Map<string, AttemptEntry>();
  /** Ended attempts that printed nothing (set up with the root). */
  private silent: SilentAttempts | null = null;
  /** Attempts whose files were removed for the per-agent cap, oldest first. */
  private readonly purged = new Set<string>();
  private totalBytes = 0;
  private root: string | null = null;
  private initialized: Promise<void> | null = null;
  /** Removals run one at a time, in order. */
  private removals: Promise<void> = Promise.resolve();

  constructor(private readonly options: LogFilesOptions = {}) {
    this.maxAttemptBytes = options.maxAttemptBytes ?? DEFAULT_LOG_MAX_ATTEMPT_BYTES;
    this.maxTotalBytes = options.maxTotalBytes ?? DEFAULT_LOG_MAX_TOTAL_BYTES;
  }

  /** Creates the root and takes stock of what an earlier agent process left there (once). */
  init(): Promise<void> {
    this.initialized ??= this.load();
    return this.initialized;
  }

  /** Bytes in all attempts' files. */
  get total(): number {
    return this.totalBytes;
  }

  /** The directory of an attempt's files (after init). */
  dirOf(attemptId: string): string {
    if (this.root === null) throw new Error("log files used before init()");
    return join(this.root, safeDirName(attemptId));
  }

  state(attemptId: string): AttemptLogState {
    const entry = this.attempts.get(attemptId);
    if (entry) return entry.writing ? "writing" : "ended";
    if (this.silent?.has(attemptId)) return "ended";
    return this.purged.has(attemptId) ? "purged" : "unknown";
  }

  /** The attempt's log, empty, its files made when written; write through the returned AttemptLog, then close it. */
  async open(attemptId: string): Promise<AttemptLog> {
    await this.init();
    const dir = this.dirOf(attemptId);
    // A repeated run of the same attempt id (an agent restarted mid-attempt) starts the files
    // afresh. Only then can the directory exist: load() took stock of every one on disk.
    const before = this.attempts.get(attemptId);
    if (before) this.forget(attemptId, before);
    this.silent?.delete(attemptId);
    if (before || this.purged.delete(attemptId)) await rm(dir, { recursive: true, force: true });
    const entry: AttemptEntry = { dir, bytes: 0, writing: true };
    const log = new AttemptLog(
      dir,
      this.maxAttemptBytes,
      (n) => this.added(entry, n),
      (err) => this.options.onError?.(`could not write the log of attempt ${attemptId}`, err),
    );
    this.attempts.set(attemptId, entry);
    const ended = () => {
      entry.writing = false;
      // Nothing written, so nothing on disk: remembered apart (bounded), not among the files.
      if (entry.bytes > 0 || this.attempts.get(attemptId) !== entry) return;
      this.attempts.delete(attemptId);
      this.silent?.add(attemptId);
    };
    log.closed.then(ended, ended);
    return log;
  }

  /**
   * The agent stops: a root this object made under the OS temp dir (no state dir: nothing of the
   * agent outlives it) is removed; a configured root stays for the next agent process.
   */
  async dispose(): Promise<void> {
    this.silent?.close();
    if (this.options.root !== undefined || this.initialized === null) return;
    await this.initialized.catch(() => {});
    await this.removals;
    if (this.root !== null) await rm(this.root, { recursive: true, force: true });
  }

  /** Resolves once every removal scheduled so far is done (tests, and a clean stop). */
  settled(): Promise<void> {
    return this.removals;
  }

  private added(entry: AttemptEntry, bytes: number): void {
    entry.bytes += bytes;
    this.totalBytes += bytes;
    if (this.totalBytes > this.maxTotalBytes) this.removeOldest();
  }

  /** Removes ended attempts' files, oldest first, until the total is under the cap again. */
  private removeOldest(): void {
    const victims: Array<[string, AttemptEntry]> = [];
    let total = this.totalBytes;
    for (const [id, entry] of this.attempts) {
      if (total <= this.maxTotalBytes) break;
      if (entry.writing) continue;
      victims.push([id, entry]);
      total -= entry.bytes;
    }
    for (const [id, entry] of victims) {
      // Accounted for at once, so the next write does not pick the same victims again.
      this.forget(id, entry);
      this.remember(id);
      this.removals = this.removals
        .then(() => this.removeFiles(entry.dir))
        .catch((err) => this.options.onError?.(`could not remove log files in ${entry.dir}`, err));
    }
  }

  private async removeFiles(dir: string): Promise<void> {
    await Promise.all(LOG_STREAMS.map((s) => rm(join(dir, s), { force: true })));
    try {
      await writeFile(join(dir, PURGED_MARKER), "removed for the agent's log cap (logMaxTotalBytes)\n");
    } catch (err) {
      // An attempt that printed nothing has no directory to mark (and nothing was removed).
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  private forget(attemptId: string, entry: AttemptEntry): void {
    this.attempts.delete(attemptId);
    this.totalBytes -= entry.bytes;
  }

  private remember(attemptId: string): void {
    this.purged.add(attemptId);
    if (this.purged.size <= MAX_PURGED_REMEMBERED) return;
    const oldest = this.purged.values().next().value as string;
    this.purged.delete(oldest);
    const dir = this.dirOf(oldest);
    this.removals = this.removals.then(() => rm(dir, { recursive: true, force: true })).catch(() => {});
  }

  private async load(): Promise<void> {
    this.root = this.options.root ?? (await mkdtemp(join(tmpdir(), "taskgrid-logs-")));
    await mkdir(this.root, { recursive: true });
    const found: Array<{ id: string; dir: string; bytes: number; mtimeMs: number; purged: boolean }> = [];
    for (const name of await readdir(this.root)) {
      const dir = join(this.root, name);
      const info = await stat(dir).catch(() => null);
      if (!info?.isDirectory()) continue;
      const purged = (await stat(join(dir, PURGED_MARKER)).catch(() => null)) !== null;
      let bytes = 0;
      for (const s of LOG_STREAMS) bytes += (await stat(join(dir, s)).catch(() => null))?.size ?? 0;
      // The directory name is the attempt id for every id the master makes (UUIDs).
      found.push({ id: name, dir, bytes, mtimeMs: info.mtimeMs, purged });
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      if (f.purged) this.purged.add(f.id);
      else {
        this.attempts.set(f.id, { dir: f.dir, bytes: f.bytes, writing: false });
        this.totalBytes += f.bytes;
      }
    }
    // Only a root that outlives the agent keeps the index (a temp root is removed at stop).
    const index = this.options.root === undefined ? null : join(this.root, SILENT_INDEX_FILE);
    this.silent = new SilentAttempts(index, this.options.maxSilentRemembered, this.options.onError);
    this.silent.load();
    if (this.totalBytes > this.maxTotalBytes) this.removeOldest();
  }
}

/** One stream's file, made at its first byte: the per-attempt cap and its marker, and backpressure from the disk. */
class StreamFile {
  private out: WriteStream | null = null;
  private written = 0;
  private lastByte = 0x0a;
  private cut = false;

  constructor(
    private readonly path: string,
    /** Makes the attempt's directory (once for both streams); the file is opened after it. */
    private readonly dirMade: () => Promise<unknown>,
    private readonly capBytes: number,
    private readonly counted: (bytes: number) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** False: the file's buffer is full; wait for drained() before writing more. */
  write(chunk: Buffer): boolean {
    if (this.cut || chunk.length === 0) return true;
    const out = this.opened();
    const room = this.capBytes - this.written;
    if (chunk.length <= room) {
      this.written += chunk.length;
      this.lastByte = chunk[chunk.length - 1];
      this.counted(chunk.length);
      return out.write(chunk);
    }
    this.cut = true;
    const part = chunk.subarray(0, room);
    if (part.length > 0) this.lastByte = part[part.length - 1];
    // The marker is a line of its own, also when the cut falls inside a line.
    const marker = Buffer.from(`${this.lastByte === 0x0a ? "" : "\n"}${cutMarker(this.capBytes)}`);
    this.written = this.capBytes;
    this.counted(part.length + marker.length);
    out.write(part);
    return out.write(marker);
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const out = this.out;
      if (!out?.writableNeedDrain) return resolve();
      // Whichever comes first removes the other: a 'close' listener left behind by every drain
      // piled up on a file written through many pauses (a listener leak Node warned about).
      const done = () => {
        out.off("drain", done);
        out.off("close", done);
        resolve();
      };
      out.once("drain", done);
      out.once("close", done);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const out = this.out;
      if (!out || out.destroyed) return resolve();
      out.once("close", () => resolve());
      out.end();
    });
  }

  /**
   * The stream, made at the first write. It holds what is written until its file is open, and it
   * opens the file only once the directory is made (the `fs` option of createWriteStream).
   */
  private opened(): WriteStream {
    if (this.out) return this.out;
    const dirMade = this.dirMade;
    const out = createWriteStream(this.path, {
      flags: "w",
      fs: {
        open: (path: string, flags: string, mode: number, cb: (err: Error | null, fd?: number) => void) =>
          dirMade().then(() => fs.open(path, flags, mode, cb), cb),
        write: fs.write,
        writev: fs.writev,
        close: fs.close,
      },
    });
    // A full disk must not crash the agent: the task runs on, its file stops where the error came.
    out.on("error", (err) => {
      this.cut = true;
      this.onError(err);
    });
    this.out = out;
    return out;
  }
}

/** The files of one running attempt, each made at its stream's first byte. */
export class AttemptLog {
  /** Resolves once both files are flushed and closed (the attempt's log has ended). */
  readonly closed: Promise<void>;
  private endRequested!: () => void;
  private readonly files: Record<LogStreamName, StreamFile>;
  private dirMade: Promise<unknown> | null = null;

  constructor(
    readonly dir: string,
    capBytes: number,
    counted: (bytes: number) => void,
    onError: (error: unknown) => void,
  ) {
    const makeDir = () => (this.dirMade ??= mkdir(dir, { recursive: true }));
    const file = (name: LogStreamName) => new StreamFile(join(dir, name), makeDir, capBytes, counted, onError);
    this.files = { stdout: file("stdout"), stderr: file("stderr") };
    const requested = new Promise<void>((resolve) => (this.endRequested = resolve));
    this.closed = requested.then(() => Promise.all(LOG_STREAMS.map((s) => this.files[s].close()))).then(() => undefined);
  }

  /** False: that file's buffer is full; wait for drained(stream) before writing more to it. */
  write(stream: LogStreamName, chunk: Buffer): boolean {
    return this.files[stream].write(chunk);
  }

  drained(stream: LogStreamName): Promise<void> {
    return this.files[stream].drained();
  }

  /** Flushes and closes both files; `closed` says when that is done. */
  close(): Promise<void> {
    this.endRequested();
    return this.closed;
  }
}

/** A directory name for an attempt id: ids the master makes (UUIDs) stay as they are. */
export function safeDirName(id: string): string {
  // No "." or "..": a name must never lead out of the root.
  return (
    id
      .replace(/[^A-Za-z0-9._-]/g, "_")
      .replace(/^\./, "_")
      .slice(0, 128) || "attempt"
  );
}
