// Human renderings of tasks: the `get` detail view (with "why this worker"), `ls` rows and the
// one-line state changes printed by `watch` and `submit --wait`.
import type { Attempt, PlacementDecision, ScoreBreakdown, Task, TaskEvent, TaskResult } from "../gen/taskgrid/v1/task.js";
import { AttemptOutcome, QueueClass, TaskState } from "../gen/taskgrid/v1/types.js";
import {
  formatAge,
  formatCores,
  formatDuration,
  formatFields,
  formatMib,
  formatNumber,
  formatTable,
  formatTime,
  outcomeName,
  priorityName,
  queueName,
  stateName,
  truncate,
} from "./format.js";
import { formatPriority } from "./render-sharing.js";

const TERMINAL = new Set([TaskState.TASK_STATE_SUCCEEDED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED]);

export function isTerminal(state: TaskState): boolean {
  return TERMINAL.has(state);
}

/** Quotes argv the way a shell user would retype it. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** "FAILED, exit 3, after 1.5s (message)"; the outcome is left out where the caller already shows it. */
export function formatResult(r: TaskResult, withOutcome = true): string {
  const parts = withOutcome ? [outcomeName(r.outcome)] : [];
  // -1 means "killed or never started": the signal or the message says more than the number.
  if (r.exitCode >= 0) parts.push(`exit ${r.exitCode}`);
  if (r.signal) parts.push(`signal ${r.signal}`);
  if (r.durationMs > 0) parts.push(`after ${formatDuration(r.durationMs)}`);
  const text = parts.join(", ");
  // Skip a message that only repeats the exit code ("exit code 3").
  if (!r.message || r.message === `exit code ${r.exitCode}`) return text;
  return text ? `${text} (${r.message})` : r.message;
}

function resourcesLine(task: Task): string {
  const r = task.spec?.resources;
  const cpu = r?.cpuMillis ? `${formatCores(r.cpuMillis)} cpu` : "default cpu";
  const mem = r?.memoryMib ? formatMib(r.memoryMib) : "default mem";
  const gpu = r?.gpuCount ? `, ${r.gpuCount} gpu${r.gpuModel ? ` (${r.gpuModel})` : ""}${r.gpuMemoryMib ? ` >= ${formatMib(r.gpuMemoryMib)} each` : ""}` : "";
  return `${cpu}, ${mem}${gpu}`;
}

/** What an ended attempt that was not the last one led to: a requeue (no retry used) or a retry. */
function followedBy(a: Attempt): string {
  if (!a.result) return "";
  if (a.result.outcome === AttemptOutcome.ATTEMPT_OUTCOME_LOST) return "  -> requeued (lost by the infrastructure: no retry used)";
  if (a.result.outcome === AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED) return "  -> requeued (preempted: no retry used)";
  return "  -> retried";
}

function attemptLine(a: Attempt, last: boolean): string {
  const parts = [`#${a.number}`, a.workerId || "(no worker)"];
  if (a.gpuIndexes.length > 0) parts.push(`gpus ${a.gpuIndexes.join(",")}`);
  parts.push(`assigned ${formatTime(a.assignedAt)}`);
  if (a.startedAt) parts.push(`started ${formatTime(a.startedAt)}`);
  if (a.finishedAt) parts.push(`finished ${formatTime(a.finishedAt)}`);
  parts.push(a.result && a.finishedAt ? formatResult(a.result) : "in progress");
  // On other projects' idle nominal quota: reclaimable once preemption exists.
  if (a.borrowed) parts.push("borrowed quota");
  return parts.join("  ") + (last ? "" : followedBy(a));
}

function factorRow(label: string, b: ScoreBreakdown): string[] {
  return [label, b.workerId, ...[b.score, b.deadline, b.affinity, b.load, b.io, b.success, b.penalty].map((n) => formatNumber(n))];
}

/** "Why this worker": strategy, fallback reason, and the D A L I S P factors of winner and runner-up. */
export function formatDecision(d: PlacementDecision, attemptNumber: number): string {
  const head = [`strategy ${d.strategy || "?"}`];
  if (d.fallbackReason) head.push(`fallback: ${d.fallbackReason}`);
  head.push(`${d.feasibleWorkers} feasible worker${d.feasibleWorkers === 1 ? "" : "s"}`);
  if (d.weightsVersion) head.push(`weights ${d.weightsVersion}`);
  let out = `Placement of attempt #${attemptNumber}: ${head.join(", ")}\n`;
  const rows = [...(d.chosen ? [factorRow("chosen", d.chosen)] : []), ...(d.runnerUp ? [factorRow("runner-up", d.runnerUp)] : [])];
  if (rows.length > 0) {
    out += indent(formatTable(["", "WORKER", "SCORE", "D", "A", "L", "I", "S", "P"], rows), "  ");
  }
  return out;
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((l) => (l ? prefix + l : l))
    .join("\n");
}

