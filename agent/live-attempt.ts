// The executor's state of one attempt while it runs: what was asked, the process, how it is being
// stopped, and what it reported so far. The Executor owns every LiveAttempt; the helpers that spawn
// and signal it (spawn-attempt.ts, attempt-stop.ts) act on the one they are given.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { StopOutcome } from "./attempt-result.js";
import type { AttemptLog } from "./log-files.js";
import { OutputTail } from "./output-tail.js";
import type { WrapperReader } from "./rusage.js";

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
  child: ChildProcess | null;
  pid: number;
  startedAtMs: number;
  tail: OutputTail;
  paused: boolean;
  stop: { outcome: StopOutcome; message: string } | null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  timers: NodeJS.Timeout[];
  tempDir: string;
  /** The attempt's log files, once created. */
  log: AttemptLog | null;
  /** Reads the measuring wrapper's reports; null when the command runs unwrapped. */
  wrapper: WrapperReader | null;
  /** The `started` event was sent (the command runs). */
  announced: boolean;
  /** Under the wrapper, progress read before the command was known to run: reported right after `started`. */
  earlyProgress: { percent: number; message: string } | null;
  lastProgressFile: string;
  lastProgress: string;
  done: boolean;
  result: Promise<TaskResult>;
  resolve(result: TaskResult): void;
}

/** A fresh attempt, not started yet (no process, no temp dir). */
export function newLiveAttempt(req: RunRequest, startedAtMs: number, outputTailBytes: number): LiveAttempt {
  let resolve!: (r: TaskResult) => void;
  const result = new Promise<TaskResult>((r) => (resolve = r));
  return {
    req,
    child: null,
    pid: 0,
    startedAtMs,
    tail: new OutputTail(outputTailBytes),
    paused: false,
    stop: null,
    exit: null,
    timers: [],
    tempDir: "",
    log: null,
    wrapper: null,
    announced: false,
    earlyProgress: null,
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

export function progressFilePath(tempDir: string): string {
  return join(tempDir, "progress");
}

/** An id as a file name part: anything unusual becomes "_", at most 64 characters. */
export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
}
