// The ended attempts that printed nothing. Their log files are made at the first byte (log-files.ts),
// so such an attempt leaves no file, yet `taskgrid logs` must read it as empty rather than as an
// attempt this agent never ran, also after the agent restarted. With a log root that outlives the
// agent (a state dir), each id is appended to one index file in the root, one write(2) per attempt
// and no inode (creating one was most of what a short task cost the agent), and read back at start.
// Remembered: the newest `max` (a Set keeps insertion order; older ones then read as unknown, like
// an attempt whose marker was dropped); the file is rewritten with them once it holds twice that.
// Each line is led by a newline, so a line torn by a crash stays a line of its own (a bogus id,
// which matches no attempt) and never runs into the next one.
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";

/** The index file's name in the log root (not a directory: log-files.ts's stock-taking skips it). */
export const SILENT_INDEX_FILE = "silent-attempts";
export const DEFAULT_MAX_SILENT_REMEMBERED = 50_000;

export class SilentAttempts {
  private readonly ids = new Set<string>();
  private fd: number | null = null;
  /** Lines in the index file. */
  private lines = 0;

  /** `path`: the index file; null: nothing outlives the agent, the ids are kept in memory only. */
  constructor(
    private readonly path: string | null,
    private readonly max: number = DEFAULT_MAX_SILENT_REMEMBERED,
    private readonly onError: (message: string, error: unknown) => void = () => {},
  ) {}

  /** Reads what an earlier agent process left (once, before any add). */
  load(): void {
    if (this.path === null) return;
    try {
      const text = readFileSync(this.path, "utf8");
      for (const id of text.split("\n")) {
        if (id === "") continue;
        this.lines++;
        this.remember(id);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.onError(`could not read ${this.path}`, error);
    }
    if (this.lines > 2 * this.max) this.rewrite();
    else this.openIndex();
  }

  has(attemptId: string): boolean {
    return this.ids.has(attemptId);
  }

  /** The attempt runs again (an agent restarted mid-attempt): its new run decides. */
  delete(attemptId: string): void {
    this.ids.delete(attemptId);
  }

  /** An attempt ended without output. */
  add(attemptId: string): void {
    this.remember(attemptId);
    if (this.fd === null) return;
    try {
      writeSync(this.fd, `\n${attemptId}`);
      this.lines++;
    } catch (error) {
      this.onError(`could not write ${this.path}`, error);
    }
    if (this.lines > 2 * this.max) this.rewrite();
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private remember(attemptId: string): void {
    this.ids.delete(attemptId); // re-added as the newest
    this.ids.add(attemptId);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
  }

  /** The file becomes the ids remembered (a new file renamed over it: a crash leaves one or the other). */
  private rewrite(): void {
    const path = this.path!;
    this.close();
    try {
      writeFileSync(`${path}.new`, [...this.ids].map((id) => `\n${id}`).join(""));
      renameSync(`${path}.new`, path);
      this.lines = this.ids.size;
    } catch (error) {
      this.onError(`could not rewrite ${path}`, error);
    }
    this.openIndex();
  }

  private openIndex(): void {
    try {
      this.fd = openSync(this.path!, "a");
    } catch (error) {
      this.onError(`could not open ${this.path}`, error);
    }
  }
}
