// Log reads relayed through agents' streams (issue 17): a ReadLog goes down one worker's session
// with a fresh request id, and the LogChunk answers that come back on that same session are routed
// to the read's sink by that id. A session that closes ends its reads; a follow that should go on
// waits (nextSession) for its worker's agent to register again and resumes on the new session. One
// per worker registry (a leader term): the reads live exactly as long as the agents' streams they
// ride on.
import { randomUUID } from "node:crypto";
import type { LogChunk, ReadLog } from "../src/gen/taskgrid/v1/worker_service.js";
import type { WorkerSession } from "./worker.js";

/** Where one read's answers go. */
export interface LogReadSink {
  /** A chunk from the agent (the last one has eof, and error when the read failed). */
  chunk(chunk: LogChunk): void;
  /** The agent's stream closed before the read ended. */
  closed(): void;
}

/** The master's side of one read. */
export interface LogReadHandle {
  readonly requestId: string;
  /** The agent may send `chunks` more (the previous ones were passed on). */
  credit(chunks: number): void;
  /** Stops the read on the agent; its sink hears nothing more. */
  cancel(): void;
}

interface OpenRead {
  session: WorkerSession;
  sink: LogReadSink;
}

export class LogRelay {
  private readonly reads = new Map<string, OpenRead>();
  /** Reads waiting for their worker's agent to register again, by worker id. */
  private readonly waiting = new Map<string, Set<(session: WorkerSession) => void>>();

  /** Sends the ReadLog down `session`; null when the session is closed. */
  open(session: WorkerSession, request: Omit<ReadLog, "requestId">, sink: LogReadSink): LogReadHandle | null {
    const requestId = randomUUID();
    this.reads.set(requestId, { session, sink });
    if (!session.send({ body: { $case: "readLog", value: { ...request, requestId } } })) {
      this.reads.delete(requestId);
      return null;
    }
    return {
      requestId,
      credit: (chunks) => {
        if (this.reads.has(requestId)) session.send({ body: { $case: "logReadCredit", value: { requestId, chunks } } });
      },
      cancel: () => {
        if (this.reads.delete(requestId)) session.send({ body: { $case: "cancelLogRead", value: { requestId } } });
      },
    };
  }

  /** A LogChunk arrived on `session`: to its read, if it is open and was sent on that session. */
  chunk(session: WorkerSession, chunk: LogChunk): void {
    const read = this.reads.get(chunk.requestId);
    if (!read || read.session !== session) return; // Canceled meanwhile, or not this agent's to answer.
    if (chunk.eof) this.reads.delete(chunk.requestId);
    read.sink.chunk(chunk);
  }

  /** `session` closed: its reads end. */
  sessionClosed(session: WorkerSession): void {
    for (const [id, read] of this.reads) {
      if (read.session !== session) continue;
      this.reads.delete(id);
      read.sink.closed();
    }
  }

  /** Calls `onSession` once, with the next session registered for `workerId`; the returned function stops the wait. */
  nextSession(workerId: string, onSession: (session: WorkerSession) => void): () => void {
    let waiters = this.waiting.get(workerId);
    if (!waiters) this.waiting.set(workerId, (waiters = new Set()));
    waiters.add(onSession);
    return () => {
      waiters.delete(onSession);
      if (waiters.size === 0 && this.waiting.get(workerId) === waiters) this.waiting.delete(workerId);
    };
  }

  /** `session` became the link of worker `workerId` (a registration): the reads waiting for it go on there. */
  sessionOpened(workerId: string, session: WorkerSession): void {
    const waiters = this.waiting.get(workerId);
    if (!waiters) return;
    this.waiting.delete(workerId);
    for (const onSession of waiters) onSession(session);
  }

  /** Reads waiting for an agent to come back (tests). */
  get waitingReads(): number {
    let n = 0;
    for (const waiters of this.waiting.values()) n += waiters.size;
    return n;
  }

  /** Reads in flight (tests). */
  get openReads(): number {
    return this.reads.size;
  }
}
