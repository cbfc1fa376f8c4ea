// Open agent sessions by worker id, and the WorkerCommands implementation over them. A worker has
// at most one session: a second agent with the same worker id is refused while the first one's
// session is open (AgentSession.register); a reconnect of the same agent process replaces (and
// ends) its old stream.
import { status } from "@grpc/grpc-js";
import type { Attempt, Task } from "../src/core/types.js";
import type { AgentSession } from "./agent-session.js";
import { specToProto } from "./convert/to-proto.js";
import type { WorkerCommands } from "./worker-commands.js";

export class SessionRegistry implements WorkerCommands {
  private readonly sessions = new Map<string, AgentSession>();

  constructor(private readonly onDetached: (workerId: string, epoch: number) => void) {}

  attach(session: AgentSession): void {
    const old = this.sessions.get(session.workerId);
    this.sessions.set(session.workerId, session);
    if (old && old !== session) old.close({ code: status.ABORTED, details: "replaced by a newer session of the same worker" });
  }

  detach(session: AgentSession): void {
    if (this.sessions.get(session.workerId) !== session) return;
    this.sessions.delete(session.workerId);
    this.onDetached(session.workerId, session.epoch);
  }

  sessionOf(workerId: string): AgentSession | undefined {
    return this.sessions.get(workerId);
  }

  get size(): number {
    return this.sessions.size;
  }

  closeSession(workerId: string, reason: string): void {
    this.sessions.get(workerId)?.close({ code: status.UNAVAILABLE, details: reason });
  }

  closeAll(): void {
    for (const session of [...this.sessions.values()]) session.close(null);
  }

  drain(workerId: string, reason: string): void {
    this.sessions.get(workerId)?.send({ body: { $case: "drain", value: { reason } } });
  }

  assign(workerId: string, task: Task, attempt: Attempt, traceParent = ""): boolean {
    const session = this.sessions.get(workerId);
    if (!session) return false;
    return session.send({
      body: {
        $case: "assign",
        value: {
          attemptId: attempt.id,
          taskId: task.id,
          spec: specToProto(task.spec),
          gpuIndexes: attempt.gpuIndexes,
          deadline: task.deadlineMs === null ? undefined : new Date(task.deadlineMs),
          attemptNumber: attempt.number,
          traceParent,
        },
      },
    });
  }

  cancel(workerId: string, attemptId: string, graceMs: number, reason: string): void {
    this.sessions.get(workerId)?.send({ body: { $case: "cancel", value: { attemptId, graceMs, reason } } });
  }

  pause(workerId: string, attemptId: string): void {
    this.sessions.get(workerId)?.send({ body: { $case: "pause", value: { attemptId } } });
  }

  resume(workerId: string, attemptId: string): void {
    this.sessions.get(workerId)?.send({ body: { $case: "resume", value: { attemptId } } });
  }
}
