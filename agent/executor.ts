// Runs attempts as real child processes. Each attempt gets its own process group (setsid), so
// cancel, pause and timeout signal everything the task forked. The result is reported only after
// 'closed' (all stdio drained), so the output tail is complete. The Executor coordinates; the parts
// live beside it: live-attempt.ts (one attempt's state), spawn-attempt.ts (the process: through the
// agent's launcher, agent/launcher/, or spawned directly), attempt-stop.ts (cancel, timeout,
// preempt, pause signals), executor-options.ts (settings).
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import { SCRIPT_ENV_PREFIX } from "../src/cli/job-wrapper.js";
import { AgentEnv, attemptEnv } from "./attempt-env.js";
import { AttemptFilesDir, safeFileName } from "./attempt-files.js";
import { endedResult, type StopOutcome, startFailed } from "./attempt-result.js";
import { preemptAttempt, setAttemptPaused, stopAttempt } from "./attempt-stop.js";
import type { ExecutorOptions } from "./executor-options.js";
import { type LiveAttempt, newLiveAttempt, type RunRequest, scheduleFor } from "./live-attempt.js";
import { LauncherClient } from "./launcher/launcher-client.js";
import { LogFiles, type LogStreamName } from "./log-files.js";
import { OUTPUT_TAIL_BYTES } from "./output-tail.js";
import { signalGroup } from "./process-group.js";
import { ProgressLineReader, parseProgressFile } from "./progress-lines.js";
import { findUsagePython } from "./rusage.js";
import { type AttemptProcessEvents, type SpawnSpec, startAttemptProcess } from "./spawn-attempt.js";

export { startFailed, type StopOutcome } from "./attempt-result.js";
export type { ExecutorEvents, ExecutorOptions } from "./executor-options.js";
export type { RunRequest } from "./live-attempt.js";

export interface RunningAttemptInfo {
  attemptId: string;
  taskId: string;
  /** 0 while the process is still being started. */
  pid: number;
  /** The process's start time (/proc stat field 22), when the launcher read it; null: unknown. */
  processStart: string | null;
  startedAt: Date;
  paused: boolean;
  /** Its command exited (its output may still be draining): a stop no longer changes its outcome. */
  exited: boolean;
}

export class Executor {
  private readonly attempts = new Map<string, LiveAttempt>();
  private readonly now: () => number;
  private readonly checkpointRoot: string;
  /** Every attempt's progress and preempt files. */
  private readonly attemptFiles: AttemptFilesDir;
  /**
   * The agent's environment, copied (and encoded for the launcher) once: every attempt's env starts
   * from it. Spreading process.env itself reads each variable through the native environment
   * (~50 us per attempt).
   */
  private readonly agentEnv = new AgentEnv(process.env);
  /** Starts the commands (CPU time and max RSS measured); null: they are spawned directly, unmeasured. */
  readonly launcher: LauncherClient | null;
  /** Every attempt's stdout and stderr files (read by the agent's log server). */
  readonly logs: LogFiles;

  constructor(private readonly options: ExecutorOptions) {
    this.now = options.now ?? Date.now;
    this.attemptFiles = new AttemptFilesDir(options.tempRoot ?? tmpdir());
    this.checkpointRoot = options.checkpointRoot ?? join(tmpdir(), "taskgrid-checkpoints");
    const python = options.usagePython === undefined ? findUsagePython() : options.usagePython;
    this.launcher = python ? new LauncherClient(python, options.launchers) : null;
    this.logs = new LogFiles({
      root: options.logRoot,
      maxAttemptBytes: options.logMaxAttemptBytes,
      maxTotalBytes: options.logMaxTotalBytes,
      onError: options.onLogError,
    });
  }

  /** Starts an attempt; resolves with its result once it ended (also when it could not start). */
  run(req: RunRequest): Promise<TaskResult> {
    const existing = this.attempts.get(req.attemptId);
    if (existing) return existing.result; // A repeated assign of a running attempt is not a second run.
    if (req.command.length === 0 || req.command[0] === "") return this.refuse(req.attemptId, "empty command");
    if (this.attempts.size >= this.options.maxTasks) return this.refuse(req.attemptId, "agent at capacity");
    const live = newLiveAttempt(req, this.now(), this.options.outputTailBytes ?? OUTPUT_TAIL_BYTES);
    // Registered before any await, so capacity and duplicate checks see it at once.
    this.attempts.set(req.attemptId, live);
    this.start(live).catch((err) => this.finish(live, startFailed(`cannot start: ${(err as Error).message}`)));
    return live.result;
  }

