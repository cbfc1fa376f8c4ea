// What a preemption costs in the simulator: the model of a signalled task (it stops after the stop
// delay or when its work is done, whichever is first) and of its work (with periodic checkpoints a
// requeued task resumes from its last one, else from zero), and the per-attempt ledger that the
// report and the tests add up. Times are simulated ms of the attempt's run on its worker.
//
// Model, per preempted attempt (start s, signal g, exit x = min(end, g + stop delay)):
//   progress = g - s            (it stops doing useful work when signalled: it checkpoints and exits)
//   saved    = the checkpoints it took: floor(progress / every) x every; 0 without checkpointing
//   lost     = progress - saved (redone by a later attempt)
//   stopping = x - g            (resources held, nothing gained)
// A victim whose work ends within the stop delay simply finishes: nothing is lost.
// Progress is kept in nominal ms (at speed 1), so a task resumed on a slower worker takes longer.
// A failed attempt keeps the checkpoints of earlier attempts but saves nothing of its own.

export type AttemptOutcomeKind = "SUCCEEDED" | "FAILED" | "PREEMPTED";

export interface AttemptRecord {
  taskIndex: number;
  workerId: string;
  startMs: number;
  /** When it released its resources. */
  endMs: number;
  outcome: AttemptOutcomeKind;
  /** When it was told to stop; null when never (a victim that finished first has one too). */
  signalMs: number | null;
  /** Run time that counts toward the task's result: all of a success, the checkpointed part of a preemption, none of a failure. */
  usefulMs: number;
  /** Preempted: run time since its last checkpoint, thrown away. */
  lostMs: number;
  /** Preempted: signal to exit. */
  stoppingMs: number;
  gpus: number;
  cores: number;
}

/** When a victim signalled at `signalMs` releases its resources: after the stop delay (capped by its grace), or when its work is done. */
export function stopAtMs(signalMs: number, endMs: number, stopDelayMs: number, graceMs: number): number {
  return Math.min(endMs, signalMs + Math.min(stopDelayMs, graceMs));
}

/** Progress the checkpoints taken so far preserve (0 without checkpointing). */
export function checkpointedMs(progressMs: number, everyMs: number | null): number {
  if (everyMs === null || progressMs <= 0) return 0;
  return Math.floor(progressMs / everyMs) * everyMs;
}

export interface AttemptShape {
  taskIndex: number;
  workerId: string;
  startMs: number;
  /** Wall ms per nominal ms on this worker (speed x I/O contention). */
  factor: number;
  gpus: number;
  cores: number;
}

export class WorkLedger {
  /** Nominal work (ms at speed 1) saved by checkpoints, per task. */
  private readonly saved: Float64Array;
  private readonly firstStart: Float64Array;
  private readonly preemptedCount: Uint32Array;
  readonly attempts: AttemptRecord[] = [];

  constructor(
    taskCount: number,
    private readonly everyMs: number | null,
  ) {
    this.saved = new Float64Array(taskCount);
    this.firstStart = new Float64Array(taskCount).fill(-1);
    this.preemptedCount = new Uint32Array(taskCount);
  }

  /** Nominal work left (runtimeMs itself, the same number, when nothing was saved). */
  remainingMs(taskIndex: number, runtimeMs: number): number {
    const saved = this.saved[taskIndex];
    return saved === 0 ? runtimeMs : Math.max(0, runtimeMs - saved);
  }

  started(taskIndex: number, nowMs: number): void {
    if (this.firstStart[taskIndex] < 0) this.firstStart[taskIndex] = nowMs;
  }

  firstStartMs(taskIndex: number): number {
    return this.firstStart[taskIndex];
  }

  /** Attempts of the task ended by preemption (they use no retry). */
  preemptions(taskIndex: number): number {
    return this.preemptedCount[taskIndex];
  }

  /** The attempt ran to its end (success or failure), signalled or not. */
  ended(a: AttemptShape, endMs: number, failed: boolean, signalMs: number | null): void {
    const runMs = endMs - a.startMs;
    this.attempts.push({ ...this.base(a), endMs, outcome: failed ? "FAILED" : "SUCCEEDED", signalMs, usefulMs: failed ? 0 : runMs, lostMs: 0, stoppingMs: 0 });
  }

  /** The attempt was signalled at `signalMs` and exited at `exitMs` before its work was done. */
  preempted(a: AttemptShape, signalMs: number, exitMs: number, runtimeMs: number): AttemptRecord {
    const progressMs = signalMs - a.startMs;
    const keptMs = checkpointedMs(progressMs, this.everyMs);
    const i = a.taskIndex;
    // Never more than the whole task: rounding of the attempt's duration must not make work appear.
    this.saved[i] = Math.min(runtimeMs, this.saved[i] + keptMs / a.factor);
    this.preemptedCount[i]++;
    const record: AttemptRecord = {
      ...this.base(a),
      endMs: exitMs,
      outcome: "PREEMPTED",
      signalMs,
      usefulMs: keptMs,
      lostMs: progressMs - keptMs,
      stoppingMs: exitMs - signalMs,
    };
    this.attempts.push(record);
    return record;
  }

  private base(a: AttemptShape): Pick<AttemptRecord, "taskIndex" | "workerId" | "startMs" | "gpus" | "cores"> {
    return { taskIndex: a.taskIndex, workerId: a.workerId, startMs: a.startMs, gpus: a.gpus, cores: a.cores };
  }
}
