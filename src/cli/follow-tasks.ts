// Follows tasks over WatchTasks until every one of them is terminal; shared by `watch` and
// `submit --wait`. Also renders progress: a redrawn bar on a terminal, plain lines otherwise.
import { ClientError, type TaskgridClient } from "../client/index.js";
import type { TaskEvent } from "../gen/taskgrid/v1/task.js";
import type { TaskState } from "../gen/taskgrid/v1/types.js";
import type { Io } from "./command.js";
import { progressBar } from "./format.js";
import { formatEventLine, isTerminal } from "./render-task.js";

const UNAVAILABLE = 14;

/** Watches `taskIds` and calls onEvent for each event; resolves with each task's terminal event. */
export async function followUntilTerminal(
  client: TaskgridClient,
  taskIds: readonly string[],
  onEvent: (event: TaskEvent) => void,
): Promise<Map<string, TaskEvent>> {
  const pending = new Set(taskIds);
  const finished = new Map<string, TaskEvent>();
  const watch = client.watchTasks({ taskIds: [...taskIds] });
  for await (const event of watch) {
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
  throw new ClientError(UNAVAILABLE, `the watch stream ended before ${[...pending].join(", ")} finished`);
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