  /** SIGTERM to the group (and SIGCONT, so a paused task can act on it), SIGKILL after `graceMs`. */
  cancel(attemptId: string, graceMs: number, outcome: StopOutcome = AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, message = "canceled"): boolean {
    const live = this.attempts.get(attemptId);
    if (!live || live.done) return false;
    stopAttempt(live, outcome, message, graceMs);
    return true;
  }

  /**
   * Preemption: TASKGRID_PREEMPTED=1 in the attempt's preempt file, then `signal` (SIGTERM unless it
   * is one of PREEMPT_SIGNALS) to the group, SIGKILL after `graceMs`. It ends PREEMPTED however the
   * process exits. False when the attempt is not running. An attempt that is already being stopped
   * keeps that stop (its outcome and grace).
   */
  preempt(attemptId: string, signal: string, graceMs: number, message: string): boolean {
    const live = this.attempts.get(attemptId);
    if (!live || live.done) return false;
    preemptAttempt(live, signal, graceMs, message, this.attemptFiles);
    return true;
  }

  pause(attemptId: string): boolean {
    const live = this.attempts.get(attemptId);
    return !!live && setAttemptPaused(live, true);
  }

  resume(attemptId: string): boolean {
    const live = this.attempts.get(attemptId);
    return !!live && setAttemptPaused(live, false);
  }

  running(): RunningAttemptInfo[] {
    return [...this.attempts.values()].map((a) => ({
      attemptId: a.req.attemptId,
      taskId: a.req.taskId,
      pid: a.pid,
      processStart: a.processStart,
      startedAt: new Date(a.startedAtMs),
      paused: a.paused,
      exited: a.exit !== null,
    }));
  }

  runningCount(): number {
    return this.attempts.size;
  }

  /** Resolves once no attempt runs. */
  async whenIdle(): Promise<void> {
    while (this.attempts.size > 0) await Promise.all([...this.attempts.values()].map((a) => a.result));
  }

  /** Stops every attempt (agent shutdown) and waits until all have ended. */
  async cancelAll(graceMs: number, outcome: StopOutcome = AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, message = "canceled"): Promise<void> {
    for (const id of [...this.attempts.keys()]) this.cancel(id, graceMs, outcome, message);
    await this.whenIdle();
  }

  /** Ends the launcher and removes the attempts' files directory (call once no attempt runs; a later run() starts anew). */
  close(): void {
    this.launcher?.close();
    this.attemptFiles.dispose();
  }

  /**
   * Reads each attempt's TASKGRID_PROGRESS_FILE and reports changed contents as progress.
   * The agent calls this from its heartbeat loop; tests call it directly.
   */
  async pollProgressFiles(): Promise<void> {
    // Also removes ended attempts' files; only the files that exist are read.
    const present = await this.attemptFiles.sweep();
    await Promise.all(
      [...this.attempts.values()].map(async (live) => {
        const files = live.files;
        // The sweep lists the shared directory; an attempt's own directory (a job script's) is read as it is.
        if (!files || live.done || (files.ownDir === null && !present.has(files.progress))) return;
        const text = await readFile(files.progress, "utf8").catch(() => "");
        if (text === live.lastProgressFile || live.done) return;
        live.lastProgressFile = text;
        const update = parseProgressFile(text);
        if (update) this.reportProgress(live, update.percent, update.message);
      }),
    );
  }

