// A small promise-based client over the generated service definitions. Requests are partial
// objects (fromPartial fills proto defaults); every failure is a ClientError; every unary call has a
// deadline so a hung master never hangs a script. Calls carry W3C trace context (see
// ClientOptions.traceContext) and, when given, the API token as `authorization: Bearer <token>`
// metadata (ClientOptions.token).
//
// Several masters: given "a:50051,b:50051" (or an array), calls go to the leader. A standby answers
// UNAVAILABLE naming the leader (taskgrid-leader metadata) and the call goes there at once; a master
// that is down or between terms makes the call try the next one, until its deadline. retry-rule.ts
// says which failed calls may be sent again, failover-attempts.ts where and when.
import { Client, Metadata, status, type CallOptions } from "@grpc/grpc-js";
import { TaskSpec } from "../gen/taskgrid/v1/task.js";
import { ListHistoryRequest } from "../gen/taskgrid/v1/history.js";
import { ListTasksRequest, TaskServiceService, WatchTasksRequest } from "../gen/taskgrid/v1/task_service.js";
import { ClientError, toClientError } from "./errors.js";
import { FailoverAttempts } from "./failover-attempts.js";
import { LeaderRouter } from "./leader-router.js";
import { DEFAULT_MASTER_ADDRESS, masterAddressList } from "./master-address.js";
import { isRepeatable, leaderHintOf, mayRetryUnavailable, unavailableKind } from "./retry-rule.js";
import { type ReopeningStream, reopeningStream } from "./reopening-stream.js";
import { StreamLogsRequest } from "../gen/taskgrid/v1/logs.js";
import { LogResumePoint } from "./log-stream.js";
import { channelCredentials } from "./tls.js";
import { clientTraceMetadata } from "./trace-metadata.js";

import type { ClientOptions, TaskgridClient, TaskSpecInput } from "./client-api.js";

export { DEFAULT_MASTER_ADDRESS };
export const DEFAULT_DEADLINE_MS = 30_000;

export type { ClientOptions, SubmitResult, TaskgridClient, TaskSpecInput, TaskWithEvents } from "./client-api.js";

type AdminGen = typeof import("../gen/taskgrid/v1/admin_service.js");
let adminGen: Promise<AdminGen> | undefined;
/** The admin service's generated code (the largest), loaded on the first admin call: `ls`, `get` and `submit` never make one. */
function adminCodec(): Promise<AdminGen> {
  adminGen ??= import("../gen/taskgrid/v1/admin_service.js");
  return adminGen;
}

/** A unary method of a generated service definition: its path and codecs. */
interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

/**
 * A client of the master at `address`, or of several masters: "a:50051,b:50051" or an array (the
 * client follows their leader; see ClientOptions.failover).
 */
const DEFAULT_TRY_TIMEOUT_MS = 5_000;

