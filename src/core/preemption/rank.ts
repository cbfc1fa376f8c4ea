// Who may preempt whom (issue 16, Slurm's PreemptType=qos / Kubernetes PriorityClass style): the
// queue class decides first, priority only within a class, and only by a margin, so that two tasks
// one step apart do not evict each other over a small difference in urgency.
import type { Priority, QueueClass, Task } from "../types.js";

/** Class rank: a higher class may preempt every lower one, whatever the priorities. */
export const CLASS_RANK: Readonly<Record<QueueClass, number>> = { LIVE: 2, DEFAULT: 1, BATCH: 0 };

/** Priority steps within one class: HIGH 2, NORMAL 1, LOW 0. */
export const PRIORITY_STEP: Readonly<Record<Priority, number>> = { HIGH: 2, NORMAL: 1, LOW: 0 };

/** Priority steps a preemptor must be above a victim of its own class (default 1). */
export const DEFAULT_PRIORITY_MARGIN = 1;

/**
 * A margin below 1 would let equals preempt each other (and so back and forth for ever); it is
 * raised to 1. Fractions are rounded up: steps are whole numbers.
 */
export function effectiveMargin(margin: number | undefined): number {
  const m = margin ?? DEFAULT_PRIORITY_MARGIN;
  return Number.isFinite(m) ? Math.max(1, Math.ceil(m)) : Number.POSITIVE_INFINITY;
}

/**
 * Whether `preemptor` outranks `victim`: a lower queue class (LIVE > DEFAULT > BATCH), or the same
 * class and a priority at least `margin` steps lower. Says nothing of preemptibility or history.
 */
export function outranks(preemptor: Task, victim: Task, margin: number): boolean {
  const a = CLASS_RANK[preemptor.spec.queueClass];
  const b = CLASS_RANK[victim.spec.queueClass];
  if (a !== b) return a > b;
  return PRIORITY_STEP[preemptor.spec.priority] - PRIORITY_STEP[victim.spec.priority] >= margin;
}

/** Whether anything at all ranks below the task: lets the caller say why nothing was chosen without a scan. */
export function outranksAnything(task: Task, margin: number): boolean {
  return CLASS_RANK[task.spec.queueClass] > 0 || PRIORITY_STEP[task.spec.priority] >= margin;
}

/** The default: BATCH work is preemptible, LIVE and DEFAULT work is not (`--preemptible` overrides, in the caller). */
export function defaultPreemptible(task: Task): boolean {
  return task.spec.queueClass === "BATCH";
}

/** Whether the task may be preempted: what it asked for (`--preemptible`), else the class default. */
export function isPreemptible(task: Task): boolean {
  return task.spec.preemptible ?? defaultPreemptible(task);
}

/** The metric label of a preemption: the preemptor's class outranks the victim's, or only its priority does. */
export type PreemptionCause = "queue_class" | "priority";

export function causeOf(preemptor: Task, victim: Task): PreemptionCause {
  return CLASS_RANK[preemptor.spec.queueClass] !== CLASS_RANK[victim.spec.queueClass] ? "queue_class" : "priority";
}
