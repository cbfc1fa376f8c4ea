// Small builders and accessors for AgentMessage, shared by the agent's session logic.
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { AgentMessage } from "../src/gen/taskgrid/v1/worker_service.js";

export function finishedMessage(attemptId: string, result: TaskResult, finishedAt: Date): AgentMessage {
  return { body: { $case: "finished", value: { attemptId, result, finishedAt } } };
}

/** The attempt a report is about; "" for register and heartbeat. */
export function attemptIdOf(message: AgentMessage): string {
  const body = message.body;
  return body && body.$case !== "register" && body.$case !== "heartbeat" ? body.value.attemptId : "";
}
