// Stopping and pausing a running attempt: the signals sent to its process group and when. The
// first stop decides the attempt's outcome; an attempt not spawned yet keeps the request in
// live.stop, and the executor acts on it once the process exists. Before a signal the task may
// act on, the task's checkpoint dir is made (see checkpointDirReady).
import { mkdir } from "node:fs/promises";
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import type { AttemptFilesDir } from "./attempt-files.js";
import type { StopOutcome } from "./attempt-result.js";
import { type LiveAttempt, scheduleFor } from "./live-attempt.js";
import { preemptSignal, writePreemptFile } from "./preempt.js";
import { signalGroup } from "./process-group.js";

/**
 * `first` to the group (SIGTERM for cancel and timeout), SIGKILL after `graceMs`; the first stop
 * decides the outcome, unless the command had already exited by itself (its output may still be
 * draining): that end stands, and only what is left of its group is stopped. A task that finished
 * its work just as its lease ran out was reported LOST and run again (the chaos suite's SIGSTOP
 * scenario: "ran to the end 2 times").
 */
export function stopAttempt(live: LiveAttempt, outcome: StopOutcome, message: string, graceMs: number, first: NodeJS.Signals = "SIGTERM"): void {
  if (live.exit === null) live.stop ??= { outcome, message };
  if (live.pid === 0) return; // Not started yet: start() or onSpawn() act on live.stop.
  const grace = Math.max(0, graceMs);
  live.paused = false;
  if (grace === 0) {
    signalGroup(live.pid, "SIGKILL"); // Works on stopped processes too.
    return;
  }
  scheduleFor(live, grace, () => signalGroup(live.pid, "SIGKILL"));
  // The signal follows the checkpoint dir (made at most CHECKPOINT_DIR_WAIT_MS later), unless the
  // attempt ended meanwhile: its pid may be reused. Nothing here rejects: checkpointDirReady
  // resolves with its error, and signalGroup catches the kill's.
  void checkpointDirReady(live).then(() => {
    if (live.done) return;
    signalGroup(live.pid, first);
    signalGroup(live.pid, "SIGCONT"); // A stopped process would not act on the signal until continued.
  });
}

/**
 * Preemption of a running attempt (see Executor.preempt): the preempt file first, then `signal`
 * to the group, SIGKILL after `graceMs`. An attempt already being stopped keeps that stop.
 */
export function preemptAttempt(live: LiveAttempt, signal: string, graceMs: number, message: string, filesDir: AttemptFilesDir): void {
  if (live.stop || live.exit !== null) return; // being stopped, or already ended by itself
  const outcome = AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED;
  // Set now, not after the write: a cancel or timeout meanwhile does not change the outcome.
  live.stop = { outcome, message };
  // Not spawned yet: like a cancel while starting, start() or onSpawn() act on live.stop.
  if (live.pid === 0) return;
  const first = preemptSignal(signal);
  // The file is written before the signal, so a task that looks at it from its handler sees it.
  const files = live.files;
  const written = files ? writePreemptFile(files.preempt, () => filesDir.restore(files)) : Promise.resolve("the attempt has no preempt file");
  Promise.all([checkpointDirReady(live), written])
    .then(([dirError, error]) => {
      const notes = [
        ...(dirError === null ? [] : [`checkpoint directory not created: ${dirError}`]),
        ...(error === null ? [] : [`preempt file not written: ${error}`]),
      ];
      if (notes.length > 0) live.stop = { outcome, message: `${message} (${notes.join("; ")})` };
      // Ended meanwhile: its pid may already belong to another process.
      if (!live.done) stopAttempt(live, outcome, message, graceMs, first);
    })
    .catch(() => {
      if (!live.done) stopAttempt(live, outcome, message, 0); // Whatever went wrong, the preemption must not hang.
    });
}

/** SIGSTOP or SIGCONT to the group; false when the attempt does not run (yet) or is being stopped. */
export function setAttemptPaused(live: LiveAttempt, paused: boolean): boolean {
  if (live.done || live.pid === 0 || live.stop) return false;
  if (!signalGroup(live.pid, paused ? "SIGSTOP" : "SIGCONT")) return false;
  live.paused = paused;
  return true;
}

/** How long a stop signal waits for the checkpoint dir (storage every agent mounts may hang). */
export const CHECKPOINT_DIR_WAIT_MS = 2_000;

/**
 * Makes the task's TASKGRID_CHECKPOINT_DIR (once per attempt) so that a task that checkpoints on
 * the signal finds it; resolves with null, or why it could not (never rejects). Not at the
 * attempt's start: creating a directory costs an inode (300-700 us of CPU on this project's
 * benchmark machine, most of what the agent spent on a short task), and every task left one behind
 * for good. A task that checkpoints on its own schedule makes it itself (`mkdir -p`). Asynchronous
 * and bounded: the checkpoint root may be on network storage, and a hung mount must neither block
 * the agent's event loop nor hold a stop back for longer than CHECKPOINT_DIR_WAIT_MS.
 */
export function checkpointDirReady(live: LiveAttempt): Promise<string | null> {
  if (live.checkpointDir === "") return Promise.resolve(null);
  live.checkpointDirMade ??= new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(`not made within ${CHECKPOINT_DIR_WAIT_MS} ms`), CHECKPOINT_DIR_WAIT_MS);
    mkdir(live.checkpointDir, { recursive: true })
      .then(
        () => resolve(null),
        (err: Error) => resolve(err.message),
      )
      .finally(() => clearTimeout(timer));
  });
  return live.checkpointDirMade;
}
