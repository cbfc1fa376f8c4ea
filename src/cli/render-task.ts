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
import { envSummary, envValueLines } from "./render-env.js";
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

/** Whether an ended attempt was requeued without using a retry (lost or preempted). */
function requeuedFree(a: Attempt): boolean {
  const outcome = a.result?.outcome;
  return outcome === AttemptOutcome.ATTEMPT_OUTCOME_LOST || outcome === AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED;
}

/** Why an attempt failed, in the fewest words: "exit code 3", "signal SIGKILL", or its message. */
function failureCause(r: TaskResult): string {
  if (r.exitCode > 0) return `exit code ${r.exitCode}`;
  if (r.signal) return `signal ${r.signal}`;
  return r.message || outcomeName(r.outcome).toLowerCase();
}

/**
 * What an ended attempt that was not the last one led to: a requeue (no retry used) or a retry,
 * with why and which retry ("-> retried (exit code 3, retry 1 of 2)"). `retry` counts the retries
 * used up to this attempt.
 */
function followedBy(a: Attempt, retry: number, maxRetries: number | undefined): string {
  if (!a.result) return "";
  if (a.result.outcome === AttemptOutcome.ATTEMPT_OUTCOME_LOST) return "  -> requeued (lost by the infrastructure: no retry used)";
  if (a.result.outcome === AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED) return "  -> requeued (preempted: no retry used)";
  return `  -> retried (${failureCause(a.result)}, retry ${retry}${maxRetries ? ` of ${maxRetries}` : ""})`;
}

/** The attempt lines of `get`, each ended one but the last saying what followed it. */
function attemptLines(task: Task): string {
  let retries = 0;
  return task.attempts
    .map((a, i) => {
      const last = i === task.attempts.length - 1;
      if (!last && a.result && !requeuedFree(a)) retries++;
      return `  ${attemptLine(a)}${last ? "" : followedBy(a, retries, task.spec?.maxRetries)}\n`;
    })
    .join("");
}

function attemptLine(a: Attempt): string {
  const parts = [`#${a.number}`, a.workerId || "(no worker)"];
  if (a.gpuIndexes.length > 0) parts.push(`gpus ${a.gpuIndexes.join(",")}`);
  parts.push(`assigned ${formatTime(a.assignedAt)}`);
  if (a.startedAt) parts.push(`started ${formatTime(a.startedAt)}`);
  if (a.finishedAt) parts.push(`finished ${formatTime(a.finishedAt)}`);
  parts.push(a.result && a.finishedAt ? formatResult(a.result) : "in progress");
  // On other projects' idle nominal quota: reclaimable once preemption exists.
  if (a.borrowed) parts.push("borrowed quota");
  return parts.join("  ");
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

export interface DetailOptions {
  /** Print the env's values (get --env); by default only its names (see render-env.ts for why). */
  envValues?: boolean;
}

export function formatTaskDetail(task: Task, now: Date, events: readonly TaskEvent[] = [], options: DetailOptions = {}): string {
  const spec = task.spec;
  const progress =
    task.progress > 0 || task.progressMessage ? ` (${formatNumber(task.progress, 1)}%${task.progressMessage ? ` ${task.progressMessage}` : ""})` : "";
  const labels = Object.entries(spec?.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  let out = formatFields([
    ["Task", task.id],
    // An element of a job array: its array and index, "ARRAY_ID[N]" being how the element is addressed too.
    ["Array", task.arrayId ? `${task.arrayId} [${task.arrayIndex}]` : undefined],
    ["State", stateName(task.state) + progress],
    ["Pending", task.pendingReason],
    // Why it waits, or why it goes first: the multifactor priority of a queued task (higher goes first).
    ["Priority", task.priority && task.state === TaskState.TASK_STATE_QUEUED ? `${formatPriority(task.priority)} (highest first)` : undefined],
    ["Name", spec?.name],
    ["Project", spec?.project],
    ["Labels", labels],
    ["Command", formatCommand(spec?.command ?? [])],
    ["Working dir", spec?.workingDir],
    ["Env", envSummary(spec?.env ?? {}, options.envValues === true)],
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
    ["Deadline", task.deadline ? `${formatTime(task.deadline)}${deadlineNote(task, now)}` : undefined],
    ["Result", task.result ? formatResult(task.result) : undefined],
  ]);
  if (options.envValues) out += envValueLines(spec?.env ?? {});
  if (task.attempts.length > 0) {
    out += `Attempts:\n${attemptLines(task)}`;
    const withDecision = [...task.attempts].reverse().find((a) => a.decision);
    if (withDecision?.decision) out += formatDecision(withDecision.decision, withDecision.number);
  }
  out += formatHistory(events);
  const tail = task.result?.outputTail;
  if (tail) out += `Output (tail):\n${indent(tail.endsWith("\n") ? tail : `${tail}\n`, "  ")}`;
  return out;
}

/**
 * " (missed by 3m)" when the task ended after its deadline or is still going past it; "" otherwise.
 * The master's deadline_missed flag decides; the amount is measured to the end (or to now).
 */
export function deadlineNote(task: Task, now: Date): string {
  if (!task.deadline) return "";
  const end = isTerminal(task.state) ? (task.updatedAt ?? now) : now;
  const late = end.getTime() - task.deadline.getTime();
  if (!task.deadlineMissed && (late <= 0 || isTerminal(task.state))) return "";
  return late > 0 ? ` (deadline missed by ${formatDuration(late)})` : " (deadline missed)";
}

/** The worker of the task's latest attempt, when the listing includes attempts. */
function lastWorker(task: Task): string {
  return task.attempts[task.attempts.length - 1]?.workerId || "-";
}

/** The REASON column of `ls` keeps a row on one line; `get ID` has the whole reason. */
const REASON_WIDTH = 48;

export function formatTaskTable(tasks: readonly Task[], now: Date): string {
  const rows = tasks.map((t) => [
    t.id,
    stateName(t.state),
    t.spec ? queueName(t.spec.queueClass) : "-",
    t.spec ? priorityName(t.spec.priority) : "-",
    truncate(t.spec?.name || formatCommand(t.spec?.command ?? []), 48),
    formatAge(t.createdAt, now),
    lastWorker(t),
    t.state === TaskState.TASK_STATE_QUEUED && t.pendingReason ? truncate(t.pendingReason, REASON_WIDTH) : "-",
  ]);
  return formatTable(["ID", "STATE", "QUEUE", "PRIO", "NAME/COMMAND", "AGE", "WORKER", "REASON"], rows);
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
