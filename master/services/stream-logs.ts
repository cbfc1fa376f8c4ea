// TaskService.StreamLogs (issue 17): an attempt's stdout/stderr from the agent that ran it, relayed
// through that agent's stream (log-relay.ts) while it is connected; otherwise the attempt's stored
// output tail and a notice saying where the full log is. Only the leader holds the agents' streams,
// so a standby answers UNAVAILABLE naming the leader, as for watches.
//
// Memory stays bounded whatever the client's speed: each chunk passed on earns the agent one more
// (LogReadCredit), and a chunk that fills the client's buffer earns it only at 'drain'.
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import type { Caller } from "../../src/core/access.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, NotLeaderError } from "../../src/core/errors.js";
import type { Attempt, Task, TaskEvent } from "../../src/core/types.js";
import { LogStream, type StreamLogsRequest, type StreamLogsResponse } from "../../src/gen/taskgrid/v1/logs.js";
import type { LogChunk } from "../../src/gen/taskgrid/v1/worker_service.js";
import type { Store } from "../../src/store/store-types.js";
import { callerOf } from "../auth/guard.js";
import { toServiceError } from "../grpc-errors.js";
import type { LeaderTerm } from "../leader-term.js";
import { leading, type Office } from "../leadership/office.js";
import type { Logger } from "../logger.js";

/** How long an agent may take to answer a ReadLog before the stored tail is sent instead (an agent without log files). */
export const FIRST_CHUNK_TIMEOUT_MS = 10_000;

export interface StreamLogsDeps {
  store: Store;
  office: Office;
  log: Logger;
  isAccepting: () => boolean;
  /** The task, or NotFoundError when it does not exist or the caller may not see it. */
  loadTask: (taskId: string, caller: Caller) => Promise<Task>;
}

type Call = ServerWritableStream<StreamLogsRequest, StreamLogsResponse>;

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);

export async function streamLogs(call: Call, deps: StreamLogsDeps): Promise<void> {
  const { log } = deps;
  const fail = (err: unknown) => call.emit("error", toServiceError(err, log, "StreamLogs"));
  try {
    if (!deps.isAccepting()) return void call.emit("error", { code: status.UNAVAILABLE, details: "master is shutting down" });
    const req = call.request;
    checkRequest(req);
    const term = leading(deps.office);
    const task = await deps.loadTask(req.taskId, callerOf(call));
    const attempt = await attemptOf(call, deps, term, task, req);
    if (attempt === null) return; // The call ended (canceled, or the task ended without an attempt).
    relayOrTail(call, term, attempt, req, log);
  } catch (err) {
    fail(err);
  }
}

function checkRequest(req: StreamLogsRequest): void {
  if (req.attemptNumber < 0) throw new InvalidArgumentError("attempt_number", "must be >= 0 (0: the latest attempt)");
  if (req.attemptId.length > 64) throw new InvalidArgumentError("attempt_id", "at most 64 characters");
  if (req.tailLines < 0) throw new InvalidArgumentError("tail_lines", "must be >= 0 (0: all)");
  if (!(req.stream in LogStream) || req.stream === LogStream.UNRECOGNIZED) throw new InvalidArgumentError("stream", "must be STDOUT, STDERR or BOTH");
}

/** The attempt asked for; with follow and none yet, waits for the task's first one. */
async function attemptOf(call: Call, deps: StreamLogsDeps, term: LeaderTerm, task: Task, req: StreamLogsRequest): Promise<Attempt | null> {
  const pick = (attempts: Attempt[]) => {
    if (req.attemptId) return attempts.find((a) => a.id === req.attemptId) ?? null;
    if (req.attemptNumber > 0) return attempts.find((a) => a.number === req.attemptNumber) ?? null;
    return attempts.reduce<Attempt | null>((a, b) => (a === null || b.number > a.number ? b : a), null);
  };
  const found = pick(await deps.store.getAttempts(task.id));
  if (found) return found;
  if (req.attemptId) throw new NotFoundError("attempt", req.attemptId);
  if (req.attemptNumber !== 0) throw new NotFoundError("attempt", `${task.id} #${req.attemptNumber}`);
  if (!req.follow) throw new FailedPreconditionError(`task ${task.id} has no attempt yet (${task.state}); follow waits for it`);
  // Subscribed before looking again, so an assignment cannot fall between the two.
  let wake!: (event: TaskEvent | null) => void;
  const next = () => new Promise<TaskEvent | null>((resolve) => (wake = resolve));
  let pending = next();
  const unsubscribe = term.hub.subscribe({ taskIds: new Set([task.id]), project: "", push: (event) => wake(event) });
  const stop = () => wake(null);
  call.on("cancelled", stop);
  // A leader that steps down ends the wait as it ends watches (UNAVAILABLE naming its successor,
  // emitted on the call): the client follows from there instead of waiting on a term that is over.
  call.on("error", stop);
  call.on("close", stop);
  term.watchCalls.add(call);
  try {
    // Added after the term ended (and ended its streams): this one ends the same way.
    if (deps.office.term() !== term) throw new NotLeaderError(deps.office.leaderAddress());
    for (let state = task.state; ; ) {
      const attempt = pick(await deps.store.getAttempts(task.id));
      if (attempt) return attempt;
      if (TERMINAL.has(state)) {
        call.write({ data: Buffer.alloc(0), stream: req.stream, attemptId: "", attemptNumber: 0, notice: `task ${task.id} ended ${state} without running` });
        call.end();
        return null;
      }
      const event = await pending;
      if (event === null) return null;
      pending = next();
      state = event.state;
    }
  } finally {
    unsubscribe();
    term.watchCalls.delete(call);
    call.off("cancelled", stop);
    call.off("error", stop);
    call.off("close", stop);
  }
}

