// Dependencies between tasks (Slurm's --dependency afterok / afterany / afternotok): what a task
// waits for, whether that is met, still pending or can never be met, and the rules of a batch that
// carries a whole DAG ("#N" references to the Nth spec of the same request). Pure: the master's
// dependency gate (master/dependency-gate.ts) feeds it the states it knows.
import { InvalidArgumentError } from "./errors.js";
import type { TaskSpec, TaskState } from "./types.js";

/** after: the target SUCCEEDED; afterAny: it ended; afterFail: it FAILED or was CANCELED. */
export const DEPENDENCY_KINDS = ["after", "afterAny", "afterFail"] as const;
export type DependencyKind = (typeof DEPENDENCY_KINDS)[number];

/** The spec field of each kind, as clients write it. */
export const DEPENDENCY_FIELDS: Record<DependencyKind, string> = { after: "after", afterAny: "after_any", afterFail: "after_fail" };

export interface Dependency {
  kind: DependencyKind;
  /** A task id or an array id (element references are resolved to task ids at submission). */
  target: string;
}

/** What is known of a dependency's target: one task's state, or an array's elements by outcome. */
export type TargetStatus =
  | { kind: "task"; state: TaskState }
  /** `total` elements, of which `succeeded` SUCCEEDED and `failed` FAILED or were CANCELED. */
  | { kind: "array"; total: number; succeeded: number; failed: number };

export type Readiness = { kind: "ready" } | { kind: "waiting"; reason: string } | { kind: "impossible"; reason: string };

/** Most dependencies one spec may list (all kinds together). */
export const MAX_DEPENDENCIES = 1000;

export function dependenciesOf(spec: Pick<TaskSpec, "after" | "afterAny" | "afterFail">): Dependency[] {
  const deps: Dependency[] = [];
  for (const kind of DEPENDENCY_KINDS) for (const target of spec[kind] ?? []) deps.push({ kind, target });
  return deps;
}

export function hasDependencies(spec: Pick<TaskSpec, "after" | "afterAny" | "afterFail">): boolean {
  return (spec.after?.length ?? 0) + (spec.afterAny?.length ?? 0) + (spec.afterFail?.length ?? 0) > 0;
}

const LABEL: Record<DependencyKind, string> = { after: "after", afterAny: "after-any", afterFail: "after-fail" };

function describe(dep: Dependency, status: TargetStatus | undefined): string {
  if (status === undefined) return `${LABEL[dep.kind]} task ${dep.target} (unknown)`;
  if (status.kind === "task") return `${LABEL[dep.kind]} task ${dep.target} (${status.state})`;
  const ended = status.succeeded + status.failed;
  const failed = status.failed > 0 ? `, ${status.failed} FAILED or CANCELED` : "";
  return `${LABEL[dep.kind]} array ${dep.target} (${ended}/${status.total} ended${failed})`;
}

type Verdict = "met" | "pending" | "never";

function verdictOf(kind: DependencyKind, status: TargetStatus): Verdict {
  if (status.kind === "task") {
    const s = status.state;
    const ended = s === "SUCCEEDED" || s === "FAILED" || s === "CANCELED";
    if (!ended) return "pending";
    if (kind === "afterAny") return "met";
    return (s === "SUCCEEDED") === (kind === "after") ? "met" : "never";
  }
  const allEnded = status.succeeded + status.failed >= status.total;
  if (kind === "after") return status.failed > 0 ? "never" : allEnded ? "met" : "pending";
  if (!allEnded) return "pending";
  if (kind === "afterAny") return "met";
  return status.failed > 0 ? "met" : "never";
}

/**
 * Ready when every dependency is met; impossible as soon as one can never be (the first such is
 * the reason); else waiting, the reason naming the first one still pending ("waiting: after task
 * <id> (RUNNING)", plus how many more).
 */
export function evaluateDependencies(deps: readonly Dependency[], statusOf: (target: string) => TargetStatus | undefined): Readiness {
  let firstPending: string | null = null;
  let pending = 0;
  for (const dep of deps) {
    const status = statusOf(dep.target);
    const verdict = status === undefined ? "pending" : verdictOf(dep.kind, status);
    if (verdict === "never") return { kind: "impossible", reason: `dependency can never be met: ${describe(dep, status)}` };
    if (verdict === "pending") {
      pending++;
      firstPending ??= describe(dep, status);
    }
  }
  if (firstPending === null) return { kind: "ready" };
  return { kind: "waiting", reason: `waiting: ${firstPending}${pending > 1 ? ` and ${pending - 1} more` : ""}` };
}

