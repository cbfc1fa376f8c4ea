// The environment an attempt's process runs with: the agent's own, the task's extra variables,
// then what Taskgrid sets (the scheduler's GPU allocation always wins over the task's env).
//
// Layered, not merged (issue 18): the agent's environment (dozens of variables) is the same for
// every attempt, so it is copied and encoded for the launcher once (AgentEnv), and an attempt
// carries only its own variables on top. Copying and encoding the whole environment per attempt
// was ~10% of the agent's CPU at 1,000 `true` per second. A later layer wins; the launcher builds
// the dict in that order (launcher-source.ts), and flattenEnv does the same for a direct spawn.

/** Set only for the GPUs the scheduler allocated: never inherited from the agent or the task. */
const ALLOCATION_ONLY = "TASKGRID_GPU_UUIDS";

/** The agent's environment as every attempt inherits it, taken once. */
export class AgentEnv {
  readonly vars: Readonly<Record<string, string>>;
  /** The variables as the launcher's SPAWN payload lists them: "K=V" separated by NUL (frames.ts). */
  readonly encoded: Buffer;

  constructor(env: NodeJS.ProcessEnv) {
    const vars: Record<string, string> = {};
    const fields: string[] = [];
    for (const [key, value] of Object.entries(env)) {
      // A NUL cannot be in a real environment; one given here would cut the payload's fields.
      if (value === undefined || key === ALLOCATION_ONLY || key.includes("\0") || value.includes("\0")) continue;
      vars[key] = value;
      fields.push(`${key}=${value}`);
    }
    this.vars = vars;
    this.encoded = Buffer.from(fields.join("\0"));
  }
}

/** An attempt's environment: the agent's, then `vars` over it. */
export interface AttemptEnv {
  agent: AgentEnv;
  vars: Record<string, string>;
}

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

export function attemptEnv(input: AttemptEnvInput, agent: AgentEnv): AttemptEnv {
  const vars: Record<string, string> = { ...input.taskEnv };
  vars.TASKGRID_TASK_ID = input.taskId;
  vars.TASKGRID_ATTEMPT_ID = input.attemptId;
  vars.TASKGRID_PROGRESS_FILE = input.progressFile;
  vars.TASKGRID_PREEMPT_FILE = input.preemptFile;
  vars.TASKGRID_CHECKPOINT_DIR = input.checkpointDir;
  vars.TASKGRID_RESTART_COUNT = String(input.restartCount);
  delete vars[ALLOCATION_ONLY];
  if (input.gpuIndexes.length > 0) {
    vars.CUDA_VISIBLE_DEVICES = input.gpuIndexes.join(",");
    if (input.gpuUuids) vars[ALLOCATION_ONLY] = input.gpuUuids.join(",");
  } else if (input.machineHasGpus) {
    // No GPUs allocated on a GPU machine: hide them all, so a task cannot grab GPUs that the
    // scheduler gave to other tasks. On a GPU-less machine there is nothing to hide.
    vars.CUDA_VISIBLE_DEVICES = "";
  }
  return { agent, vars };
}

/** The attempt's environment as one object (a direct spawn, tests). */
export function flattenEnv(env: AttemptEnv): NodeJS.ProcessEnv {
  return { ...env.agent.vars, ...env.vars };
}
