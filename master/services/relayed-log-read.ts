// One StreamLogs call served through the agent that has the attempt's log (log-relay.ts), with
// positions: every chunk says where its data starts in its file, and the read keeps, per stream,
// the offset of the next byte to pass on. So a follow of an attempt that is still running outlives
// its agent's stream: when that stream closes (a dropped connection; the task goes on) the read
// waits for the worker's agent to register again, at most the worker's OFFLINE threshold, and goes
// on from those offsets on the new stream: nothing is sent twice and nothing is skipped. If the
// attempt ends meanwhile (its worker declared OFFLINE, a cancel), or the agent does not come back in
// time, the call ends with a notice (and the stored tail, when no output was passed on yet).
//
// Memory stays bounded whatever the client's speed: each chunk passed on earns the agent one more
// (LogReadCredit), and a chunk that fills the client's buffer earns it only at 'drain'. A leader
// that steps down (or a master that stops) ends the call UNAVAILABLE: the client resumes on the
// next leader from the offsets it received (StreamLogsRequest.resume_at).
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import type { Attempt } from "../../src/core/types.js";
import { LogStream, type StreamLogsRequest, type StreamLogsResponse } from "../../src/gen/taskgrid/v1/logs.js";
import type { LogChunk, ReadLog } from "../../src/gen/taskgrid/v1/worker_service.js";
import type { LeaderTerm, TermStream } from "../leader-term.js";
import type { LogReadHandle } from "../log-relay.js";
import type { Logger } from "../logger.js";
import type { WorkerSession } from "../worker.js";
import { sendStoredTail } from "./stored-log-tail.js";

/** How long an agent may take to answer a ReadLog before the stored tail is sent instead (an agent without log files). */
export const FIRST_CHUNK_TIMEOUT_MS = 10_000;

type Call = ServerWritableStream<StreamLogsRequest, StreamLogsResponse>;
type StreamName = "stdout" | "stderr";

const NAME_OF: Partial<Record<LogStream, StreamName>> = { [LogStream.LOG_STREAM_STDOUT]: "stdout", [LogStream.LOG_STREAM_STDERR]: "stderr" };

function streamsOf(stream: LogStream): StreamName[] {
  if (stream === LogStream.LOG_STREAM_BOTH) return ["stdout", "stderr"];
  return stream === LogStream.LOG_STREAM_STDERR ? ["stderr"] : ["stdout"];
}

export class RelayedLogRead {
  private readonly stream: LogStream;
  /** Per stream, the offset of the next byte to pass on; unknown until a tail read's first chunks say where it starts. */
  private readonly next: Partial<Record<StreamName, number>>;
  private done = false;
  /** Output bytes reached the client (then the stored tail would repeat them). */
  private passedOnData = false;
  private handle: LogReadHandle | null = null;
  /** Ends the wait for the worker's agent to come back, while there is one. */
  private stopWaiting: (() => void) | null = null;
  private noAnswer: NodeJS.Timeout | undefined;
  // Credit the agent earns back: at once per chunk passed on, or at 'drain' once the client's buffer is full.
  private blocked = false;
  private owed = 0;
  /** In the term's streams: a step-down (or stop) ends this call UNAVAILABLE, never cleanly. */
  private readonly termStream: TermStream;

  constructor(
    private readonly call: Call,
    private readonly term: LeaderTerm,
    private readonly attempt: Attempt,
    private readonly req: StreamLogsRequest,
    private readonly log: Logger,
  ) {
    this.stream = req.stream || LogStream.LOG_STREAM_STDOUT;
    const resume = req.resumeAt;
    this.next = resume ? { stdout: resume.stdout, stderr: resume.stderr } : req.tailLines > 0 ? {} : { stdout: 0, stderr: 0 };
    this.termStream = {
      emit: (event: string, error: unknown) => event === "error" && this.finish(() => call.emit("error", error)),
      end: () => this.finish(() => call.emit("error", { code: status.UNAVAILABLE, details: "master is shutting down" })),
    } as TermStream;
  }

  start(): void {
    if (this.call.cancelled) return; // Gone while the attempt was looked up: no read to start.
    this.call.on("cancelled", this.onCancel);
    this.term.watchCalls.add(this.termStream);
    const link = this.term.registry.get(this.attempt.workerId)?.link;
    if (link?.kind !== "connected" || !this.open(link.session)) this.agentAway(`the agent of worker ${this.attempt.workerId} is not connected`, false);
  }

  private readonly onCancel = () => this.finish(() => {});

