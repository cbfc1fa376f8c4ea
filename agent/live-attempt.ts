// The executor's state of one attempt while it runs: what was asked, the process, how it is being
// stopped, and what it reported so far. The Executor owns every LiveAttempt; the helpers that spawn
// and signal it (spawn-attempt.ts and agent/launcher/, attempt-stop.ts) act on the one they are given.
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { AttemptFiles } from "./attempt-files.js";
import type { StopOutcome } from "./attempt-result.js";
import type { AttemptLog, LogStreamName } from "./log-files.js";
import { OutputTail } from "./output-tail.js";
import type { AttemptUsage } from "./rusage.js";
import type { AttemptProcess } from "./spawn-attempt.js";

/** What to run for one attempt (the agent converts an Assign into this). */
export interface RunRequest {
  attemptId: string;
  taskId: string;
  /** argv; argv[0] is looked up on PATH. */
  command: string[];
  env?: Record<string, string>;
  /** Empty means the agent's working directory. */
  workingDir?: string;
  /** Kill after this many ms of running; 0 means no timeout. */
  timeoutMs?: number;
  gpuIndexes?: number[];
  /** 1-based attempt number of the task (Assign.attemptNumber); TASKGRID_RESTART_COUNT is this - 1. Absent or 0: a first run. */
  attemptNumber?: number;
}

export interface LiveAttempt {
  req: RunRequest;
  /** Its process (through the launcher or spawned directly), once asked for. */
  process: AttemptProcess | null;
  pid: number;
  /** Its process's start time (/proc stat field 22) as the launcher read it; null: unknown. */
  processStart: string | null;
  startedAtMs: number;
  tail: OutputTail;
  paused: boolean;
  stop: { outcome: StopOutcome; message: string } | null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  timers: NodeJS.Timeout[];
  /** Its progress and preempt file names, once it is being started. */
  files: AttemptFiles | null;
  /** Its task's TASKGRID_CHECKPOINT_DIR ("" until it is being started), made before a stop signal (attempt-stop.ts). */
  checkpointDir: string;
  /** Resolves once the checkpoint dir was made (null) or could not be (why); null until a stop asked for it. */
  checkpointDirMade: Promise<string | null> | null;
  /** The attempt's log files, once created. */
  log: AttemptLog | null;
  /** Streams paused until their log file's buffer drained. */
  logWaits: Set<LogStreamName>;
  /** CPU time and max RSS, once it exited; null when unmeasured (spawned directly). */
  usage: AttemptUsage | null;
  /** The `started` event was sent (the command runs). */
  announced: boolean;
  lastProgressFile: string;
  lastProgress: string;
  done: boolean;
  result: Promise<TaskResult>;
  resolve(result: TaskResult): void;
}

/** A fresh attempt, not started yet (no process, no files). */
export function newLiveAttempt(req: RunRequest, startedAtMs: number, outputTailBytes: number): LiveAttempt {
  let resolve!: (r: TaskResult) => void;
  const result = new Promise<TaskResult>((r) => (resolve = r));
  return {
    req,
    process: null,
    pid: 0,
    processStart: null,
    startedAtMs,
    tail: new OutputTail(outputTailBytes),
    paused: false,
    stop: null,
    exit: null,
    timers: [],
    files: null,
    checkpointDir: "",
    checkpointDirMade: null,
    log: null,
    logWaits: new Set(),
    usage: null,
    announced: false,
    lastProgressFile: "",
    lastProgress: "",
    done: false,
    result,
    resolve,
  };
}

/** Runs `fn` after `ms` unless the attempt ended first (its timers are cleared when it finishes). */
export function scheduleFor(live: LiveAttempt, ms: number, fn: () => void): void {
  const timer = setTimeout(fn, ms);
  live.timers.push(timer);
}
