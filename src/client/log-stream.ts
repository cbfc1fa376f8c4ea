// StreamLogs on the client: a task's output, cancelable from outside the loop (Ctrl-C, the task
// ending) without the cancellation surfacing as an error, and opened again on the leader when it
// fails before its first message (reopening-stream.ts, client.ts followingStream); once output was
// delivered a failure surfaces, since opening it again would repeat that output.
import type { StreamLogsResponse } from "../gen/taskgrid/v1/logs.js";
import type { ReopeningStream } from "./reopening-stream.js";

/** cancel() ends the stream (the master stops the read on the agent); iteration finishes normally. */
export type LogStreamCall = ReopeningStream<StreamLogsResponse>;
