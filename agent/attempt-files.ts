// Where attempts' small files live: TASKGRID_PROGRESS_FILE (written by the task, read by the agent)
// and TASKGRID_PREEMPT_FILE (written by the agent before a preemption's signal), side by side in one
// directory per executor, named after the attempt. Neither exists until it is written, so an
// attempt that uses neither costs no directory and no file. Each attempt used to get a temp dir of
// its own (mkdtemp, then rmdir at its end): creating a directory costs an inode, 300-700 us of CPU
// on this project's benchmark machine, the largest part of what the agent spent on a short task.
// Files of ended attempts are removed by the sweep the agent runs with each heartbeat (one
// readdir), not one by one at each end, where nearly every unlink would find nothing. The
// directory is shared: a task must not remove it (a preempt file that cannot be written is named in
// the attempt's message, and the directory is made again).
//
// The exception: an attempt that runs a job script (`taskgrid sbatch`/`run-script`, its text in
// TASKGRID_JOB_SCRIPT_* env vars) gets a directory of its own, as every attempt did before, removed
// at its end: the script wrapper (src/cli/job-wrapper.ts) writes the script into the directory of
// TASKGRID_PROGRESS_FILE, and tasks queued by any earlier CLI do so too, so two such attempts on one
// agent must never share it (they overwrote each other's script: an array element ran an empty one).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { mkdtemp, readdir, rm, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AttemptFiles {
  /** TASKGRID_PROGRESS_FILE: the task writes "<percent> [message]" to it. */
  progress: string;
  /** TASKGRID_PREEMPT_FILE: absent until the attempt is preempted. */
  preempt: string;
  /** The attempt's own directory (a job script's attempt), removed at its end; null: the shared one. */
  ownDir: string | null;
}

export class AttemptFilesDir {
  private dir: string | null = null;
  /** Makes names unique in the directory whatever the ids look like once made safe (and cut). */
  private seq = 0;
  /** The name prefixes ("<seq>-") of attempts not released yet. */
  private readonly live = new Set<string>();

  constructor(private readonly parent: string) {}

  /** An attempt's file names (the shared directory is made on the first call after construction or dispose). */
  namesFor(attemptId: string): AttemptFiles {
    this.dir ??= mkdtempSync(join(this.parent, "taskgrid-attempts-"));
    const prefix = `${++this.seq}-`;
    this.live.add(prefix);
    const base = join(this.dir, `${prefix}${safeFileName(attemptId)}`);
    return { progress: `${base}.progress`, preempt: `${base}.preempted`, ownDir: null };
  }

  /** File names in a new directory of the attempt's own (for a job script's attempt: see the top of this file). */
  async ownNamesFor(attemptId: string): Promise<AttemptFiles> {
    const ownDir = await mkdtemp(join(this.parent, `taskgrid-${safeFileName(attemptId)}-`));
    return { progress: join(ownDir, "progress"), preempt: join(ownDir, "preempted"), ownDir };
  }

  /** Makes the directory of the attempt's files again (a task removed it); the names stay valid. */
  restore(files: AttemptFiles): void {
    mkdirSync(dirname(files.preempt), { recursive: true });
  }

  /** The attempt ended: its files go with the next sweep (its own directory at once). */
  release(files: AttemptFiles): void {
    if (files.ownDir !== null) {
      void rm(files.ownDir, { recursive: true, force: true }).catch(() => {});
      return;
    }
    const name = basename(files.progress);
    this.live.delete(name.slice(0, name.indexOf("-") + 1));
  }

  /**
   * Removes the files of released attempts and returns the paths of those that exist of the
   * others (what a progress poll needs to read). Never rejects: a directory that cannot be read
   * (a task removed it) holds nothing.
   */
  async sweep(): Promise<Set<string>> {
    const dir = this.dir;
    const present = new Set<string>();
    if (dir === null) return present;
    const names = await readdir(dir).catch(() => [] as string[]);
    const removals: Promise<void>[] = [];
    for (const name of names) {
      const path = join(dir, name);
      if (this.live.has(name.slice(0, name.indexOf("-") + 1))) present.add(path);
      else removals.push(unlink(path).catch(() => {})); // something the task put there goes with the directory
    }
    await Promise.all(removals);
    return present;
  }

  /** Removes the directory with whatever attempts left in it (call once none runs). */
  dispose(): void {
    if (this.dir === null) return;
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    this.live.clear();
  }
}

/** An id as a file name part: anything unusual becomes "_", at most 64 characters. */
export function safeFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
}
