// A server stream as an AsyncIterable that can be canceled from outside the loop (Ctrl-C, a
// timeout, the task ending) without the cancellation surfacing as an error, and that is opened
// again where `retry` says when it fails (a standby's redirect, a master that is down). `retry`
// knows whether a stream that delivered something may be opened again: a watch may not (it would
// repeat what the caller has seen), a log stream may (it resumes from its offsets, log-stream.ts).
// WatchTasks (task-watch.ts) and StreamLogs (log-stream.ts) are both this, with their own item type.
import type { ClientReadableStream } from "@grpc/grpc-js";
import { type ClientError, toClientError } from "./errors.js";

export interface ReopeningStream<T> extends AsyncIterable<T> {
  /** Ends the stream; a pending or later iteration finishes normally instead of throwing. */
  cancel(): void;
}

/** A stream opened on one master. */
export interface OpenedStream<R> {
  call: ClientReadableStream<R>;
  /** The master it was opened on. */
  target: string;
}

/**
 * After the stream on `target` failed: ms to wait before opening it again (on whatever master is
 * current then), or undefined to surface `error`. `delivered`: this opening of the stream received
 * something before it failed.
 */
export type StreamRetry = (error: ClientError, target: string, delivered: boolean) => number | undefined;

/** `pick` turns a response into the item handed to the caller (undefined: nothing to hand on). */
export function reopeningStream<R, T>(open: () => OpenedStream<R>, retry: StreamRetry, pick: (response: R) => T | undefined): ReopeningStream<T> {
  let canceledByUs = false;
  // Opened now, not on the first iteration: the master starts (a watch subscribes) from this moment on.
  let opened = open();
  let endPause: (() => void) | undefined;
  const cancel = () => {
    canceledByUs = true;
    opened.call.cancel();
    endPause?.();
  };

  /** Waits `ms`, or less when the stream is canceled meanwhile. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      endPause = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function* items(): AsyncGenerator<T> {
    try {
      for (;;) {
        let delivered = false;
        try {
          for await (const response of opened.call as AsyncIterable<R>) {
            delivered = true;
            const item = pick(response);
            if (item !== undefined) yield item;
          }
          return;
        } catch (err) {
          // grpc-js reports our own cancel() as a CANCELLED error; that is the normal way out.
          if (canceledByUs) return;
          const error = toClientError(err);
          const waitMs = retry(error, opened.target, delivered);
          if (waitMs === undefined) throw error;
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

  const iterator = items();
  return { [Symbol.asyncIterator]: () => iterator, cancel };
}