/** Through the agent that has the log, if it is connected; otherwise the stored tail. */
function relayOrTail(call: Call, term: LeaderTerm, attempt: Attempt, req: StreamLogsRequest, log: Logger): void {
  if (call.cancelled) return; // Gone while the attempt was looked up: no read to start.
  const worker = term.registry.get(attempt.workerId);
  const link = worker?.link;
  if (link?.kind !== "connected") {
    sendStoredTail(call, attempt, req, `the agent of worker ${attempt.workerId} is not connected`);
    return;
  }
  const base = { attemptId: attempt.id, attemptNumber: attempt.number, notice: "" };
  let answered = false;
  let done = false;
  // Credit the agent earns back: at once per chunk passed on, or at 'drain' once the client's buffer is full.
  let blocked = false;
  let owed = 0;
  const passedOn = (written: boolean) => {
    if (blocked || !written) {
      owed++;
      if (blocked) return;
      blocked = true;
      call.once("drain", () => {
        blocked = false;
        handle?.credit(owed);
        owed = 0;
      });
      return;
    }
    handle?.credit(1);
  };
  const finish = (end: () => void) => {
    if (done) return;
    done = true;
    clearTimeout(noAnswer);
    call.off("cancelled", onCancel);
    end();
  };
  const handle = term.registry.logs.open(
    link.session,
    { attemptId: attempt.id, stream: req.stream || LogStream.LOG_STREAM_STDOUT, offset: 0, tailBytes: 0, tailLines: req.tailLines, follow: req.follow },
    {
      chunk: (chunk: LogChunk) => {
        answered = true;
        if (done) return;
        if (chunk.error) {
          const code = chunk.gone ? status.NOT_FOUND : status.UNAVAILABLE;
          return finish(() =>
            call.emit("error", { code, details: `attempt ${attempt.number} of task ${attempt.taskId} on worker ${attempt.workerId}: ${chunk.error}` }),
          );
        }
        passedOn(chunk.data.length === 0 || call.write({ ...base, data: chunk.data, stream: chunk.stream }));
        if (chunk.eof) finish(() => call.end());
      },
      closed: () =>
        finish(() => {
          // Nothing sent yet: the stored tail is still the best answer; mid-read, the client must know.
          if (!answered) sendStoredTail(call, attempt, req, `the agent of worker ${attempt.workerId} disconnected`);
          else call.emit("error", { code: status.UNAVAILABLE, details: `the agent of worker ${attempt.workerId} disconnected during the read` });
        }),
    },
  );
  const onCancel = () => finish(() => handle?.cancel());
  call.on("cancelled", onCancel);
  // An agent that keeps no log files (an older one, another implementation) never answers.
  const noAnswer = setTimeout(() => {
    if (answered) return;
    log.warn("agent did not answer a log read; sending the stored tail", { task: attempt.taskId, worker: attempt.workerId, attempt: attempt.id });
    finish(() => {
      handle?.cancel();
      sendStoredTail(call, attempt, req, `the agent of worker ${attempt.workerId} did not answer the log read`);
    });
  }, FIRST_CHUNK_TIMEOUT_MS);
  if (handle === null) finish(() => sendStoredTail(call, attempt, req, `the agent of worker ${attempt.workerId} is not connected`));
}

/** The attempt's stored output tail (stdout and stderr merged, at most 64 KiB) and where the full log is. */
function sendStoredTail(call: Call, attempt: Attempt, req: StreamLogsRequest, why: string): void {
  const base = { attemptId: attempt.id, attemptNumber: attempt.number };
  const result = attempt.result;
  const tail = result ? lastLines(result.outputTail, req.tailLines) : "";
  if (tail !== "") call.write({ ...base, data: Buffer.from(tail), stream: LogStream.LOG_STREAM_BOTH, notice: "" });
  const where = result?.logLocation ? `the full log is at ${result.logLocation}` : `the full log, if any, is on worker ${attempt.workerId}`;
  const what = result ? "only the stored output tail (stdout and stderr merged, at most 64 KiB) is shown" : "no output is available until it reconnects";
  call.write({ ...base, data: Buffer.alloc(0), stream: LogStream.LOG_STREAM_BOTH, notice: `[taskgrid: ${why}: ${what}; ${where}]` });
  call.end();
}

/** The last `lines` lines of `text` (all of it for 0); a final newline ends the last line. */
export function lastLines(text: string, lines: number): string {
  if (lines <= 0) return text;
  let end = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let n = 0; n < lines; n++) {
    const nl = text.lastIndexOf("\n", end - 1);
    if (nl < 0) return text;
    end = nl;
  }
  return text.slice(end + 1);
}
