// Small builders and accessors for AgentMessage, shared by the agent's session logic.
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { AgentMessage } from "../src/gen/taskgrid/v1/worker_service.js";

export function finishedMessage(attemptId: string, result: TaskResult, finishedAt: Date): AgentMessage {
  return { seq: 0, body: { $case: "finished", value: { attemptId, result, finishedAt } } };
}

/** The attempt a report is about; "" for register, heartbeat and draining. */
export function attemptIdOf(message: AgentMessage): string {
  const body = message.body;
  return body && "attemptId" in body.value ? body.value.attemptId : "";
}
