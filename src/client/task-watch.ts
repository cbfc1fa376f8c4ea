// Adapts the WatchTasks server stream to an AsyncIterable<TaskEvent> that can be canceled from
// outside the loop (Ctrl-C, a timeout) without the cancellation surfacing as an error. A stream
// that fails before its first message (a standby's redirect, a master that is down) is opened again
// where `retry` says, so the caller never sees it; once events were delivered a failure surfaces,
// because the caller may have to know that the stream restarts (the current states come first).
import type { TaskEvent } from "../gen/taskgrid/v1/task.js";
import type { WatchTasksResponse } from "../gen/taskgrid/v1/task_service.js";
import type { ClientError } from "./errors.js";
import { type OpenedStream, type ReopeningStream, reopeningStream } from "./reopening-stream.js";

/** cancel() ends the stream; a pending or later iteration finishes normally instead of throwing. */
export type TaskWatch = ReopeningStream<TaskEvent>;
/** A stream opened on one master. */
export type OpenedWatch = OpenedStream<WatchTasksResponse>;

/**
 * After the stream on `target` failed: ms to wait before opening it again (on whatever master is
 * current then), or undefined to surface `error`. Never reopened once `delivered` (an event reached
 * the caller); it is told all the same, to learn where the leader is.
 */
export type WatchRetry = (error: ClientError, target: string, delivered: boolean) => number | undefined;

export function taskWatch(open: () => OpenedWatch, retry: WatchRetry = () => undefined): TaskWatch {
  return reopeningStream(open, retry, (response: WatchTasksResponse) => response.event);
}
