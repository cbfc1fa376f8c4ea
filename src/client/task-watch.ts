// Adapts the WatchTasks server stream to an AsyncIterable<TaskEvent> that can be canceled from
// outside the loop (Ctrl-C, a timeout) without the cancellation surfacing as an error.
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { TaskEvent } from "../gen/taskgrid/v1/task.js";
import type { WatchTasksResponse } from "../gen/taskgrid/v1/task_service.js";
import { toClientError } from "./errors.js";

export interface TaskWatch extends AsyncIterable<TaskEvent> {
  /** Ends the stream; a pending or later iteration finishes normally instead of throwing. */
  cancel(): void;
}

export function taskWatch(call: ClientReadableStream<WatchTasksResponse>): TaskWatch {
  let canceledByUs = false;
  const cancel = () => {
    canceledByUs = true;
    call.cancel();
  };

  async function* events(): AsyncGenerator<TaskEvent> {
    try {
      for await (const response of call as AsyncIterable<WatchTasksResponse>) {
        if (response.event) yield response.event;
      }
    } catch (err) {
      // grpc-js reports our own cancel() as a CANCELLED error; that is the normal way out.
      if (canceledByUs) return;
      throw toClientError(err);
    } finally {
      // Reached on `break` out of a for-await too: the server must stop streaming to us.
      if (!canceledByUs) cancel();
    }
  }

  const iterator = events();
  return { [Symbol.asyncIterator]: () => iterator, cancel };
}
