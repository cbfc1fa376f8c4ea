// Every setting of `taskgrid agent` (and of startAgent) that a person sets, stated once. The token,
// TLS and --master flags are the client verbs' (src/cli/client-options.ts, src/cli/command.ts).
import { availableParallelism } from "node:os";
import { LOG_SETTINGS } from "./log-settings.js";
import { MASTER_SETTINGS } from "./master-settings.js";
import type { Settings } from "./schema.js";

/** The number of CPUs the agent offers (and the default of maxTasks). */
export const cpuCount = (): number => Math.max(1, availableParallelism());

/** Where `taskgrid agent` keeps its state unless --state-dir says otherwise. */
export const agentStateDir = (workerId: string): string => `.taskgrid/agent-${workerId}`;

export const AGENT_SETTINGS = {
  tags: { type: "list", default: [], flag: "tags", value: "A,B", help: "tags this worker offers (e.g. gpu,ssd,zone=eu)" },
  maxTasks: {
    type: "integer",
    min: 0,
    cliMin: 1,
    max: 100_000,
    default: cpuCount,
    defaultText: "number of CPUs",
    flag: "max-tasks",
    value: "N",
    help: "most tasks run at once",
  },
  workerId: {
    type: "string",
    pattern: /^[A-Za-z0-9._-]{1,128}$/,
    patternText: "1..128 characters of [A-Za-z0-9._-]",
    defaultText: "derived from the host name",
    flag: "id",
    value: "ID",
    help: "worker id",
  },
  stateDir: {
    type: "path",
    defaultText: agentStateDir("ID"),
    flag: "state-dir",
    value: "DIR",
    help: "where unacknowledged results survive a restart, and the tasks' log files (logs/)",
    doc: "where unacknowledged results survive a restart, and the tasks' log files (`logs/`); startAgent without it: memory only (logs under the OS temp dir, removed on stop)",
  },
  checkpointDir: {
    type: "path",
    defaultText: "checkpoints/ under --state-dir",
    flag: "checkpoint-dir",
    value: "DIR",
    // Not TASKGRID_CHECKPOINT_DIR: that is the variable each task gets (its own directory under this one).
    env: "TASKGRID_AGENT_CHECKPOINT_DIR",
    help: "parent of each task's TASKGRID_CHECKPOINT_DIR; put it on storage every agent mounts so a preempted task resumes anywhere",
    doc: "parent of each task's `TASKGRID_CHECKPOINT_DIR`; put it on storage every agent mounts so a preempted task resumes anywhere (startAgent without it or `stateDir`: `<os tmpdir>/taskgrid-checkpoints`)",
  },
  /** Used until the master's `registered` says otherwise; the same default as the master's. */
  heartbeatIntervalMs: { type: "number", above: 0, default: MASTER_SETTINGS.heartbeatIntervalMs.default, help: "heartbeat period until the master sets one" },
  stopGraceMs: { type: "number", min: 0, default: 5000, help: "SIGTERM -> SIGKILL grace for attempts killed by stop() or the master's kill list" },
  drainTimeoutMs: { type: "number", min: 0, default: 600_000, help: "upper bound of drain()" },
  registerTimeoutMs: { type: "number", above: 0, default: 30_000, help: "close the stream when `registered` does not come within this" },
  maxBufferedReports: {
    type: "number",
    above: 0,
    default: 10_000,
    help: "most reports kept until the master acknowledges them (the oldest progress reports go first)",
  },
  leaseCheckMs: { type: "number", above: 0, default: 250, help: "how often the lease on running attempts is checked" },
  stopAckWaitMs: { type: "number", min: 0, default: 2000, help: "on stop, how long to wait for the master to acknowledge finished reports" },
  taskLogMaxBytes: {
    type: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    default: 64 * 1024 * 1024,
    defaultText: "67108864 (64 MiB)",
    flag: "task-log-max-bytes",
    value: "BYTES",
    help: "cap of each attempt's stdout log file and of its stderr file; at the cap a line `[taskgrid: output cut at N bytes]` ends the file",
  },
  taskLogTotalBytes: {
    type: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    default: 1024 * 1024 * 1024,
    defaultText: "1073741824 (1 GiB)",
    flag: "task-log-total-bytes",
    value: "BYTES",
    help: "cap of all attempts' log files on this agent together; the files of the attempts that ended longest ago are removed first",
  },
  ...LOG_SETTINGS,
} as const satisfies Settings;
