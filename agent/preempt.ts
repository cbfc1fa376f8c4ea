// What a preemption tells the task before the signal: the marker in its preempt file, and which
// signals the master may ask for. A task that checkpoints on the signal can read the file to tell
// a preemption (it will run again, resume from TASKGRID_CHECKPOINT_DIR) from a cancel (it will not).
import { writeFile } from "node:fs/promises";

/** The preempt file's content once the attempt is preempted. */
export const PREEMPTED_MARKER = "TASKGRID_PREEMPTED=1\n";

/**
 * Signals a preemption may start with: those a task can trap to checkpoint. Anything else (SIGKILL,
 * SIGSTOP, a typo) becomes SIGTERM, so a bad spec never kills without the grace nor stops nothing.
 */
export const PREEMPT_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

export function preemptSignal(name: string): NodeJS.Signals {
  return (PREEMPT_SIGNALS as readonly string[]).includes(name) ? (name as NodeJS.Signals) : "SIGTERM";
}

/**
 * Writes the marker; resolves with why it could not (the preemption goes on without it), else null.
 * `restoreDir` makes the file's directory again when it is gone (a task removed it), then the write is tried once more.
 */
export async function writePreemptFile(path: string, restoreDir: () => void): Promise<string | null> {
  try {
    await writeFile(path, PREEMPTED_MARKER);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return (err as Error).message;
  }
  try {
    restoreDir();
    await writeFile(path, PREEMPTED_MARKER);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
