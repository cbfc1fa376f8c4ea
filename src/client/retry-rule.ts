// Which failed calls may be sent again, to the same master or another one. Only UNAVAILABLE is
// ever repeated: it is what a standby, a dead master and a master between terms answer. Whether a
// repeat is safe depends on whether the first try may have been carried out by a leader.
import type { ServiceError } from "@grpc/grpc-js";
import { LEADER_METADATA_KEY } from "../core/errors.js";
import type { SubmitTaskRequest, SubmitTasksRequest } from "../gen/taskgrid/v1/task_service.js";
import type { ClientError } from "./errors.js";

/** Methods (their proto names) that change nothing, so running them twice is harmless. */
const READ_METHODS: ReadonlySet<string> = new Set([
  "GetTask",
  "ListTasks",
  "ListWorkers",
  "GetWorker",
  "GetSchedulerInfo",
  "WhoAmI",
  "ListTokens",
  "WatchTasks",
  "ListQuotas",
  "GetShares",
  "ListHistory",
]);

/**
 * Whether doing this call twice has the effect of doing it once: a read, a SubmitTask whose spec has
 * an idempotency_key, or a SubmitTasks whose every spec has one (the second try finds the tasks the
 * first one created). `method` is the gRPC path ("/taskgrid.v1.TaskService/GetTask") or the bare
 * proto name.
 */
export function isRepeatable(method: string, request: unknown): boolean {
  const name = method.slice(method.lastIndexOf("/") + 1);
  if (READ_METHODS.has(name)) return true;
  if (name === "SubmitTask") return Boolean((request as Partial<SubmitTaskRequest> | undefined)?.spec?.idempotencyKey);
  const specs = name === "SubmitTasks" ? (request as Partial<SubmitTasksRequest> | undefined)?.specs : undefined;
  return specs !== undefined && specs.length > 0 && specs.every((spec) => Boolean(spec.idempotencyKey));
}

/** How a failed try was refused, as far as the client can tell. */
export type UnavailableKind =
  /** A master answered that it is not the leader (it did nothing): a standby, or a deposed leader. */
  | "not-leader"
  /** The call never left this process: no connection to that address could be made. */
  | "not-sent"
  /** Anything else: the call may have reached a leader, which may have acted on it. */
  | "maybe-done";

/**
 * Whether a call that failed with UNAVAILABLE may be tried again.
 *
 * - "not-leader" and "not-sent" are always safe: no leader has seen the call.
 * - "maybe-done" (the connection dropped after the request was sent, "master is shutting down", a
 *   database outage) is safe only when the call is `repeatable` (see isRepeatable: reads, and a
 *   SubmitTask with an idempotency_key). Any other write surfaces the error, so a caller never gets
 *   a task submitted (or a token created, a task canceled...) twice without knowing.
 */
export function mayRetryUnavailable(kind: UnavailableKind, repeatable: boolean): boolean {
  return kind !== "maybe-done" || repeatable;
}

// grpc-js's words for a call that failed before any byte of it was sent: the channel could not
// connect ("No connection established. Last error: connect ECONNREFUSED ..."), or the server
// refused the HTTP/2 stream before reading it.
const NOT_SENT = /^(No connection established|Stream refused by server)/;
// A standby's answer (NotLeaderError), and a deposed leader's fenced write, which was rolled back
// (FencedError: "...: write refused"): both texts are the master's (src/core/errors.ts).
const NOT_LEADER = /^this master is a standby|: write refused$/;

export function unavailableKind(error: ClientError, leaderHint: string | undefined): UnavailableKind {
  if (leaderHint !== undefined || NOT_LEADER.test(error.details)) return "not-leader";
  if (NOT_SENT.test(error.details)) return "not-sent";
  return "maybe-done";
}

/** The leader's "host:port" that a standby put in the trailing metadata of its answer, if any. */
export function leaderHintOf(error: ClientError): string | undefined {
  const metadata = (error.cause as Partial<ServiceError> | undefined)?.metadata;
  const value = metadata?.get?.(LEADER_METADATA_KEY)[0];
  const text = typeof value === "string" ? value.trim() : value?.toString("utf8").trim();
  return text ? text : undefined;
}
