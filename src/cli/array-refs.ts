// Job arrays on the command line: an array id stands for all its elements (`watch`, `get`), and
// "ARRAY_ID[N]" for one of them (the master resolves that form too, but events carry task ids).
import type { TaskgridClient } from "../client/index.js";
import { parseElementRef } from "../core/arrays.js";
import type { Task } from "../gen/taskgrid/v1/task.js";

const PAGE = 1000;

/** Every element of array `arrayId` the caller may see, by index; empty when no such array. */
export async function arrayElements(client: TaskgridClient, arrayId: string): Promise<Task[]> {
  const tasks: Task[] = [];
  let pageToken = "";
  do {
    const page = await client.listTasks({ arrayId, pageSize: PAGE, pageToken });
    tasks.push(...page.tasks);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return tasks.sort((a, b) => a.arrayIndex - b.arrayIndex);
}

/** Task ids for ids, "ID[N]" element references and array ids (each array: all its elements). */
export async function expandTaskRefs(client: TaskgridClient, refs: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of refs) {
    if (parseElementRef(ref) !== null) {
      ids.push((await client.getTask(ref)).id);
      continue;
    }
    const elements = await arrayElements(client, ref);
    if (elements.length > 0) for (const t of elements) ids.push(t.id);
    else ids.push(ref);
  }
  return ids;
}
