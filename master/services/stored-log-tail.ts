// What StreamLogs sends when the agent that has an attempt's log cannot serve it: the attempt's
// stored output tail (stdout and stderr merged, at most 64 KiB) and a notice saying where the full
// log is. A read that already passed output on gets the notice alone: the merged tail would repeat it.
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { Attempt } from "../../src/core/types.js";
import { LogStream, type StreamLogsRequest, type StreamLogsResponse } from "../../src/gen/taskgrid/v1/logs.js";

type Call = ServerWritableStream<StreamLogsRequest, StreamLogsResponse>;

/** Ends the call with the stored tail (unless `withTail` is false) and a notice that starts with `why`. */
export function sendStoredTail(call: Call, attempt: Attempt, req: StreamLogsRequest, why: string, withTail = true): void {
  const base = { attemptId: attempt.id, attemptNumber: attempt.number, offset: 0 };
  const result = attempt.result;
  const tail = result && withTail ? lastLines(result.outputTail, req.tailLines) : "";
  if (tail !== "") call.write({ ...base, data: Buffer.from(tail), stream: LogStream.LOG_STREAM_BOTH, notice: "" });
  const where = result?.logLocation ? `the full log is at ${result.logLocation}` : `the full log, if any, is on worker ${attempt.workerId}`;
  const what = !withTail
    ? "the rest of the output cannot be sent"
    : result
      ? "only the stored output tail (stdout and stderr merged, at most 64 KiB) is shown"
      : "no output is available until it reconnects";
  call.write({ ...base, data: Buffer.alloc(0), stream: LogStream.LOG_STREAM_BOTH, notice: `[taskgrid: ${why}: ${what}; ${where}]` });
  call.end();
}

/** The last `lines` lines of `text` (all of it for 0); a final newline ends the last line. */
export function lastLines(text: string, lines: number): string {
  if (lines <= 0) return text;
  let end = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let n = 0; n < lines; n++) {
    const nl = text.lastIndexOf("\n", end - 1);
    if (nl < 0) return text;
    end = nl;
  }
  return text.slice(end + 1);
}