  private async start(live: LiveAttempt): Promise<void> {
    const { req } = live;
    try {
      if (req.workingDir) {
        const info = await stat(req.workingDir).catch(() => null);
        if (!info?.isDirectory()) return this.finish(live, startFailed(`working directory ${req.workingDir} does not exist`));
      }
      // A job script's wrapper writes the script beside TASKGRID_PROGRESS_FILE: such an attempt gets a directory of its own.
      const runsJobScript = Object.keys(req.env ?? {}).some((name) => name.startsWith(SCRIPT_ENV_PREFIX));
      live.files = runsJobScript ? await this.attemptFiles.ownNamesFor(req.attemptId) : this.attemptFiles.namesFor(req.attemptId);
      live.log = await this.logs.open(req.attemptId);
    } catch (err) {
      return this.finish(live, startFailed(`cannot prepare attempt: ${(err as Error).message}`));
    }
    // The task's data, not the attempt's: never deleted here, so the next attempt (after a
    // preemption, a retry, a lost agent) finds the checkpoints the previous one left. Made before
    // a stop signal (attempt-stop.ts checkpointDirReady), not here.
    const checkpointDir = join(this.checkpointRoot, safeFileName(req.taskId) || "task");
    live.checkpointDir = checkpointDir;
    if (live.stop) return this.finish(live, this.endResult(live));
    const gpuIndexes = req.gpuIndexes ?? [];
    const uuids = gpuIndexes.map((i) => this.options.gpuUuid?.(i));
    const env = attemptEnv(
      {
        taskId: req.taskId,
        attemptId: req.attemptId,
        taskEnv: req.env ?? {},
        gpuIndexes,
        gpuUuids: uuids.every((u): u is string => !!u) ? uuids : null,
        machineHasGpus: this.options.machineHasGpus?.() ?? false,
        progressFile: live.files.progress,
        preemptFile: live.files.preempt,
        checkpointDir,
        restartCount: Math.max(0, (req.attemptNumber ?? 0) - 1),
      },
      this.agentEnv,
    );
    this.launch(live, { argv: req.command, env, cwd: req.workingDir || process.cwd() });
  }

  /** Starts the attempt's process and wires its events (again after a launcher that died before reading the request). */
  private launch(live: LiveAttempt, spec: SpawnSpec): void {
    const progress = new ProgressLineReader((u) => this.reportProgress(live, u.percent, u.message));
    const events: AttemptProcessEvents = {
      started: (pid, startTime) => {
        if (live.pid !== 0 || live.done) return;
        live.processStart = startTime;
        this.onSpawn(live, pid);
      },
      startFailed: (message) => this.finish(live, startFailed(message)),
      output: (stream, chunk) => {
        if (live.done) return;
        live.tail.append(chunk);
        if (stream === "stdout") progress.push(chunk);
        this.toLog(live, stream, chunk);
      },
      streamEnded: (stream) => {
        if (stream === "stdout" && !live.done) progress.end();
      },
      exited: (code, signal, usage) => {
        live.exit = { code, signal };
        live.usage = usage;
        // 'closed' waits for stdio; a grandchild that inherited it could hold it open forever.
        scheduleFor(live, this.options.closeAfterExitMs ?? 5_000, () => this.finish(live, this.endResult(live)));
      },
      closed: () => this.finish(live, this.endResult(live)),
      lost: (message, retryable) => this.onLauncherLost(live, spec, message, retryable),
    };
    try {
      live.process = startAttemptProcess(this.launcher, spec, events);
    } catch (err) {
      this.finish(live, startFailed((err as Error).message)); // For example an argument with a NUL byte.
    }
  }

  /**
   * The launcher died with this attempt in it. Nothing can wait for the command or read its output
   * any more, so it must not run on unwatched: its group is killed and the attempt ends LOST (the
   * agent's failure, not the task's: the master runs it again without using a retry), unless its
   * end was already known (it exited: the usual result) or it was being stopped (the stop's
   * outcome). A launcher that died before it read the request started nothing: the attempt is
   * simply started again (through a new launcher, or directly once the launcher is given up).
   */
  private onLauncherLost(live: LiveAttempt, spec: SpawnSpec, message: string, retryable: boolean): void {
    if (live.done) return;
    if (retryable && live.pid === 0 && !live.stop) {
      this.launch(live, spec);
      return;
    }
    if (live.pid !== 0 && !live.exit) signalGroup(live.pid, "SIGKILL");
    if (live.exit || live.stop) {
      this.finish(live, this.endResult(live));
      return;
    }
    const durationMs = live.pid === 0 ? 0 : this.durationMs(live);
    this.finish(live, {
      outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST,
      exitCode: -1,
      signal: "",
      message: `${message}; the attempt's processes were killed and its end is unknown`,
      outputTail: live.tail.text(),
      durationMs,
    });
  }

