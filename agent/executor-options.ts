// How an Executor is set up: its limits, where attempts keep their files, and who is told about
// attempt events. Defaults are applied by the Executor.
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";

export interface ExecutorEvents {
  started?(attemptId: string, pid: number, startedAt: Date): void;
  progress?(attemptId: string, percent: number, message: string): void;
  finished?(attemptId: string, result: TaskResult, finishedAt: Date): void;
}

export interface ExecutorOptions {
  /** Attempts run at once; more are refused with START_FAILED "agent at capacity". */
  maxTasks: number;
  events?: ExecutorEvents;
  /** Whether this machine has GPUs (decides CUDA_VISIBLE_DEVICES="" for GPU-less attempts). */
  machineHasGpus?: () => boolean;
  /** UUID of the GPU with this nvidia-smi index, when known. */
  gpuUuid?: (index: number) => string | undefined;
  now?: () => number;
  /** SIGTERM -> SIGKILL grace when an attempt runs past its timeout. Default 10 s. */
  timeoutGraceMs?: number;
  /** How long to wait for stdio to close after the process exited (a grandchild may hold it). Default 5 s. */
  closeAfterExitMs?: number;
  /** Parent of the directory of the attempts' progress and preempt files (attempt-files.ts). Default os.tmpdir(). */
  tempRoot?: string;
  /**
   * Parent of each task's TASKGRID_CHECKPOINT_DIR (<root>/<task id>). On storage every agent mounts,
   * a preempted task resumes from its checkpoints wherever it runs next. Default <os tmpdir>/taskgrid-checkpoints.
   */
  checkpointRoot?: string;
  outputTailBytes?: number;
  /**
   * Parent of each attempt's log directory (<root>/<attempt id>/stdout and stderr, kept after the
   * attempt for `taskgrid logs`). Default: a new directory under the OS temp dir.
   */
  logRoot?: string;
  /** Cap of each attempt's stdout and of its stderr file (a marker line says where it was cut). Default 64 MiB. */
  logMaxAttemptBytes?: number;
  /** Cap of all attempts' log files together: the oldest ended attempts' files go first. Default 1 GiB. */
  logMaxTotalBytes?: number;
  /** Names this machine in TaskResult.log_location ("<worker id>:<dir>"); unset: the dir alone. */
  workerId?: string;
  /** Told about log files that could not be written or removed. */
  onLogError?: (message: string, error: unknown) => void;
  /**
   * python3 that runs the agent's launchers (agent/launcher/: long-lived processes that start every
   * command and report its CPU time and max RSS in the result); null: commands are spawned directly
   * by Node (the old path: the agent forks itself per attempt) and report neither. Default:
   * findUsagePython() (rusage.ts).
   */
  usagePython?: string | null;
  /** Launchers at most (a busy agent starts a second one, launcher-client.ts); default one per core, at most 4. */
  launchers?: number;
}
