// WatchTasks on the client: a stream of task events that can be canceled from outside the loop
// (Ctrl-C, a timeout) without the cancellation surfacing as an error, and that is opened again on
// the leader when it fails before its first event (reopening-stream.ts, client.ts
// followingStream); once events were delivered a failure surfaces, because the caller may have to
// know that the stream restarts (the current states come first).
import type { TaskEvent } from "../gen/taskgrid/v1/task.js";
import type { ReopeningStream } from "./reopening-stream.js";

/** cancel() ends the stream; a pending or later iteration finishes normally instead of throwing. */
export type TaskWatch = ReopeningStream<TaskEvent>;