  /** Starts the read on `session`, from the offsets passed on so far; false when the session is closed. */
  private open(session: WorkerSession): boolean {
    const names = streamsOf(this.stream);
    const known = names.every((n) => this.next[n] !== undefined);
    const request: Omit<ReadLog, "requestId"> = known
      ? {
          attemptId: this.attempt.id,
          stream: this.stream,
          // For an agent that knows no `offsets` (one file read only: the same place).
          offset: names.length === 1 ? (this.next[names[0]] ?? 0) : 0,
          offsets: { stdout: this.next.stdout ?? 0, stderr: this.next.stderr ?? 0 },
          tailBytes: 0,
          tailLines: 0,
          follow: this.req.follow,
        }
      : { attemptId: this.attempt.id, stream: this.stream, offset: 0, tailBytes: 0, tailLines: this.req.tailLines, follow: this.req.follow };
    let answered = false;
    const handle = this.term.registry.logs.open(session, request, {
      chunk: (chunk) => {
        answered = true;
        this.onChunk(chunk);
      },
      closed: () => {
        if (this.handle !== handle) return;
        this.handle = null;
        clearTimeout(this.noAnswer);
        this.agentAway(`the agent of worker ${this.attempt.workerId} disconnected`, true);
      },
    });
    if (handle === null) return false;
    this.handle = handle;
    this.owed = 0;
    // An agent that keeps no log files (an older one, another implementation) never answers.
    clearTimeout(this.noAnswer);
    this.noAnswer = setTimeout(() => {
      if (answered || this.handle !== handle) return;
      this.log.warn("agent did not answer a log read; sending the stored tail", {
        task: this.attempt.taskId,
        worker: this.attempt.workerId,
        attempt: this.attempt.id,
      });
      this.giveUp(`the agent of worker ${this.attempt.workerId} did not answer the log read`);
    }, FIRST_CHUNK_TIMEOUT_MS);
    return true;
  }

  private onChunk(chunk: LogChunk): void {
    if (this.done) return;
    if (chunk.error) {
      const code = chunk.gone ? status.NOT_FOUND : status.UNAVAILABLE;
      const { number, taskId, workerId } = this.attempt;
      this.finish(() => this.call.emit("error", { code, details: `attempt ${number} of task ${taskId} on worker ${workerId}: ${chunk.error}` }));
      return;
    }
    const name = NAME_OF[chunk.stream];
    const base = { attemptId: this.attempt.id, attemptNumber: this.attempt.number, notice: "", stream: chunk.stream, offset: chunk.offset };
    if (name !== undefined && !chunk.eof) {
      const known = this.next[name];
      if (chunk.data.length === 0) {
        // Where a stream starts: the client needs it only when it could not know it (a tail).
        this.next[name] = chunk.offset;
        const tellClient = known === undefined && this.req.tailLines > 0 && !this.req.resumeAt;
        this.passedOn(!tellClient || this.call.write({ ...base, data: chunk.data }));
      } else {
        this.next[name] = chunk.offset + chunk.data.length;
        this.passedOnData = true;
        this.passedOn(this.call.write({ ...base, data: chunk.data }));
      }
    }
    if (chunk.eof) this.finish(() => this.call.end());
  }

  private passedOn(written: boolean): void {
    if (this.blocked || !written) {
      this.owed++;
      if (this.blocked) return;
      this.blocked = true;
      this.call.once("drain", () => {
        this.blocked = false;
        this.handle?.credit(this.owed);
        this.owed = 0;
      });
      return;
    }
    this.handle?.credit(1);
  }

  /**
   * The agent's stream is not there (`midRead`: it closed during the read). A follow of an attempt
   * still running waits for the agent to come back; otherwise the call ends as it can.
   */
  private agentAway(why: string, midRead: boolean): void {
    if (this.done) return;
    if (this.req.follow && this.term.state.liveAttempts.has(this.attempt.id)) this.waitForAgent(why);
    // The client holds output and its offsets: it may ask again (resume_at) once the agent is back.
    else if (midRead && this.passedOnData) this.finish(() => this.call.emit("error", { code: status.UNAVAILABLE, details: `${why} during the read` }));
    else this.giveUp(why);
  }

  private waitForAgent(why: string): void {
    const { workerId, taskId, id, number } = this.attempt;
    const boundMs = this.term.registry.offlineAfterMs;
    const stopSession = this.term.registry.logs.nextSession(workerId, (session) => {
      this.endWait();
      if (!this.open(session)) this.agentAway(why, false);
    });
    const unsubscribe = this.term.hub.subscribe({
      taskIds: new Set([taskId]),
      project: "",
      push: () => {
        if (!this.term.state.liveAttempts.has(id)) this.giveUp(`${why}, and attempt ${number} ended before it came back`);
      },
    });
    const timer = setTimeout(() => this.giveUp(`${why} and did not come back within ${boundMs} ms`), boundMs);
    this.stopWaiting = () => {
      stopSession();
      unsubscribe();
      clearTimeout(timer);
    };
    this.log.info("log follow waits for the agent to reconnect", { task: taskId, worker: workerId, attempt: id, next: JSON.stringify(this.next) });
  }

  private endWait(): void {
    this.stopWaiting?.();
    this.stopWaiting = null;
  }

  /** Ends with a notice, and the stored tail when it repeats nothing the client has. */
  private giveUp(why: string): void {
    const withTail = !this.passedOnData && !this.req.resumeAt;
    this.finish(() => sendStoredTail(this.call, this.attempt, this.req, why, withTail));
  }

  private finish(end: () => void): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.noAnswer);
    this.endWait();
    this.term.watchCalls.delete(this.termStream);
    this.call.off("cancelled", this.onCancel);
    this.handle?.cancel(); // A read still open on the agent stops there (after its eof, nothing to stop).
    end();
  }
}