/** "#N" (the Nth spec of the same SubmitTasks request, 0-based) as N; null when `ref` is not one. */
export function batchReference(ref: string): number | null {
  const m = /^#(\d{1,6})$/.exec(ref);
  return m === null ? null : Number(m[1]);
}

/**
 * Checks the "#N" references of one request's specs: each names another spec of the request, and
 * they form no cycle (a cycle could never start). Throws INVALID_ARGUMENT naming the field, or for a
 * cycle the specs on it. `field(i)` names spec i ("specs[2]").
 */
export function checkBatchDag(specs: ReadonlyArray<Pick<TaskSpec, "after" | "afterAny" | "afterFail">>, field: (i: number) => string): void {
  const edges: number[][] = specs.map(() => []);
  specs.forEach((spec, i) => {
    for (const kind of DEPENDENCY_KINDS) {
      (spec[kind] ?? []).forEach((ref, j) => {
        const n = batchReference(ref);
        if (n === null) return;
        const where = `${field(i)}.${DEPENDENCY_FIELDS[kind]}[${j}]`;
        if (n >= specs.length) throw new InvalidArgumentError(where, `${ref} names no spec of this request (it has ${specs.length}: #0..#${specs.length - 1})`);
        if (n === i) throw new InvalidArgumentError(where, `${ref} is the spec itself: a task cannot wait for itself`);
        edges[i].push(n);
      });
    }
  });
  const cycle = findCycle(edges);
  if (cycle !== null) throw new InvalidArgumentError("specs", `dependencies form a cycle: ${cycle.map(field).join(" -> ")}`);
}

/** A cycle of the graph as its nodes (the first repeated at the end), or null. Iterative DFS. */
export function findCycle(edges: readonly (readonly number[])[]): number[] | null {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Uint8Array(edges.length);
  const parent = new Int32Array(edges.length).fill(-1);
  for (let root = 0; root < edges.length; root++) {
    if (color[root] !== WHITE) continue;
    const stack: Array<{ node: number; next: number }> = [{ node: root, next: 0 }];
    color[root] = GREY;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next >= edges[top.node].length) {
        color[top.node] = BLACK;
        stack.pop();
        continue;
      }
      const to = edges[top.node][top.next++];
      if (color[to] === GREY) {
        const cycle = [to];
        for (let n = top.node; n !== to; n = parent[n]) cycle.push(n);
        cycle.push(to);
        return cycle.reverse();
      }
      if (color[to] === WHITE) {
        color[to] = GREY;
        parent[to] = top.node;
        stack.push({ node: to, next: 0 });
      }
    }
  }
  return null;
}

/** Longest reference: an element address "<36-character id>[2147483647]" with room to spare. */
export const MAX_REFERENCE_LENGTH = 80;

/**
 * The form of a spec's dependency lists: at most MAX_DEPENDENCIES references in all, each 1..80
 * characters without NUL (they are stored with the spec). Whether they name anything is the
 * master's check (it knows the tasks).
 */
export function checkDependencyRefs(spec: Pick<TaskSpec, "after" | "afterAny" | "afterFail">, prefix: string): void {
  let count = 0;
  for (const kind of DEPENDENCY_KINDS) {
    (spec[kind] ?? []).forEach((ref, j) => {
      const where = `${prefix}.${DEPENDENCY_FIELDS[kind]}[${j}]`;
      if (ref.length === 0 || ref.length > MAX_REFERENCE_LENGTH)
        throw new InvalidArgumentError(where, `must be a task id, an array id, ID[N] or #N (1..${MAX_REFERENCE_LENGTH} characters)`);
      if (ref.includes("\u0000")) throw new InvalidArgumentError(where, "must not contain NUL (\\u0000)");
      count++;
    });
  }
  if (count > MAX_DEPENDENCIES) throw new InvalidArgumentError(`${prefix}.after`, `at most ${MAX_DEPENDENCIES} dependencies per task (got ${count})`);
}
