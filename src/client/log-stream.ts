// Adapts the StreamLogs server stream to an AsyncIterable<StreamLogsResponse> that can be canceled
// from outside the loop (Ctrl-C, the task ending) without the cancellation surfacing as an error.
// A stream that fails before its first message (a standby's redirect, a master that is down) is
// opened again where `retry` says; once output was delivered a failure surfaces, since opening it
// again would repeat that output.
import type { StreamLogsResponse } from "../gen/taskgrid/v1/logs.js";
import type { ClientError } from "./errors.js";
import { type OpenedStream, type ReopeningStream, reopeningStream } from "./reopening-stream.js";

/** cancel() ends the stream (the master stops the read on the agent); iteration finishes normally. */
export type LogStreamCall = ReopeningStream<StreamLogsResponse>;
export type OpenedLogStream = OpenedStream<StreamLogsResponse>;

/** After the stream on `target` failed before any message: ms to wait before opening it again, or undefined to surface `error`. */
export type LogStreamRetry = (error: ClientError, target: string) => number | undefined;

export function logStream(open: () => OpenedLogStream, retry: LogStreamRetry = () => undefined): LogStreamCall {
  // Output already delivered would be repeated by a reopened stream: only a stream that gave nothing is retried.
  return reopeningStream(
    open,
    (error, target, delivered) => (delivered ? undefined : retry(error, target)),
    (response: StreamLogsResponse) => response,
  );
}
