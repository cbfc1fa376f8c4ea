// Executors for tests against real child processes (executor-preempt.test.ts,
// agent-attempt-files.test.ts): a harness that waits on executor events, tasks written as shell
// scripts, and the clean-up after each test (executors stopped, tempDir's directories removed: the
// agent's spool and log-file tests use those too). The timers here only cap a hung test.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Executor, type ExecutorOptions, type RunRequest } from "../../agent/executor.js";
import type { TaskResult } from "../../src/gen/taskgrid/v1/task.js";

/** Safety cap on any one wait: a broken preemption fails the test instead of hanging the run. */
export const CAP_MS = 15_000;

const executors: Executor[] = [];
const dirs: string[] = [];
let seq = 0;

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Rejects when `promise` takes longer than CAP_MS. */
export async function capped<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${CAP_MS} ms`)), CAP_MS);
  });
  try {
    return await Promise.race([promise, cap]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Harness {
  executor: Executor;
  checkpointRoot: string;
  /** Resolves on the attempt's first progress report (tasks print `::progress 1` once their trap is set). */
  ready(attemptId: string): Promise<void>;
  started(attemptId: string): Promise<number>;
}

export function harness(options: Partial<ExecutorOptions> = {}): Harness {
  const checkpointRoot = options.checkpointRoot ?? join(tempDir("preempt-ckpt-"), "root");
  const readyWaiters = new Map<string, () => void>();
  const readySeen = new Set<string>();
  const startedWaiters = new Map<string, (pid: number) => void>();
  const startedSeen = new Map<string, number>();
  const executor = new Executor({
    maxTasks: 8,
    checkpointRoot,
    ...options,
    events: {
      started(attemptId, pid) {
        startedSeen.set(attemptId, pid);
        startedWaiters.get(attemptId)?.(pid);
      },
      progress(attemptId, percent, message) {
        readySeen.add(attemptId);
        readyWaiters.get(attemptId)?.();
        options.events?.progress?.(attemptId, percent, message);
      },
    },
  });
  executors.push(executor);
  return {
    executor,
    checkpointRoot,
    ready: (id) => capped(readySeen.has(id) ? Promise.resolve() : new Promise<void>((r) => readyWaiters.set(id, r)), `${id} ready`),
    started: (id) =>
      capped(startedSeen.has(id) ? Promise.resolve(startedSeen.get(id)!) : new Promise<number>((r) => startedWaiters.set(id, r)), `${id} started`),
  };
}

export function req(script: string, extra: Partial<RunRequest> = {}): RunRequest {
  seq++;
  return { attemptId: `att-${seq}`, taskId: `task-${seq}`, command: ["/bin/sh", "-c", script], ...extra };
}

/** Sets a trap on `signal` that saves the preempt file into the checkpoint dir and exits 0, then loops. */
export const checkpointOn = (signal: string) =>
  `trap 'cat "$TASKGRID_PREEMPT_FILE" > "$TASKGRID_CHECKPOINT_DIR/state"; echo saved-on-${signal}; exit 0' ${signal}
echo ::progress 1 ready
while :; do sleep 0.05; done`;

export const result = (run: Promise<TaskResult>, what = "result") => capped(run, what);

/** Stops every executor the harness made and removes the temp dirs (run after each test). */
export async function cleanUpExecutors(): Promise<void> {
  await Promise.all(executors.map((e) => e.cancelAll(0)));
  for (const e of executors) e.close();
  executors.length = 0;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.length = 0;
}

/** Polls an event-free fact (kernel process state, a removal nobody is told of), bounded by the cap. */
export async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + CAP_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition never held: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
