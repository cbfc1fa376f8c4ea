// StreamLogs on the client: a task's output, cancelable from outside the loop (Ctrl-C, the task
// ending) without the cancellation surfacing as an error, and opened again on the leader when it
// fails (reopening-stream.ts, client.ts followingStream). Before any output it is simply asked
// again; after output (a dropped connection, a leader that stepped down) it resumes: every message
// says where its data lies in its stream's log file, and the reopened request carries the offsets
// received so far (resume_at) and the attempt's id, so nothing is printed twice or skipped.
import { LogStream, type StreamLogsRequest, type StreamLogsResponse } from "../gen/taskgrid/v1/logs.js";
import type { ReopeningStream } from "./reopening-stream.js";

/** cancel() ends the stream (the master stops the read on the agent); iteration finishes normally. */
export type LogStreamCall = ReopeningStream<StreamLogsResponse>;

type StreamName = "stdout" | "stderr";

function nameOf(stream: LogStream): StreamName | undefined {
  if (stream === LogStream.LOG_STREAM_STDOUT) return "stdout";
  return stream === LogStream.LOG_STREAM_STDERR ? "stderr" : undefined;
}

/** Where a log stream has got to: what to ask for when it is opened again. */
export class LogResumePoint {
  /** Per stream, the offset of the next byte; unknown for a tail until its first messages. */
  private readonly next: Partial<Record<StreamName, number>>;
  private attemptId = "";
  /** Output bytes were handed on (asking the first request again would repeat them). */
  private output = false;
  /** The stored tail (stdout and stderr merged) was handed on: it has no offsets to resume from. */
  private merged = false;

  constructor(private readonly first: StreamLogsRequest) {
    const resume = first.resumeAt;
    this.next = resume ? { stdout: resume.stdout, stderr: resume.stderr } : first.tailLines > 0 ? {} : { stdout: 0, stderr: 0 };
  }

  /** Notes a response; returns it for the caller, or undefined for a message that only gives a position. */
  received(response: StreamLogsResponse): StreamLogsResponse | undefined {
    if (response.attemptId) this.attemptId = response.attemptId;
    const name = nameOf(response.stream);
    if (name === undefined) {
      if (response.data.length > 0) this.merged = true;
      return response;
    }
    this.next[name] = response.offset + response.data.length;
    if (response.data.length > 0) this.output = true;
    return response.data.length === 0 && !response.notice ? undefined : response;
  }

  /** Whether opening the stream again now repeats nothing and skips nothing. */
  get resumable(): boolean {
    if (this.merged) return false;
    const streams: StreamName[] = this.first.stream === LogStream.LOG_STREAM_BOTH ? ["stdout", "stderr"] : [nameOf(this.first.stream) ?? "stdout"];
    return !this.output || streams.every((s) => this.next[s] !== undefined);
  }

  /** The request to open the stream with now: the first one until output arrived, then that one resumed. */
  request(): StreamLogsRequest {
    if (!this.output) return this.first;
    return {
      ...this.first,
      attemptId: this.attemptId || this.first.attemptId,
      resumeAt: { stdout: this.next.stdout ?? 0, stderr: this.next.stderr ?? 0 },
    };
  }
}
