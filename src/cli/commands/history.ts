// `taskgrid history`: finished tasks with their accounting, like Slurm's sacct (TaskService.ListHistory).
import { type HistoryRow, type ListHistoryRequest, ListHistoryResponse } from "../../gen/taskgrid/v1/history.js";
import { TaskState } from "../../gen/taskgrid/v1/types.js";
import { boolFlag, listFlag, stringFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { parseDurationMs, parseInteger, parseKeyValue, parseTaskStates } from "../parse.js";
import { DEFAULT_HISTORY_FORMAT, formatHistoryCsv, formatHistoryTable, HISTORY_COLUMNS, parseHistoryFormat } from "../render-history.js";
import { UsageError } from "../usage-error.js";

const MAX_PAGE_SIZE = 1000;
const ENDED = new Set([TaskState.TASK_STATE_SUCCEEDED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED]);

/** "1d", "12h", "90m" ago, an ISO time, or "all" (no bound: undefined). */
export function parseHistoryTime(text: string, flag: string, now: Date): Date | undefined {
  const s = text.trim();
  if (s.toLowerCase() === "all") return undefined;
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const ms = Date.parse(s);
    if (Number.isNaN(ms)) throw new UsageError(`--${flag}: "${text}" is not a valid ISO time (e.g. 2025-01-31 or 2025-01-31T18:00:00Z)`);
    return new Date(ms);
  }
  try {
    return new Date(now.getTime() - parseDurationMs(s, flag));
  } catch {
    throw new UsageError(`--${flag}: "${text}" is neither a time ago (30m, 12h, 1d, 1h30m) nor an ISO time (2025-01-31T18:00:00Z), nor "all"`);
  }
}

export const historyCommand: Command = {
  name: "history",
  summary: "Finished tasks with their accounting (like sacct): wait, run and CPU time, max RSS, GPU-seconds",
  usage: "history [flags]",
  flags: {
    since: { type: "string", value: "1d|ISO|all", description: "tasks that ended since this long ago or this time (default 1d)" },
    until: { type: "string", value: "DURATION|ISO", description: "tasks that ended before this long ago or this time (default now)" },
    project: { type: "string", value: "PROJECT", description: "only tasks of this project" },
    state: { type: "string", value: "STATE[,STATE]", multiple: true, description: "only tasks that ended so: succeeded, failed, canceled" },
    label: { type: "string", value: "K=V", description: "only tasks with this label" },
    kind: { type: "string", value: "KIND", description: "only tasks of this kind" },
    format: {
      type: "string",
      value: "COL[,COL]",
      description: `columns (default ${DEFAULT_HISTORY_FORMAT.join(",")}); any of ${Object.keys(HISTORY_COLUMNS).join(",")}`,
    },
    csv: { type: "boolean", description: "print CSV (raw numbers: milliseconds, KiB, ISO times)" },
    limit: { type: "string", value: "N", description: "at most N tasks (default 100)" },
    all: { type: "boolean", description: "follow every page (up to --limit when given)" },
    ...CLIENT_FLAGS,
  },
  notes:
    "Most recently ended first. CPU time is user + system of the command and the processes it waited for;\n" +
    "MaxRSS is the peak of its largest process; both show - where the agent could not measure them\n" +
    "(no python3 3.8+ on its agent). GPU-seconds = GPUs x run time.\n" +
    "Finished tasks are kept for the master's historyRetentionDays (default 90).\n\n" +
    "Examples:\n" +
    "  taskgrid history --since 7d --state failed\n" +
    "  taskgrid history --project ml --format id,name,run,cpu,rss,gpus --csv > usage.csv",
  async run(args, io) {
    const now = io.now();
    const since = parseHistoryTime(stringFlag(args, "since") ?? "1d", "since", now);
    const untilText = stringFlag(args, "until");
    const until = untilText === undefined ? undefined : parseHistoryTime(untilText, "until", now);
    if (since && until && until.getTime() <= since.getTime()) {
      throw new UsageError(`--until (${until.toISOString()}) must be after --since (${since.toISOString()})`);
    }
    const states = parseTaskStates(listFlag(args, "state"));
    if (states.some((s) => !ENDED.has(s))) throw new UsageError("--state: history holds finished tasks only: succeeded, failed, canceled");
    const formatText = stringFlag(args, "format");
    const keys = formatText === undefined ? DEFAULT_HISTORY_FORMAT : parseHistoryFormat(formatText);
    const json = boolFlag(args, "json");
    const csv = boolFlag(args, "csv");
    if (json && csv) throw new UsageError("--json and --csv: pick one");
    const limitText = stringFlag(args, "limit");
    const limit = limitText === undefined ? undefined : parseInteger(limitText, "limit", 1);
    const label = stringFlag(args, "label");
    const all = boolFlag(args, "all");
    const max = limit ?? (all ? Infinity : 100);
    const base: Partial<ListHistoryRequest> = {
      since,
      until,
      project: stringFlag(args, "project") ?? "",
      states,
      label: label === undefined ? "" : parseKeyValue(label, "label").join("="),
      kind: stringFlag(args, "kind") ?? "",
    };

    return withClient(args, io, async (client) => {
      const rows: HistoryRow[] = [];
      let pageToken = "";
      let nextPageToken = "";
      do {
        const page = await client.listHistory({ ...base, pageSize: Math.min(MAX_PAGE_SIZE, max - rows.length), pageToken });
        rows.push(...page.rows.slice(0, max - rows.length));
        nextPageToken = page.nextPageToken;
        pageToken = nextPageToken;
      } while (all && pageToken && rows.length < max);

      if (json) printJson(io, ListHistoryResponse.toJSON({ rows, nextPageToken: rows.length >= max ? nextPageToken : "" }));
      else if (csv) io.out(formatHistoryCsv(rows, keys));
      else io.out(formatHistoryTable(rows, keys));
      if (nextPageToken && !all && !json) io.err("(more tasks: use --all or --limit)\n");
      return 0;
    });
  },
};
