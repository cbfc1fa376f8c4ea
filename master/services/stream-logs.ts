// TaskService.StreamLogs (issue 17): an attempt's stdout/stderr from the agent that ran it, relayed
// through that agent's stream (relayed-log-read.ts: with byte offsets, so a follow survives its
// agent reconnecting and a client can resume with resume_at); otherwise the attempt's stored output
// tail and a notice saying where the full log is (stored-log-tail.ts). Only the leader holds the
// agents' streams, so a standby answers UNAVAILABLE naming the leader, as for watches.
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import type { Caller } from "../../src/core/access.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, NotLeaderError } from "../../src/core/errors.js";
import type { Attempt, Task, TaskEvent } from "../../src/core/types.js";
import { LogStream, type StreamLogsRequest, type StreamLogsResponse } from "../../src/gen/taskgrid/v1/logs.js";
import type { Store } from "../../src/store/store-types.js";
import { callerOf } from "../auth/guard.js";
import { toServiceError } from "../grpc-errors.js";
import type { LeaderTerm } from "../leader-term.js";
import { leading, type Office } from "../leadership/office.js";
import type { Logger } from "../logger.js";

import { RelayedLogRead } from "./relayed-log-read.js";

export { FIRST_CHUNK_TIMEOUT_MS } from "./relayed-log-read.js";
export { lastLines } from "./stored-log-tail.js";

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
    // Looked up across awaits: a term that ended meanwhile has no agents to read through.
    if (deps.office.term() !== term) throw new NotLeaderError(deps.office.leaderAddress());
    new RelayedLogRead(call, term, attempt, req, log).start();
  } catch (err) {
    fail(err);
  }
}

function checkRequest(req: StreamLogsRequest): void {
  if (req.attemptNumber < 0) throw new InvalidArgumentError("attempt_number", "must be >= 0 (0: the latest attempt)");
  if (req.attemptId.length > 64) throw new InvalidArgumentError("attempt_id", "at most 64 characters");
  if (req.tailLines < 0) throw new InvalidArgumentError("tail_lines", "must be >= 0 (0: all)");
  if (!(req.stream in LogStream) || req.stream === LogStream.UNRECOGNIZED) throw new InvalidArgumentError("stream", "must be STDOUT, STDERR or BOTH");
  const resume = req.resumeAt;
  if (resume) {
    if (resume.stdout < 0) throw new InvalidArgumentError("resume_at.stdout", "must be >= 0 (a byte offset)");
    if (resume.stderr < 0) throw new InvalidArgumentError("resume_at.stderr", "must be >= 0 (a byte offset)");
  }
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
        call.write({
          data: Buffer.alloc(0),
          stream: req.stream,
          attemptId: "",
          attemptNumber: 0,
          offset: 0,
          notice: `task ${task.id} ended ${state} without running`,
        });
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
