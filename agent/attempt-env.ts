// The environment an attempt's process runs with: the agent's own, the task's extra variables,
// then what Taskgrid sets (the scheduler's GPU allocation always wins over the task's env).

export interface AttemptEnvInput {
  taskId: string;
  attemptId: string;
  taskEnv: Record<string, string>;
  /** GPU indexes allocated to the attempt. */
  gpuIndexes: number[];
  /** UUIDs of the allocated GPUs, in the same order, when the agent knows all of them. */
  gpuUuids: string[] | null;
  /** Whether this machine has GPUs at all. */
  machineHasGpus: boolean;
  progressFile: string;
  /** Where the agent writes TASKGRID_PREEMPTED=1 before the preempt signal; absent until then. */
  preemptFile: string;
  /** The task's own directory, the same for every attempt of the task: its checkpoints survive a preemption. */
  checkpointDir: string;
  /** Attempts of this task before this one (attempt number - 1): 0 on a first run, so a task knows whether to resume. */
  restartCount: number;
}

export function attemptEnv(input: AttemptEnvInput, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...input.taskEnv };
  env.TASKGRID_TASK_ID = input.taskId;
  env.TASKGRID_ATTEMPT_ID = input.attemptId;
  env.TASKGRID_PROGRESS_FILE = input.progressFile;
  env.TASKGRID_PREEMPT_FILE = input.preemptFile;
  env.TASKGRID_CHECKPOINT_DIR = input.checkpointDir;
  env.TASKGRID_RESTART_COUNT = String(input.restartCount);
  delete env.TASKGRID_GPU_UUIDS;
  if (input.gpuIndexes.length > 0) {
    env.CUDA_VISIBLE_DEVICES = input.gpuIndexes.join(",");
    if (input.gpuUuids) env.TASKGRID_GPU_UUIDS = input.gpuUuids.join(",");
  } else if (input.machineHasGpus) {
    // No GPUs allocated on a GPU machine: hide them all, so a task cannot grab GPUs that the
    // scheduler gave to other tasks. On a GPU-less machine there is nothing to hide.
    env.CUDA_VISIBLE_DEVICES = "";
  }
  return env;
}
