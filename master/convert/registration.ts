// The agent's Register message -> validated registration. Every field is checked before anything
// is stored: the worker row (hostname, tags, capacity, version) is text and jsonb, which cannot hold
// NUL, and an agent that is not ours (a Python worker) may send anything. A bad message is a
// protocol violation: ProtocolError ends that agent's session, never the master's other work.
import { InvalidArgumentError, ProtocolError } from "../../src/core/errors.js";
import { hasNul } from "../../src/core/text-rules.js";
import type { Capacity } from "../../src/core/types.js";
import type { Register as ProtoRegister } from "../../src/gen/taskgrid/v1/worker_service.js";
import { capacityFromProto } from "./from-proto.js";

export const REGISTRATION_LIMITS = {
  maxHostnameLength: 255, // DNS names are at most 253; a little slack for odd hosts
  maxTags: 256,
  maxTagLength: 256,
  maxVersionLength: 256,
  maxInstanceIdLength: 256,
  maxRunningAttempts: 100_000, // matches the capacity bound on max_tasks
} as const;

const WORKER_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** What a valid Register message says, in domain terms. */
export interface AgentRegistration {
  workerId: string;
  hostname: string;
  /** Empty tags dropped. */
  tags: string[];
  capacity: Capacity;
  agentVersion: string;
  instanceId: string;
  /** Attempts the agent says it still runs (after a reconnect). */
  runningAttemptIds: string[];
}

function checkText(value: string, field: string, maxLength: number): void {
  if (hasNul(value)) throw new ProtocolError(`${field}: must not contain NUL (\\u0000) characters`);
  if (value.length > maxLength) throw new ProtocolError(`${field}: must be at most ${maxLength} characters (got ${value.length})`);
}

/** Throws ProtocolError ("field: rule", like InvalidArgumentError) naming the first field that breaks a rule. */
export function registrationFromProto(reg: ProtoRegister): AgentRegistration {
  const L = REGISTRATION_LIMITS;
  if (!WORKER_ID.test(reg.workerId)) throw new ProtocolError("register.worker_id: must be 1..128 characters of [A-Za-z0-9._-]");
  checkText(reg.hostname, "register.hostname", L.maxHostnameLength);
  if (reg.tags.length > L.maxTags) throw new ProtocolError(`register.tags: must have at most ${L.maxTags} entries (got ${reg.tags.length})`);
  reg.tags.forEach((tag, i) => checkText(tag, `register.tags[${i}]`, L.maxTagLength));
  checkText(reg.agentVersion, "register.agent_version", L.maxVersionLength);
  checkText(reg.instanceId, "register.instance_id", L.maxInstanceIdLength);
  if (reg.running.length > L.maxRunningAttempts) {
    throw new ProtocolError(`register.running: must have at most ${L.maxRunningAttempts} attempts (got ${reg.running.length})`);
  }
  // Attempt and task ids are looked up in the database (reconciliation); no other bound is needed.
  reg.running.forEach((r, i) => {
    checkText(r.attemptId, `register.running[${i}].attempt_id`, Infinity);
    checkText(r.taskId, `register.running[${i}].task_id`, Infinity);
  });
  let capacity: Capacity;
  try {
    capacity = capacityFromProto(reg.capacity, "register.capacity");
  } catch (err) {
    // Same rules as anywhere else, reported as what they are here: a protocol violation.
    if (err instanceof InvalidArgumentError) throw new ProtocolError(err.message);
    throw err;
  }
  return {
    workerId: reg.workerId,
    hostname: reg.hostname,
    tags: reg.tags.filter((t) => t.length > 0),
    capacity,
    agentVersion: reg.agentVersion,
    instanceId: reg.instanceId,
    runningAttemptIds: reg.running.map((r) => r.attemptId),
  };
}
