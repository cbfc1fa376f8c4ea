// Adapts the StreamLogs server stream to an AsyncIterable<StreamLogsResponse> that can be canceled
// from outside the loop (Ctrl-C, the task ending) without the cancellation surfacing as an error.
// A stream that fails before its first message (a standby's redirect, a master that is down) is
// opened again where `retry` says; once output was delivered a failure surfaces, since opening it
// again would repeat that output.
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { StreamLogsResponse } from "../gen/taskgrid/v1/logs.js";
import { type ClientError, toClientError } from "./errors.js";

export interface LogStreamCall extends AsyncIterable<StreamLogsResponse> {
  /** Ends the stream (the master stops the read on the agent); iteration finishes normally. */
  cancel(): void;
}

export interface OpenedLogStream {
  call: ClientReadableStream<StreamLogsResponse>;
  /** The master it was opened on. */
  target: string;
}

/** After the stream on `target` failed before any message: ms to wait before opening it again, or undefined to surface `error`. */
export type LogStreamRetry = (error: ClientError, target: string) => number | undefined;

export function logStream(open: () => OpenedLogStream, retry: LogStreamRetry = () => undefined): LogStreamCall {
  let canceledByUs = false;
  let opened = open();
  let endPause: (() => void) | undefined;
  const cancel = () => {
    canceledByUs = true;
    opened.call.cancel();
    endPause?.();
  };
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      endPause = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function* responses(): AsyncGenerator<StreamLogsResponse> {
    try {
      for (;;) {
        let delivered = false;
        try {
          for await (const response of opened.call as AsyncIterable<StreamLogsResponse>) {
            delivered = true;
            yield response;
          }
          return;
        } catch (err) {
          if (canceledByUs) return; // grpc-js reports our own cancel() as CANCELLED.
          const error = toClientError(err);
          const waitMs = delivered ? undefined : retry(error, opened.target);
          if (waitMs === undefined) throw error;
          if (waitMs > 0) await pause(waitMs);
          if (canceledByUs) return;
          opened = open();
        }
      }
    } finally {
      if (!canceledByUs) cancel();
    }
  }

  const iterator = responses();
  return { [Symbol.asyncIterator]: () => iterator, cancel };
}
