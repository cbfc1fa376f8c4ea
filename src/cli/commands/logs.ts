// `taskgrid logs ID [-f] [--stderr|--all] [--attempt N] [--tail N]`: a task's output from the
// agent that ran it (StreamLogs), like `kubectl logs` or Slurm's output files. Also the live output
// of `submit --wait` (LiveOutput): each attempt's stdout to stdout and stderr to stderr while it runs.
import { StringDecoder } from "node:string_decoder";
import type { TaskgridClient } from "../../client/index.js";
import { LogStream, StreamLogsResponse } from "../../gen/taskgrid/v1/logs.js";
import type { TaskEvent } from "../../gen/taskgrid/v1/task.js";
import { boolFlag, stringFlag } from "../args.js";
import { CLIENT_FLAGS, jsonLine, withClient, type Command, type Io } from "../command.js";
import { UsageError } from "../usage-error.js";

function countFlag(args: Parameters<Command["run"]>[0], name: string, what: string): number {
  const text = stringFlag(args, name);
  if (text === undefined) return 0;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 2 ** 31 - 1) throw new UsageError(`--${name}: "${text}" is not ${what}`);
  return Number(text);
}

/**
 * Writes a log stream's data as it comes: to stdout, or by stream (stderr data to stderr) when
 * `byStream`; Taskgrid's own notices to stderr. UTF-8 characters split between chunks stay whole.
 * Resolves with whether any output or notice arrived.
 */
export async function writeLogs(responses: AsyncIterable<StreamLogsResponse>, io: Io, byStream: boolean): Promise<boolean> {
  const out = new StringDecoder("utf8");
  const err = new StringDecoder("utf8");
  let delivered = false;
  try {
    for await (const r of responses) {
      delivered = true;
      if (r.data.length > 0) {
        if (byStream && r.stream === LogStream.LOG_STREAM_STDERR) io.err(err.write(r.data));
        else io.out(out.write(r.data));
      }
      if (r.notice) io.err(`${r.notice}\n`);
    }
  } finally {
    const restOut = out.end();
    const restErr = err.end();
    if (restOut) io.out(restOut);
    if (restErr) io.err(restErr);
  }
  return delivered;
}

export const logsCommand: Command = {
  name: "logs",
  summary: "Print a task's output (stdout by default); -f follows it while the task runs",
  usage: "logs [flags] TASK_ID",
  flags: {
    follow: { type: "boolean", short: "f", description: "keep printing new output until the attempt ends" },
    stderr: { type: "boolean", description: "the task's stderr instead of its stdout" },
    all: { type: "boolean", description: "stdout and stderr (stderr data to stderr)" },
    attempt: { type: "string", value: "N", description: "this attempt (1-based; default: the latest)" },
    tail: { type: "string", value: "N", description: "only the last N lines" },
    ...CLIENT_FLAGS,
  },
  notes: `Examples:
  taskgrid logs -f 0193...            # follow the latest attempt's stdout
  taskgrid logs --all --tail 100 0193...
The agent that ran the attempt keeps its log files (see docs/operations.md, Agents); when that agent is
not connected, the attempt's stored output tail (stdout and stderr merged, 64 KiB) is printed, with a
line on stderr saying where the full log is.`,
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError("logs takes exactly one task id");
    if (boolFlag(args, "stderr") && boolFlag(args, "all")) throw new UsageError("--stderr and --all exclude each other");
    const all = boolFlag(args, "all");
    const request = {
      taskId: args.positionals[0],
      attemptNumber: countFlag(args, "attempt", "an attempt number (1, 2, ...)"),
      tailLines: countFlag(args, "tail", "a number of lines (>= 1)"),
      follow: boolFlag(args, "follow"),
      stream: all ? LogStream.LOG_STREAM_BOTH : boolFlag(args, "stderr") ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_STDOUT,
    };
    const json = boolFlag(args, "json");
    return withClient(args, io, async (client) => {
      const logs = client.streamLogs(request);
      const stop = () => logs.cancel();
      process.once("SIGINT", stop);
      try {
        if (json) for await (const r of logs) jsonLine(io, StreamLogsResponse.toJSON(r));
        else await writeLogs(logs, io, all);
      } finally {
        process.off("SIGINT", stop);
      }
      return 0;
    });
  },
};

/**
 * The live output of `submit --wait`: each attempt the watch reveals is streamed (follow) in turn,
 * stdout to stdout and stderr to stderr. A master without StreamLogs (or any failure before output
 * arrived) makes `streamed()` false, and the caller prints the result's tail as before.
 */
export class LiveOutput {
  private readonly seen = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  /** Whether the latest attempt's stream failed before any output (then its tail is printed instead). */
  private lastFailed = false;

  constructor(
    private readonly client: TaskgridClient,
    private readonly io: Io,
    private readonly taskId: string,
  ) {}

  /** Feed every watch event: a new attempt id starts that attempt's stream after the previous one's. */
  onEvent(event: TaskEvent): void {
    const attemptId = event.attemptId;
    if (!attemptId || this.seen.has(attemptId)) return;
    this.seen.add(attemptId);
    this.chain = this.chain.then(() => this.follow(attemptId));
  }

  /** Waits for the streams to end; true when the output was streamed (no tail needed). */
  async streamed(): Promise<boolean> {
    await this.chain;
    return !this.lastFailed && this.seen.size > 0;
  }

  private async follow(attemptId: string): Promise<void> {
    this.lastFailed = false;
    let delivered = false;
    const logs = this.client.streamLogs({ taskId: this.taskId, attemptId, stream: LogStream.LOG_STREAM_BOTH, follow: true });
    const counted = (async function* () {
      for await (const r of logs) {
        delivered = true;
        yield r;
      }
    })();
    try {
      await writeLogs(counted, this.io, true);
    } catch (err) {
      // Before any output: an older master without StreamLogs, say; the tail at the end says what there is to say.
      if (!delivered) this.lastFailed = true;
      else this.io.err(`[taskgrid: the output stream of attempt ${attemptId} failed: ${(err as Error).message}]\n`);
    }
  }
}