export function createClient(address: string | readonly string[] = DEFAULT_MASTER_ADDRESS, options: ClientOptions = {}): TaskgridClient {
  const creds = options.credentials ?? channelCredentials(options.tls);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const failover = options.failover ?? true;
  const tryTimeoutMs = options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS;
  const authorization = authorizationValue(options.token);
  // One channel per master, for both services, opened on the first call that goes there.
  const router = new LeaderRouter(
    masterAddressList(address),
    // A channel of its own per master (not grpc-js's process-wide subchannel pool), so that a
    // fresh one after a failed connect really connects afresh (see LeaderRouter.reconnect).
    (target) => new Client(target, creds, { "grpc.use_local_subchannel_pool": 1, "grpc.enable_channelz": 0 }),
    (client) => client.close(),
  );

  /** Fresh metadata per call: trace context of the moment, plus the token. */
  function callMetadata(): Metadata {
    const metadata = clientTraceMetadata(new Metadata(), options.traceContext);
    if (authorization !== undefined) metadata.set("authorization", authorization);
    return metadata;
  }

  /**
   * After a try on `target` failed: how long to wait before the next try (the router points at its
   * master by then), or undefined when `error` is the call's answer.
   */
  function retryDelay(error: ClientError, target: string, repeatable: boolean, attempts: FailoverAttempts): number | undefined {
    if (!failover || error.code !== status.UNAVAILABLE || router.isClosed) return undefined;
    const leaderHint = leaderHintOf(error);
    const kind = unavailableKind(error, leaderHint);
    if (kind === "not-sent") router.reconnect(target);
    return mayRetryUnavailable(kind, repeatable) ? attempts.next(target, kind, leaderHint) : undefined;
  }

  function callOnce<Req, Res>(target: string, method: UnaryMethod<Req, Res>, request: Req, deadline: Date): Promise<Res> {
    return new Promise((resolve, reject) => {
      const callOptions: Partial<CallOptions> = { deadline };
      router
        .connectionTo(target)
        .makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, callMetadata(), callOptions, (error, response) =>
          error ? reject(error) : resolve(response!),
        );
    });
  }

  async function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    const deadlineAtMs = Date.now() + deadlineMs;
    const attempts = new FailoverAttempts(router, deadlineAtMs);
    const repeatable = isRepeatable(method.path, request);
    for (;;) {
      const target = router.current;
      // With several masters, one try may not take the whole deadline: a master that is stopped
      // (SIGSTOP) or cut off keeps its connection open and never answers.
      const tryDeadlineMs = router.addresses.length > 1 ? Math.min(deadlineAtMs, Date.now() + tryTimeoutMs) : deadlineAtMs;
      try {
        return await callOnce(target, method, request, new Date(tryDeadlineMs));
      } catch (err) {
        let error = toClientError(err);
        if (error.code === status.DEADLINE_EXCEEDED && tryDeadlineMs < deadlineAtMs) {
          // Not the call's deadline: this master is silent. Whether it acted is unknown ("maybe done").
          error = new ClientError(status.UNAVAILABLE, `no answer from ${target} within ${tryTimeoutMs} ms`, { cause: err });
        }
        const waitMs = retryDelay(error, target, repeatable, attempts);
        if (waitMs === undefined) throw error;
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        // No time left for another try (it would only fail DEADLINE_EXCEEDED): this is the answer.
        if (Date.now() >= deadlineAtMs) throw error;
      }
    }
  }

  /** Unwraps an optional message field that the server must always set. */
  /**
   * A server stream on the leader. No deadline (a watch or a log follow lasts as long as the caller
   * wants), but opening it may take a failover: as long as a unary call would be given, from the
   * first failure. Once something was delivered a failure surfaces (reopening-stream.ts) unless the
   * stream is `resumable` (a log stream resumes from its offsets, log-stream.ts); a leader that
   * stepped down ends its streams naming its successor, and the next call goes there at once.
   */
  function followingStream<Req, Res, T>(
    method: UnaryMethod<Req, Res>,
    message: () => Req,
    pick: (response: Res) => T | undefined,
    /** Whether the stream may be opened again after it delivered something (`message` then resumes it). */
    resumable: () => boolean = () => false,
  ): ReopeningStream<T> {
    let attempts: FailoverAttempts | undefined;
    return reopeningStream(
      () => {
        const target = router.current;
        const call = router
          .connectionTo(target)
          .makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, message(), callMetadata());
        return { call, target };
      },
      (error, target, delivered) => {
        const resuming = delivered && resumable();
        // A stream that got on before failing again starts a fresh failover, bounded like a unary call's.
        if (resuming) attempts = undefined;
        if (!delivered || resuming) return retryDelay(error, target, true, (attempts ??= new FailoverAttempts(router, Date.now() + deadlineMs)));
        const leaderHint = failover ? leaderHintOf(error) : undefined;
        if (leaderHint !== undefined) router.follow(leaderHint);
        return undefined;
      },
      pick,
    );
  }

  function required<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new ClientError(13 /* INTERNAL */, `server response has no ${what}`);
    return value;
  }

  const tasks = TaskServiceService;
  return {
    get address() {
      return router.current;
    },
    get addresses() {
      return router.addresses;
    },
    async submitTask(spec) {
      const res = await unary(tasks.submitTask, { spec: toSpec(spec) });
      return { task: required(res.task, "task"), existing: res.existing };
    },
    async submitTasks(specs) {
      const res = await unary(tasks.submitTasks, { specs: specs.map(toSpec) });
      return res.taskIds;
    },
    async getTask(taskId) {
      return required((await unary(tasks.getTask, { taskId })).task, "task");
    },
    async getTaskWithEvents(taskId) {
      const res = await unary(tasks.getTask, { taskId });
      return { task: required(res.task, "task"), events: res.events };
    },
    listTasks(request = {}) {
      return unary(tasks.listTasks, ListTasksRequest.fromPartial(request));
    },
    listHistory(request = {}) {
      return unary(tasks.listHistory, ListHistoryRequest.fromPartial(request));
    },
    watchTasks(request) {
      const message = WatchTasksRequest.fromPartial(request);
      return followingStream(
        tasks.watchTasks,
        () => message,
        (response) => response.event,
      );
    },
    streamLogs(request) {
      const point = new LogResumePoint(StreamLogsRequest.fromPartial(request));
      return followingStream(
        tasks.streamLogs,
        () => point.request(),
        (response) => point.received(response),
        () => point.resumable,
      );
    },
    async cancelTaskOrArray(id, reason = "") {
      return unary(tasks.cancelTask, { taskId: id, reason });
    },
    async cancelTask(taskId, reason = "") {
      return required((await unary(tasks.cancelTask, { taskId, reason })).task, "task");
    },
    holdTask(id) {
      return unary(tasks.holdTask, { taskId: id });
    },
    releaseTask(id) {
      return unary(tasks.releaseTask, { taskId: id });
    },
    async pauseTask(taskId) {
      return required((await unary(tasks.pauseTask, { taskId })).task, "task");
    },
    async resumeTask(taskId) {
      return required((await unary(tasks.resumeTask, { taskId })).task, "task");
    },
    async listWorkers(statuses = []) {
      const { AdminServiceService: admin } = await adminCodec();
      return (await unary(admin.listWorkers, { statuses })).workers;
    },
    async getWorker(workerId) {
      const { AdminServiceService: admin } = await adminCodec();
      return required((await unary(admin.getWorker, { workerId })).worker, "worker");
    },
    async drainWorker(workerId, reason = "") {
      const { AdminServiceService: admin } = await adminCodec();
      return required((await unary(admin.drainWorker, { workerId, reason })).worker, "worker");
    },
    async undrainWorker(workerId) {
      const { AdminServiceService: admin } = await adminCodec();
      return required((await unary(admin.undrainWorker, { workerId })).worker, "worker");
    },
    async getSchedulerInfo() {
      const gen = await adminCodec();
      const admin = gen.AdminServiceService;
      return unary(admin.getSchedulerInfo, gen.GetSchedulerInfoRequest.fromPartial({}));
    },
    async createToken(request) {
      const gen = await adminCodec();
      const admin = gen.AdminServiceService;
      return unary(admin.createToken, gen.CreateTokenRequest.fromPartial(request));
    },
    async listTokens(request = {}) {
      const gen = await adminCodec();
      const admin = gen.AdminServiceService;
      return (await unary(admin.listTokens, gen.ListTokensRequest.fromPartial(request))).tokens;
    },
    async revokeToken(tokenId) {
      const { AdminServiceService: admin } = await adminCodec();
      return required((await unary(admin.revokeToken, { tokenId })).token, "token");
    },
    async whoAmI() {
      const { AdminServiceService: admin } = await adminCodec();
      return unary(admin.whoAmI, {});
    },
    async setQuota(quota) {
      const gen = await adminCodec();
      const admin = gen.AdminServiceService;
      return required((await unary(admin.setQuota, { quota: gen.ProjectQuota.fromPartial(quota) })).quota, "quota");
    },
    async listQuotas() {
      const { AdminServiceService: admin } = await adminCodec();
      return unary(admin.listQuotas, {});
    },
    async deleteQuota(project) {
      const { AdminServiceService: admin } = await adminCodec();
      await unary(admin.deleteQuota, { project });
    },
    async getShares() {
      const { AdminServiceService: admin } = await adminCodec();
      return unary(admin.getShares, {});
    },
    close() {
      router.close();
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