  /** Into the attempt's log file; a full file buffer pauses the stream (the task waits, as on a slow terminal). */
  private toLog(live: LiveAttempt, stream: LogStreamName, chunk: Buffer): void {
    // Output already on its way when the stream was paused (the launcher's frames) is written, not waited for again.
    if (!live.log || live.log.write(stream, chunk) || live.logWaits.has(stream)) return;
    live.logWaits.add(stream);
    const proc = live.process;
    proc?.pause(stream);
    const resume = () => {
      live.logWaits.delete(stream);
      proc?.resume(stream);
    };
    live.log.drained(stream).then(resume, resume);
  }

  /** Repeats of the same figure are dropped: a task printing progress in a tight loop must not flood the master. */
  private reportProgress(live: LiveAttempt, percent: number, message: string): void {
    const key = `${percent} ${message}`;
    if (live.done || key === live.lastProgress) return;
    live.lastProgress = key;
    this.options.events?.progress?.(live.req.attemptId, percent, message);
  }

  /** The command runs (exec'ed): its group can be signalled, and its timeout runs from now (unless it is being stopped already). */
  private onSpawn(live: LiveAttempt, pid: number): void {
    live.pid = pid;
    this.announce(live);
    if (live.stop) {
      stopAttempt(live, live.stop.outcome, live.stop.message, 0); // Canceled while starting: the request stands.
      return;
    }
    const timeoutMs = live.req.timeoutMs ?? 0;
    if (timeoutMs > 0) {
      scheduleFor(live, timeoutMs, () =>
        stopAttempt(live, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT, `timed out after ${timeoutMs} ms`, this.options.timeoutGraceMs ?? 10_000),
      );
    }
  }

  private announce(live: LiveAttempt): void {
    live.announced = true;
    live.startedAtMs = this.now();
    this.options.events?.started?.(live.req.attemptId, live.pid, new Date(live.startedAtMs));
  }

  /** The result of an attempt that ended (or was stopped before it started): from its exit, stop and usage. */
  private endResult(live: LiveAttempt): TaskResult {
    const { code = null, signal = null } = live.exit ?? {};
    const result = endedResult({ code, signal, outputTail: live.tail.text(), durationMs: live.pid === 0 ? 0 : this.durationMs(live), stop: live.stop });
    const usage = live.usage;
    return usage ? { ...result, cpuTimeMs: usage.cpuTimeMs, maxRssKib: usage.maxRssKib } : result;
  }

  private durationMs(live: LiveAttempt): number {
    return Math.max(0, this.now() - live.startedAtMs);
  }

  private finish(live: LiveAttempt, result: TaskResult): void {
    if (live.done) return;
    live.done = true;
    live.timers.forEach(clearTimeout);
    live.process?.release();
    this.attempts.delete(live.req.attemptId);
    // A stopped attempt leaves nothing behind: background processes of the task that neither
    // exited nor held its stdio would otherwise survive the cancel.
    if (live.stop && live.pid !== 0) signalGroup(live.pid, "SIGKILL");
    if (live.files) this.attemptFiles.release(live.files);
    if (live.log) {
      // Readers that follow this log end once the files are flushed and closed.
      live.log.close().catch((err) => this.options.onLogError?.(`could not close the log of attempt ${live.req.attemptId}`, err));
      const { workerId } = this.options;
      result = { ...result, logLocation: workerId ? `${workerId}:${live.log.dir}` : live.log.dir };
    }
    this.options.events?.finished?.(live.req.attemptId, result, new Date(this.now()));
    live.resolve(result);
  }

  private refuse(attemptId: string, message: string): Promise<TaskResult> {
    const result = startFailed(message);
    this.options.events?.finished?.(attemptId, result, new Date(this.now()));
    return Promise.resolve(result);
  }
}
