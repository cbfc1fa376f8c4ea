// Adapts the WatchTasks server stream to an AsyncIterable<TaskEvent> that can be canceled from
// outside the loop (Ctrl-C, a timeout) without the cancellation surfacing as an error. A stream
// that fails before its first message (a standby's redirect, a master that is down) is opened again
// where `retry` says, so the caller never sees it; once events were delivered a failure surfaces,
// because the caller may have to know that the stream restarts (the current states come first).
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { TaskEvent } from "../gen/taskgrid/v1/task.js";
import type { WatchTasksResponse } from "../gen/taskgrid/v1/task_service.js";
import { type ClientError, toClientError } from "./errors.js";

export interface TaskWatch extends AsyncIterable<TaskEvent> {
  /** Ends the stream; a pending or later iteration finishes normally instead of throwing. */
  cancel(): void;
}

/** A stream opened on one master. */
export interface OpenedWatch {
  call: ClientReadableStream<WatchTasksResponse>;
  /** The master it was opened on. */
  target: string;
}

/**
 * After the stream on `target` failed: ms to wait before opening it again (on whatever master is
 * current then), or undefined to surface `error`. Never reopened once `delivered` (an event reached
 * the caller); it is told all the same, to learn where the leader is.
 */
export type WatchRetry = (error: ClientError, target: string, delivered: boolean) => number | undefined;

export function taskWatch(open: () => OpenedWatch, retry: WatchRetry = () => undefined): TaskWatch {
  let canceledByUs = false;
  // Opened now, not on the first iteration: the master subscribes from this moment on.
  let opened = open();
  let endPause: (() => void) | undefined;
  const cancel = () => {
    canceledByUs = true;
    opened.call.cancel();
    endPause?.();
  };

  /** Waits `ms`, or less when the watch is canceled meanwhile. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      endPause = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function* events(): AsyncGenerator<TaskEvent> {
    try {
      for (;;) {
        let delivered = false;
        try {
          for await (const response of opened.call as AsyncIterable<WatchTasksResponse>) {
            delivered = true;
            if (response.event) yield response.event;
          }
          return;
        } catch (err) {
          // grpc-js reports our own cancel() as a CANCELLED error; that is the normal way out.
          if (canceledByUs) return;
          const error = toClientError(err);
          const waitMs = retry(error, opened.target, delivered);
          if (delivered || waitMs === undefined) throw error;
          if (waitMs > 0) await pause(waitMs);
          if (canceledByUs) return;
          opened = open();
        }
      }
    } finally {
      // Reached on `break` out of a for-await too: the server must stop streaming to us.
      if (!canceledByUs) cancel();
    }
  }

  const iterator = events();
  return { [Symbol.asyncIterator]: () => iterator, cancel };
}
