// A small promise-based client over the generated grpc-js stubs. Requests are partial objects
// (fromPartial fills proto defaults); every failure is a ClientError; every unary call has a deadline
// so a hung master never hangs a script. Calls carry W3C trace context (see ClientOptions.traceContext)
// and, when given, the API token as `authorization: Bearer <token>` metadata (ClientOptions.token).
import { Metadata, type CallOptions, type ChannelCredentials, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import {
  AdminServiceClient,
  CreateTokenRequest,
  GetSchedulerInfoRequest,
  ListTokensRequest,
  type ApiToken,
  type CreateTokenResponse,
  type GetSchedulerInfoResponse,
  type WhoAmIResponse,
  type Worker,
} from "../gen/taskgrid/v1/admin_service.js";
import { TaskSpec, type Task, type TaskEvent } from "../gen/taskgrid/v1/task.js";
import { ListTasksRequest, TaskServiceClient, WatchTasksRequest, type ListTasksResponse } from "../gen/taskgrid/v1/task_service.js";
import type { Resources, WorkerStatus } from "../gen/taskgrid/v1/types.js";
import { injectTraceMetadata } from "../telemetry/grpc-trace-metadata.js";
import type { TraceCarrier } from "../telemetry/tracing.js";
import { ClientError, toClientError } from "./errors.js";
import { taskWatch, type TaskWatch } from "./task-watch.js";
import { channelCredentials, type ClientTlsOptions } from "./tls.js";

export const DEFAULT_MASTER_ADDRESS = "127.0.0.1:50051";
export const DEFAULT_DEADLINE_MS = 30_000;

/** A TaskSpec where every field may be left out (proto defaults apply). */
export type TaskSpecInput = Partial<Omit<TaskSpec, "resources">> & { resources?: Partial<Resources> };

export interface ClientOptions {
  /** Deadline of each unary call in ms; default 30 s. */
  deadlineMs?: number;
  /**
   * Channel credentials; wins over `tls`. Default: from `tls`, else plaintext (the master listens on
   * loopback by default).
   */
  credentials?: ChannelCredentials;
  /** TLS to the master (its CA, and for mTLS a client certificate and key); unset: plaintext. */
  tls?: ClientTlsOptions;
  /**
   * API token ("tg1.<id>.<secret>"), sent as `authorization: Bearer <token>` metadata on every call
   * (unary and streams). Unset: no authorization metadata (a master with auth off needs none).
   */
  token?: string;
  /**
   * W3C trace context sent with every call (the CLI passes TRACEPARENT/TRACESTATE from its
   * environment). Unset: the active span's context, through the application's global OTel
   * propagator, so a task submitted inside a traced request joins that trace.
   */
  traceContext?: TraceCarrier;
}

export interface SubmitResult {
  task: Task;
  /** True when the idempotency key matched an existing task. */
  existing: boolean;
}

/** A task with its history (GetTaskResponse). */
export interface TaskWithEvents {
  task: Task;
  /** Every state change, oldest first, each with the actor that caused it. */
  events: TaskEvent[];
}

export interface TaskgridClient {
  readonly address: string;
  submitTask(spec: TaskSpecInput): Promise<SubmitResult>;
  /** All or nothing; returns the new ids in request order. */
  submitTasks(specs: TaskSpecInput[]): Promise<string[]>;
  getTask(taskId: string): Promise<Task>;
  /** The task plus its history (state changes with who caused them), oldest first. */
  getTaskWithEvents(taskId: string): Promise<TaskWithEvents>;
  listTasks(request?: Partial<ListTasksRequest>): Promise<ListTasksResponse>;
  /** Streams events (the current states first); cancel() or `break` ends it. */
  watchTasks(request: Partial<WatchTasksRequest>): TaskWatch;
  cancelTask(taskId: string, reason?: string): Promise<Task>;
  pauseTask(taskId: string): Promise<Task>;
  resumeTask(taskId: string): Promise<Task>;
  listWorkers(statuses?: WorkerStatus[]): Promise<Worker[]>;
  getWorker(workerId: string): Promise<Worker>;
  drainWorker(workerId: string, reason?: string): Promise<Worker>;
  getSchedulerInfo(): Promise<GetSchedulerInfoResponse>;
  /** Creates an API token (admin only); the response's `secret` is shown this once. */
  createToken(request: Partial<CreateTokenRequest>): Promise<CreateTokenResponse>;
  /** Tokens, newest first, never their secrets (admin only). */
  listTokens(request?: Partial<ListTokensRequest>): Promise<ApiToken[]>;
  /** Revokes a token by id (admin only); returns it as stored after the revocation. */
  revokeToken(tokenId: string): Promise<ApiToken>;
  /** Who the caller is: whether the master checks tokens, and the caller's token. */
  whoAmI(): Promise<WhoAmIResponse>;
  /** Closes both channels; pending calls fail with CANCELLED/UNAVAILABLE. */
  close(): void;
}

/** The shape every generated unary method shares (metadata + options + callback overload). */
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export function createClient(address: string = DEFAULT_MASTER_ADDRESS, options: ClientOptions = {}): TaskgridClient {
  const creds = options.credentials ?? channelCredentials(options.tls);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const authorization = authorizationValue(options.token);
  const tasks = new TaskServiceClient(address, creds);
  const admin = new AdminServiceClient(address, creds);

  /** Fresh metadata per call: trace context of the moment, plus the token. */
  function callMetadata(): Metadata {
    const metadata = injectTraceMetadata(new Metadata(), options.traceContext);
    if (authorization !== undefined) metadata.set("authorization", authorization);
    return metadata;
  }

  function unary<Req, Res>(client: TaskServiceClient | AdminServiceClient, method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      const callOptions: Partial<CallOptions> = { deadline: new Date(Date.now() + deadlineMs) };
      method.call(client, request, callMetadata(), callOptions, (error, response) => (error ? reject(toClientError(error)) : resolve(response)));
    });
  }

  /** Unwraps an optional message field that the server must always set. */
  function required<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new ClientError(13 /* INTERNAL */, `server response has no ${what}`);
    return value;
  }

  return {
    address,
    async submitTask(spec) {
      const res = await unary(tasks, tasks.submitTask, { spec: toSpec(spec) });
      return { task: required(res.task, "task"), existing: res.existing };
    },
    async submitTasks(specs) {
      const res = await unary(tasks, tasks.submitTasks, { specs: specs.map(toSpec) });
      return res.taskIds;
    },
    async getTask(taskId) {
      return required((await unary(tasks, tasks.getTask, { taskId })).task, "task");
    },
    async getTaskWithEvents(taskId) {
      const res = await unary(tasks, tasks.getTask, { taskId });
      return { task: required(res.task, "task"), events: res.events };
    },
    listTasks(request = {}) {
      return unary(tasks, tasks.listTasks, ListTasksRequest.fromPartial(request));
    },
    watchTasks(request) {
      // No deadline: a watch lives as long as the caller wants it.
      return taskWatch(tasks.watchTasks(WatchTasksRequest.fromPartial(request), callMetadata()));
    },
    async cancelTask(taskId, reason = "") {
      return required((await unary(tasks, tasks.cancelTask, { taskId, reason })).task, "task");
    },
    async pauseTask(taskId) {
      return required((await unary(tasks, tasks.pauseTask, { taskId })).task, "task");
    },
    async resumeTask(taskId) {
      return required((await unary(tasks, tasks.resumeTask, { taskId })).task, "task");
    },
    async listWorkers(statuses = []) {
      return (await unary(admin, admin.listWorkers, { statuses })).workers;
    },
    async getWorker(workerId) {
      return required((await unary(admin, admin.getWorker, { workerId })).worker, "worker");
    },
    async drainWorker(workerId, reason = "") {
      return required((await unary(admin, admin.drainWorker, { workerId, reason })).worker, "worker");
    },
    getSchedulerInfo() {
      return unary(admin, admin.getSchedulerInfo, GetSchedulerInfoRequest.fromPartial({}));
    },
    createToken(request) {
      return unary(admin, admin.createToken, CreateTokenRequest.fromPartial(request));
    },
    async listTokens(request = {}) {
      return (await unary(admin, admin.listTokens, ListTokensRequest.fromPartial(request))).tokens;
    },
    async revokeToken(tokenId) {
      return required((await unary(admin, admin.revokeToken, { tokenId })).token, "token");
    },
    whoAmI() {
      return unary(admin, admin.whoAmI, {});
    },
    close() {
      tasks.close();
      admin.close();
    },
  };
}

/**
 * The `authorization` metadata value for a token: "Bearer <token>" (a value that already starts
 * with "Bearer " is taken as is). Throws for a value grpc-js could not send (whitespace, control
 * characters) with a message that does not echo the token.
 */
export function authorizationValue(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const bare = token.trim().replace(/^Bearer\s+/i, "");
  if (bare === "") return undefined;
  if (!/^[\x21-\x7e]+$/.test(bare)) throw new TypeError("token: must be printable ASCII without spaces (a Taskgrid token looks like tg1.<id>.<secret>)");
  return `Bearer ${bare}`;
}

/** Fills proto defaults so callers can pass only what they care about. */
function toSpec(spec: TaskSpecInput): TaskSpec {
  return TaskSpec.fromPartial(spec as TaskSpec);
}
