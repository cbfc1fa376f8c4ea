// Helpers for end-to-end tests that look at tasks and their processes: a recorder of WatchTasks
// events that can be awaited on a condition, a bounded wait on a condition that has no event
// (a process's state in /proc), and /proc readers.
import { readdirSync, readFileSync } from "node:fs";
import type { TaskgridClient, TaskWatch } from "../../src/client/index.js";
import type { TaskEvent } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";

/** Records every event of a WatchTasks stream; `until` resolves on the first event matching. */
export class TaskEvents {
  readonly all: TaskEvent[] = [];
  /** Date.now() when each event of `all` arrived (for measurements, never for assertions). */
  readonly arrivedAtMs: number[] = [];
  private waiters: Array<() => void> = [];
  private ended: Error | null = null;
  private readonly watch: TaskWatch;

  constructor(client: TaskgridClient, taskIds: string[]) {
    const watch = client.watchTasks({ taskIds });
    this.watch = watch;
    void (async () => {
      try {
        for await (const event of watch) {
          this.all.push(event);
          this.arrivedAtMs.push(Date.now());
          this.wake();
        }
        this.ended = new Error("watch ended");
      } catch (err) {
        this.ended = err as Error;
      }
      this.wake();
    })();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** The first recorded event (from `from` on) matching `pred`; waits for it if needed. */
  async until(pred: (e: TaskEvent) => boolean, from = 0): Promise<TaskEvent> {
    for (let i = from; ; ) {
      for (; i < this.all.length; i++) if (pred(this.all[i])) return this.all[i];
      if (this.ended)
        throw new Error(
          `watch ended before the expected event (${this.ended.message}); got ${JSON.stringify(this.all.map((e) => [e.taskId.slice(-6), e.state, e.progress]))}`,
        );
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Like `until`, with the event's arrival time. */
  async untilTimed(pred: (e: TaskEvent) => boolean): Promise<{ event: TaskEvent; atMs: number }> {
    const event = await this.until(pred);
    return { event, atMs: this.arrivedAtMs[this.all.indexOf(event)] };
  }

  /** The first event reaching state `s`. */
  state(s: TaskEvent["state"]): Promise<TaskEvent> {
    return this.until((e) => e.state === s);
  }

  close(): void {
    this.watch.cancel();
  }
}

/**
 * Like waitUntil for an async check (e.g. a GetTask showing what no watch event announces, such as
 * the result of a canceled task's attempt, which lands after the task is already terminal).
 */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Polls `cond` until it holds, failing after `timeoutMs`. For conditions no event announces (a
 * process's state in /proc); never used to let time pass.
 */
export async function waitUntil(cond: () => boolean, what: string | (() => string), timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ...; null when gone. */
function statFields(pid: number | string): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** One-letter process state ("R", "S", "T" stopped, "Z" zombie, ...), or null when gone. */
export function procState(pid: number): string | null {
  return statFields(pid)?.[0] ?? null;
}

/** States of the live (non-zombie) processes in process group `pgid`. */
export function groupStates(pgid: number): string[] {
  return groupProcesses(pgid).map((p) => p.state);
}

/** The live (non-zombie) processes in process group `pgid`, with their pid, command name and state. */
export function groupProcesses(pgid: number): Array<{ pid: number; comm: string; state: string }> {
  const out: Array<{ pid: number; comm: string; state: string }> = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (!f || Number(f[2]) !== pgid || f[0] === "Z") continue;
    const comm = (() => {
      try {
        return readFileSync(`/proc/${name}/comm`, "utf8").trim();
      } catch {
        return "?";
      }
    })();
    out.push({ pid: Number(name), comm, state: f[0] });
  }
  return out;
}

/** kill -0: whether a process with this pid exists (zombies included). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Reads a pid a task wrote with `echo $$ > FILE`. */
export function readPid(file: string): number {
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in ${file}`);
  return pid;
}

/** Test cleanup: cancels every task still active, so nothing a failed test left keeps an agent busy. */
export async function cancelActiveTasks(client: TaskgridClient): Promise<void> {
  const active = [TaskState.TASK_STATE_QUEUED, TaskState.TASK_STATE_ASSIGNED, TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_PAUSED];
  const left = await client.listTasks({ states: active }).catch(() => null);
  for (const t of left?.tasks ?? []) await client.cancelTask(t.id, "test cleanup").catch(() => {});
}
