// Follows tasks over WatchTasks until every one of them is terminal; shared by `watch` and
// `submit --wait`. Also renders progress: a redrawn bar on a terminal, plain lines otherwise.
import { ClientError, type TaskgridClient } from "../client/index.js";
import type { TaskEvent } from "../gen/taskgrid/v1/task.js";
import type { TaskState } from "../gen/taskgrid/v1/types.js";
import type { Io } from "./command.js";
import { progressBar } from "./format.js";
import { formatEventLine, isTerminal } from "./render-task.js";

const UNAVAILABLE = 14;

/**
 * Watches `taskIds` and calls onEvent for each event; resolves with each task's terminal event.
 * Survives a failover (or a master restart) mid-watch: a watch that fails with UNAVAILABLE after it
 * delivered events is opened again on the leader, which sends each task's current state first, so
 * no change is missed; a repeat of the state last shown is not passed on, nor anything of a task's
 * after its end (an end during the subscription comes as an event and as the current state, in either
 * order). A watch that cannot be opened again fails as the client's calls do (after its deadline).
 */
export async function followUntilTerminal(
  client: TaskgridClient,
  taskIds: readonly string[],
  onEvent: (event: TaskEvent) => void,
): Promise<Map<string, TaskEvent>> {
  const pending = new Set(await fullIds(client, taskIds));
  const finished = new Map<string, TaskEvent>();
  const shown = new Map<string, TaskEvent>();
  for (let reopened = false; ; reopened = true) {
    // After a reopening, the first event of each task may only repeat what was shown.
    const mayRepeat = new Set(reopened ? pending : []);
    const watch = client.watchTasks({ taskIds: [...pending] });
    let delivered = false;
    try {
      for await (const event of watch) {
        delivered = true;
        // A task that ends while the watch subscribes comes twice: its event and its current state.
        // A master may send a current state ahead of its events (older masters read it from the
        // database, which is ahead of what they have published), so the end may also come first
        // and the events that led to it after: an end is final, and nothing of the task's after it
        // is passed on.
        if (finished.has(event.taskId)) continue;
        const repeat = mayRepeat.delete(event.taskId) && sameView(shown.get(event.taskId), event);
        if (repeat) continue;
        shown.set(event.taskId, event);
        onEvent(event);
        if (pending.has(event.taskId) && isTerminal(event.state)) {
          pending.delete(event.taskId);
          finished.set(event.taskId, event);
          if (pending.size === 0) {
            watch.cancel();
            return finished;
          }
        }
      }
    } catch (err) {
      if (delivered && err instanceof ClientError && err.code === UNAVAILABLE) continue;
      throw err;
    }
    throw new ClientError(UNAVAILABLE, `the watch stream ended before ${[...pending].join(", ")} finished`);
  }
}

/** A full UUID is 36 characters; a shorter id may be a unique prefix (the master resolves it). */
const FULL_ID_LENGTH = 36;

/**
 * The full ids of `taskIds`, some of which may be unique prefixes: events carry full ids, so the
 * tasks to wait for are known by those (one GetTask per prefix; the master rejects an ambiguous one).
 */
export async function fullIds(client: TaskgridClient, taskIds: readonly string[]): Promise<string[]> {
  return Promise.all(taskIds.map(async (id) => (id.length >= FULL_ID_LENGTH ? id : (await client.getTask(id)).id)));
}

/** Whether `event` shows what `before` showed (a watch's current state after a reopening). */
function sameView(before: TaskEvent | undefined, event: TaskEvent): boolean {
  return before !== undefined && before.state === event.state && before.progress === event.progress && before.progressMessage === event.progressMessage;
}

/** Prints state changes (and progress) to stderr; skips events that change nothing visible. */
export class EventPrinter {
  private readonly last = new Map<string, { state: TaskState; progress: number; message: string }>();
  private barShown = false;

  constructor(
    private readonly io: Io,
    private readonly redrawBar: boolean,
  ) {}

  print(e: TaskEvent): void {
    const before = this.last.get(e.taskId);
    this.last.set(e.taskId, { state: e.state, progress: e.progress, message: e.progressMessage });
    const stateChanged = before?.state !== e.state || (e.result !== undefined && isTerminal(e.state));
    if (!stateChanged) {
      if (before.progress === e.progress && before.message === e.progressMessage) return;
      if (this.redrawBar) {
        // \r + erase line: the bar updates in place instead of scrolling.
        this.io.err(`\r\x1b[K${progressBar(e.progress)}${e.progressMessage ? ` ${e.progressMessage}` : ""}`);
        this.barShown = true;
        return;
      }
    }
    this.clearBar();
    this.io.err(`${formatEventLine(e, before?.state)}\n`);
  }

  /** Ends a bar line so the next output starts on a fresh line. */
  clearBar(): void {
    if (!this.barShown) return;
    this.io.err("\r\x1b[K");
    this.barShown = false;
  }
}