export function formatTaskDetail(task: Task, now: Date, events: readonly TaskEvent[] = []): string {
  const spec = task.spec;
  const progress =
    task.progress > 0 || task.progressMessage ? ` (${formatNumber(task.progress, 1)}%${task.progressMessage ? ` ${task.progressMessage}` : ""})` : "";
  const labels = Object.entries(spec?.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  let out = formatFields([
    ["Task", task.id],
    ["State", stateName(task.state) + progress],
    ["Pending", task.pendingReason],
    // Why it waits, or why it goes first: the multifactor priority of a queued task (higher goes first).
    ["Priority", task.priority && task.state === TaskState.TASK_STATE_QUEUED ? `${formatPriority(task.priority)} (highest first)` : undefined],
    ["Name", spec?.name],
    ["Project", spec?.project],
    ["Labels", labels],
    ["Command", formatCommand(spec?.command ?? [])],
    ["Working dir", spec?.workingDir],
    ["Env", Object.keys(spec?.env ?? {}).join(", ")],
    ["Queue", spec ? `${queueName(spec.queueClass)} / ${priorityName(spec.priority)}` : undefined],
    ["Resources", resourcesLine(task)],
    ["Required", spec?.requiredTags.join(", ")],
    ["Preferred", spec?.preferredTags.join(", ")],
    ["Kind", spec?.kind],
    ["IO", spec?.ioIntensity ? formatNumber(spec.ioIntensity, 2) : undefined],
    ["Estimate", spec?.estimateMs ? formatDuration(spec.estimateMs) : undefined],
    ["Timeout", spec?.timeoutMs ? formatDuration(spec.timeoutMs) : undefined],
    ["Retries", spec?.maxRetries || task.retriesUsed ? `${task.retriesUsed} of ${spec?.maxRetries ?? 0} used` : undefined],
    [
      "Requeues",
      task.requeues ? `${task.requeues}${spec?.maxRequeues !== undefined ? ` of ${spec.maxRequeues}` : ""} (attempts lost by the infrastructure)` : undefined,
    ],
    ["Preemptible", spec ? preemptibleLine(spec) : undefined],
    ["Not before", task.notBefore ? `${formatTime(task.notBefore)} (retry backoff)` : undefined],
    ["Idempotency", spec?.idempotencyKey],
    ["Created", task.createdAt ? `${formatTime(task.createdAt)} (${formatAge(task.createdAt, now)} ago)` : undefined],
    ["Updated", task.updatedAt ? formatTime(task.updatedAt) : undefined],
    ["Deadline", task.deadline ? formatTime(task.deadline) : undefined],
    ["Result", task.result ? formatResult(task.result) : undefined],
  ]);
  if (task.attempts.length > 0) {
    out += `Attempts:\n${task.attempts.map((a, i) => `  ${attemptLine(a, i === task.attempts.length - 1)}\n`).join("")}`;
    const withDecision = [...task.attempts].reverse().find((a) => a.decision);
    if (withDecision?.decision) out += formatDecision(withDecision.decision, withDecision.number);
  }
  out += formatHistory(events);
  const tail = task.result?.outputTail;
  if (tail) out += `Output (tail):\n${indent(tail.endsWith("\n") ? tail : `${tail}\n`, "  ")}`;
  return out;
}

/** The worker of the task's latest attempt, when the listing includes attempts. */
function lastWorker(task: Task): string {
  return task.attempts[task.attempts.length - 1]?.workerId || "-";
}

export function formatTaskTable(tasks: readonly Task[], now: Date): string {
  const rows = tasks.map((t) => [
    t.id,
    stateName(t.state),
    t.spec ? queueName(t.spec.queueClass) : "-",
    t.spec ? priorityName(t.spec.priority) : "-",
    truncate(t.spec?.name || formatCommand(t.spec?.command ?? []), 48),
    formatAge(t.createdAt, now),
    lastWorker(t),
  ]);
  return formatTable(["ID", "STATE", "QUEUE", "PRIO", "NAME/COMMAND", "AGE", "WORKER"], rows);
}

/** What an event of the history adds beyond its state: worker, result, progress message. */
function historyDetail(e: TaskEvent): string {
  const parts: string[] = [];
  if (e.workerId) parts.push(`on ${e.workerId}`);
  if (e.result && isTerminal(e.state)) {
    const result = formatResult(e.result, outcomeName(e.result.outcome) !== stateName(e.state));
    if (result) parts.push(result);
  } else if (e.result?.message) {
    parts.push(e.result.message);
  }
  if (e.progressMessage) parts.push(e.progressMessage);
  return parts.join(", ");
}

/** The task's history, oldest first: time, state, who caused it ("-" when not recorded) and detail. */
export function formatHistory(events: readonly TaskEvent[]): string {
  if (events.length === 0) return "";
  const rows = events.map((e) => [`  ${formatTime(e.time)}`, stateName(e.state), e.actor || "-", historyDetail(e)]);
  return `History:\n${formatTable(["  TIME", "STATE", "ACTOR", "DETAIL"], rows)}`;
}

/** One line per event: "task 0192.. RUNNING on worker-1", "task 0192.. progress 42% loading". */
export function formatEventLine(e: TaskEvent, previous: TaskState | undefined): string {
  const where = e.workerId ? ` on ${e.workerId}` : "";
  if (previous === e.state && !e.result) {
    return `task ${e.taskId} progress ${formatNumber(e.progress, 1)}%${e.progressMessage ? ` ${e.progressMessage}` : ""}`;
  }
  const detail = e.result && isTerminal(e.state) ? formatResult(e.result, outcomeName(e.result.outcome) !== stateName(e.state)) : "";
  const result = detail ? ` (${detail})` : "";
  return `task ${e.taskId} ${stateName(e.state)}${where}${result}`;
}

/** "yes (SIGTERM, 30s grace)" / "no": what preemption would do to it (core/preemption/rank.ts default: BATCH only). */
function preemptibleLine(spec: NonNullable<Task["spec"]>): string {
  const preemptible = spec.preemptible ?? spec.queueClass === QueueClass.QUEUE_CLASS_BATCH;
  if (!preemptible) return spec.preemptible === false ? "no (asked)" : "no";
  return `yes (${spec.preemptSignal || "SIGTERM"}, ${formatDuration(spec.preemptGraceMs ?? 30_000)} grace${spec.preemptible === undefined ? ", batch default" : ""})`;
}
