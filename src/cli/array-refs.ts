// Job arrays on the command line: an array id stands for all its elements (`watch`, `get`, `sbatch
// -W`), those created later included, and "ARRAY_ID[N]" for one of them (the master resolves that
// form too, but events carry task ids).
import type { TaskgridClient } from "../client/index.js";
import { parseElementRef } from "../core/arrays.js";
import type { Task, TaskEvent } from "../gen/taskgrid/v1/task.js";
import type { ArrayProgress } from "../gen/taskgrid/v1/task_service.js";
import { followUntilTerminal } from "./follow-tasks.js";

const PAGE = 1000;

/** Waiting for a big array's next elements to be created: polled, 0.5 s doubling to 5 s (as wait-guards.ts). */
const FIRST_POLL_MS = 500;
const MAX_POLL_MS = 5000;

/** An array's elements that exist (by index) and its progress (undefined: no array the caller can see by that id). */
export interface ArrayListing {
  tasks: Task[];
  progress: ArrayProgress | undefined;
}

/** Every element of array `arrayId` the caller may see, by index; none when no such array. */
export async function arrayElements(client: TaskgridClient, arrayId: string): Promise<ArrayListing> {
  const tasks: Task[] = [];
  let progress: ArrayProgress | undefined;
  let pageToken = "";
  do {
    const page = await client.listTasks({ arrayId, pageSize: PAGE, pageToken });
    tasks.push(...page.tasks);
    progress ??= page.array;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { tasks: tasks.sort((a, b) => a.arrayIndex - b.arrayIndex), progress };
}

/** An element's end, with its index. */
export interface ElementEnd {
  event: TaskEvent;
  index: number;
}

/**
 * Follows an array's elements to their end, passing on their events. An array creates its elements
 * a chunk at a time as earlier ones end (src/core/array-elements.ts), so this goes in rounds: follow
 * the elements that exist, list again, until every index has an element that ended, or the array
 * was canceled (the indexes never created then never will be).
 */
export async function followArrayToEnd(client: TaskgridClient, arrayId: string, onEvent: (event: TaskEvent) => void): Promise<Map<string, ElementEnd>> {
  const ended = new Map<string, ElementEnd>();
  for (let pollMs = FIRST_POLL_MS; ; ) {
    const { tasks, progress } = await arrayElements(client, arrayId);
    const open = tasks.filter((t) => !ended.has(t.id));
    if (open.length > 0) {
      const index = new Map(open.map((t) => [t.id, t.arrayIndex]));
      const round = await followUntilTerminal(
        client,
        open.map((t) => t.id),
        onEvent,
      );
      for (const [id, event] of round) ended.set(id, { event, index: index.get(id) ?? 0 });
      pollMs = FIRST_POLL_MS;
      continue;
    }
    if (progress === undefined || progress.canceled || progress.created >= progress.total) return ended;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
  }
}

/** Task ids (for ids and "ID[N]" element references) apart from array ids. */
export async function splitTaskRefs(client: TaskgridClient, refs: readonly string[]): Promise<{ taskIds: string[]; arrayIds: string[] }> {
  const taskIds: string[] = [];
  const arrayIds: string[] = [];
  for (const ref of refs) {
    if (parseElementRef(ref) !== null) {
      taskIds.push((await client.getTask(ref)).id);
      continue;
    }
    const { tasks, progress } = await arrayElements(client, ref);
    if (tasks.length > 0 || progress !== undefined) arrayIds.push(ref);
    else taskIds.push(ref);
  }
  return { taskIds, arrayIds };
}
