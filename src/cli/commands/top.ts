// `taskgrid top`: a live view of the cluster (scheduler, tasks, queues, workers) refreshing in the
// terminal; `--once` prints one plain frame and `--json` one snapshot, for scripts and tests.
import { createClient, ClientError, type TaskgridClient } from "../../client/index.js";
import { TaskState } from "../../gen/taskgrid/v1/types.js";
import { boolFlag, stringFlag } from "../args.js";
import { CLIENT_FLAGS, clientOptions, masterAddress, printJson, type Command, type Io } from "../command.js";
import { clientErrorText } from "../error-text.js";
import { parseDurationMs } from "../parse.js";
import { buildTopView, renderTopFrame, type ActiveState, type TopView } from "../render-top.js";
import { processTerminal, runLiveView, type LiveTerminal } from "../top-live.js";
import { UsageError } from "../usage-error.js";

export const DEFAULT_INTERVAL_MS = 2000;
const MIN_INTERVAL_MS = 100;
/** ListTasks pages of 1000 counted per frame; beyond that the counts are shown as lower bounds. */
const MAX_TASK_PAGES = 10;
/** A live view must show a hung master as an error within a few seconds, not freeze. */
const LIVE_DEADLINE_MS = 5000;

const COUNTED: ReadonlyArray<readonly [TaskState, ActiveState]> = [
  [TaskState.TASK_STATE_ASSIGNED, "ASSIGNED"],
  [TaskState.TASK_STATE_RUNNING, "RUNNING"],
  [TaskState.TASK_STATE_PAUSED, "PAUSED"],
];

/** "2s", "500ms", or a bare number of seconds like `top -d 1`. */
export function parseIntervalMs(text: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text.trim()) ? Math.round(Number(text) * 1000) : parseDurationMs(text, "interval");
  if (ms < MIN_INTERVAL_MS) throw new UsageError(`--interval: ${text} is too short (at least ${MIN_INTERVAL_MS}ms)`);
  return ms;
}

/** Placed tasks by state, from ListTasks; QUEUED comes from the scheduler's in-memory queues instead. */
async function countPlacedTasks(client: TaskgridClient): Promise<{ counts: Partial<Record<ActiveState, number>>; truncated: boolean }> {
  const counts: Partial<Record<ActiveState, number>> = {};
  let pageToken = "";
  for (let page = 0; page < MAX_TASK_PAGES; page++) {
    const res = await client.listTasks({ states: COUNTED.map(([s]) => s), pageSize: 1000, pageToken });
    for (const task of res.tasks) {
      const name = COUNTED.find(([s]) => s === task.state)?.[1];
      if (name) counts[name] = (counts[name] ?? 0) + 1;
    }
    if (!res.nextPageToken) return { counts, truncated: false };
    pageToken = res.nextPageToken;
  }
  return { counts, truncated: true };
}

export async function fetchTopView(client: TaskgridClient, now: () => Date): Promise<TopView> {
  const [info, workers, placed] = await Promise.all([client.getSchedulerInfo(), client.listWorkers(), countPlacedTasks(client)]);
  return buildTopView({ master: client.address, now: now(), info, workers, tasks: placed.counts, tasksTruncated: placed.truncated });
}

const describe = (err: unknown) => (err instanceof ClientError ? clientErrorText(err) : err instanceof Error ? err.message : String(err));

export const topCommand: Command = {
  name: "top",
  summary: "Live view of workers, queues and the scheduler, refreshing in the terminal",
  usage: "top [flags]",
  flags: {
    interval: {
      type: "string",
      value: "DURATION",
      description: `time between refreshes, e.g. 1s, 500ms or 5 (seconds); default ${DEFAULT_INTERVAL_MS / 1000}s`,
    },
    once: { type: "boolean", description: "print one frame without terminal codes and exit" },
    ...CLIENT_FLAGS,
  },
  notes: "q or Ctrl-C quits. --json prints one snapshot (the figures of one frame) and exits.",
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError("top takes no arguments");
    const interval = stringFlag(args, "interval");
    const intervalMs = interval === undefined ? DEFAULT_INTERVAL_MS : parseIntervalMs(interval);
    const oneShot = boolFlag(args, "once") || boolFlag(args, "json");
    const options = clientOptions(args, io);
    const client = createClient(masterAddress(args, io), oneShot ? options : { ...options, deadlineMs: LIVE_DEADLINE_MS });
    try {
      if (oneShot) {
        const view = await fetchTopView(client, io.now);
        if (boolFlag(args, "json")) printJson(io, view);
        else io.out(renderTopFrame(view));
        return 0;
      }
      await runTop(client, io, intervalMs, processTerminal());
      return 0;
    } finally {
      client.close();
    }
  },
};

/** The live loop against a terminal (tests pass a fake one). */
export function runTop(client: TaskgridClient, io: Io, intervalMs: number, term: LiveTerminal): Promise<void> {
  return runLiveView({ term, intervalMs, fetch: () => fetchTopView(client, io.now), render: renderTopFrame, describeError: describe });
}
