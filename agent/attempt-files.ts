// Where attempts' small files live: TASKGRID_PROGRESS_FILE (written by the task, read by the agent)
// and TASKGRID_PREEMPT_FILE (written by the agent before a preemption's signal), side by side in one
// directory per executor, named after the attempt. Neither exists until it is written, so an
// attempt that uses neither costs no directory and no file; its end removes both names. Each
// attempt used to get a temp dir of its own (mkdtemp, then rmdir at its end): creating a directory
// costs an inode, 300-700 us of CPU on this project's benchmark machine, the largest part of what
// the agent spent on a short task. The directory is shared: a task must not remove it (a preempt
// file that cannot be written is named in the attempt's message, and the directory is made again).
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";

export interface AttemptFiles {
  /** TASKGRID_PROGRESS_FILE: the task writes "<percent> [message]" to it. */
  progress: string;
  /** TASKGRID_PREEMPT_FILE: absent until the attempt is preempted. */
  preempt: string;
}

export class AttemptFilesDir {
  private dir: string | null = null;
  /** Makes names unique in the directory whatever the ids look like once made safe (and cut). */
  private seq = 0;

  constructor(private readonly parent: string) {}

  /** An attempt's file names (the directory is made on the first call after construction or dispose). */
  namesFor(attemptId: string): AttemptFiles {
    this.dir ??= mkdtempSync(join(this.parent, "taskgrid-attempts-"));
    const base = join(this.dir, `${++this.seq}-${safeFileName(attemptId)}`);
    return { progress: `${base}.progress`, preempt: `${base}.preempted` };
  }

  /** Makes the directory again (a task removed it); the names handed out stay valid. */
  restore(): void {
    if (this.dir !== null) mkdirSync(this.dir, { recursive: true });
  }

  /**
   * Removes an attempt's files. Most attempts wrote neither: a failed unlink each, a name lookup,
   * done synchronously because handing it to libuv's thread pool costs more than the call.
   */
  release(files: AttemptFiles, preempted: boolean): void {
    unlinkQuietly(files.progress);
    if (preempted) unlinkQuietly(files.preempt);
  }

  /** Removes the directory with whatever attempts left in it (call once none runs). */
  dispose(): void {
    if (this.dir === null) return;
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // absent (the usual case), or something the task put there: removed with the directory
  }
}

/** An id as a file name part: anything unusual becomes "_", at most 64 characters. */
export function safeFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
}
