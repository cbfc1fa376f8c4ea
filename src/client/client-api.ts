// What the client offers (TaskgridClient) and how it is set up (ClientOptions): the types only, so
// that code which only names them need not load the implementation (client.ts).
import type { ChannelCredentials } from "@grpc/grpc-js";
import type {
  ApiToken,
  CreateTokenRequest,
  CreateTokenResponse,
  GetSchedulerInfoResponse,
  GetSharesResponse,
  ListQuotasResponse,
  ListTokensRequest,
  ProjectQuota,
  WhoAmIResponse,
  Worker,
} from "../gen/taskgrid/v1/admin_service.js";
import type { ListHistoryRequest, ListHistoryResponse } from "../gen/taskgrid/v1/history.js";
import type { StreamLogsRequest } from "../gen/taskgrid/v1/logs.js";
import type { Task, TaskEvent, TaskSpec } from "../gen/taskgrid/v1/task.js";
import type {
  CancelTaskResponse,
  HoldTaskResponse,
  ListTasksRequest,
  ListTasksResponse,
  ReleaseTaskResponse,
  WatchTasksRequest,
} from "../gen/taskgrid/v1/task_service.js";
import type { Resources, WorkerStatus } from "../gen/taskgrid/v1/types.js";
import type { TraceCarrier } from "../telemetry/tracing.js";
import type { LogStreamCall } from "./log-stream.js";
import type { TaskWatch } from "./task-watch.js";
import type { ClientTlsOptions } from "./tls.js";

/** A TaskSpec where every field may be left out (proto defaults apply). */
export type TaskSpecInput = Partial<Omit<TaskSpec, "resources">> & { resources?: Partial<Resources> };

export interface ClientOptions {
  /**
   * Deadline of each unary call in ms, following the leader included; default 30 s. A watch that
   * cannot be opened on any master gives up after as long.
   */
  deadlineMs?: number;
  /**
   * With several masters: the longest one try may wait for an answer before the call goes on to
   * the next master (a stopped or cut-off master keeps its connection and never answers). Only
   * repeatable calls go on (see retry-rule.ts). Default 5 s.
   */
  tryTimeoutMs?: number;
  /**
   * Follow the leader among several masters (default true): a call that a standby redirects, or that
   * a master that is down cannot take, goes to the leader or the next master. False: every call goes
   * to the first address, once.
   */
  failover?: boolean;
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
  /** The master calls go to now: the leader once a standby named it. */
  readonly address: string;
  /** Every master this client knows: the given ones, then leaders that standbys named. */
  readonly addresses: readonly string[];
  submitTask(spec: TaskSpecInput): Promise<SubmitResult>;
  /** All or nothing; returns the new ids in request order. */
  submitTasks(specs: TaskSpecInput[]): Promise<string[]>;
  getTask(taskId: string): Promise<Task>;
  /** The task plus its history (state changes with who caused them), oldest first. */
  getTaskWithEvents(taskId: string): Promise<TaskWithEvents>;
  listTasks(request?: Partial<ListTasksRequest>): Promise<ListTasksResponse>;
  /** Finished tasks with their accounting, most recently ended first (any master answers). */
  listHistory(request?: Partial<ListHistoryRequest>): Promise<ListHistoryResponse>;
  /** Streams events (the current states first); cancel() or `break` ends it. */
  watchTasks(request: Partial<WatchTasksRequest>): TaskWatch;
  /**
   * Streams an attempt's output (StreamLogs): stdout by default, `follow` until the attempt ends.
   * A stream that fails with UNAVAILABLE after output (a leader change, a lost connection) is
   * resumed from the offsets received (resume_at), so nothing comes twice; the messages that only
   * give a position are not handed on. cancel() or `break` ends it. Fails with the call's status
   * (NOT_FOUND: unknown task or a log that is gone; UNIMPLEMENTED: a master without logs).
   */
  streamLogs(request: Partial<StreamLogsRequest>): LogStreamCall;
  cancelTask(taskId: string, reason?: string): Promise<Task>;
  /** CancelTask as answered: the task, or for a job array's id `task` unset and how many elements it canceled. */
  cancelTaskOrArray(id: string, reason?: string): Promise<CancelTaskResponse>;
  /** HoldTask: a queued task, or a job array's queued elements (and those it creates later), kept from starting. */
  holdTask(id: string): Promise<HoldTaskResponse>;
  /** ReleaseTask: a held task, or a held array's elements, may start. */
  releaseTask(id: string): Promise<ReleaseTaskResponse>;
  pauseTask(taskId: string): Promise<Task>;
  resumeTask(taskId: string): Promise<Task>;
  listWorkers(statuses?: WorkerStatus[]): Promise<Worker[]>;
  getWorker(workerId: string): Promise<Worker>;
  drainWorker(workerId: string, reason?: string): Promise<Worker>;
  /** Ends an operator's drain: the worker takes new work again. */
  undrainWorker(workerId: string): Promise<Worker>;
  getSchedulerInfo(): Promise<GetSchedulerInfoResponse>;
  /** Creates an API token (admin only); the response's `secret` is shown this once. */
  createToken(request: Partial<CreateTokenRequest>): Promise<CreateTokenResponse>;
  /** Tokens, newest first, never their secrets (admin only). */
  listTokens(request?: Partial<ListTokensRequest>): Promise<ApiToken[]>;
  /** Revokes a token by id (admin only); returns it as stored after the revocation. */
  revokeToken(tokenId: string): Promise<ApiToken>;
  /** Who the caller is: whether the master checks tokens, and the caller's token. */
  whoAmI(): Promise<WhoAmIResponse>;
  /**
   * Sets a project's quota and shares, replacing the previous ones (admin only; the leader). Returns
   * the quota as stored (keys lower-cased, shares 1 when left out).
   */
  setQuota(quota: Partial<ProjectQuota>): Promise<ProjectQuota>;
  /** Every project's quota with what it uses now, the default quota and where quotas come from. */
  listQuotas(): Promise<ListQuotasResponse>;
  /** Removes a project's quota (admin only): it falls back to the default quota and 1 share. NOT_FOUND when it has none. */
  deleteQuota(project: string): Promise<void>;
  /** Fair share per project (like Slurm's sshare): shares, decayed usage, factor, running and queued (the leader). */
  getShares(): Promise<GetSharesResponse>;
  /** Closes the channel to every master; pending calls fail with CANCELLED/UNAVAILABLE. */
  close(): void;
}
