// AdminService: workers and scheduler introspection (DESIGN §4).
import { InvalidArgumentError, NotFoundError } from "../../src/core/errors.js";
import { noNul } from "../../src/core/text-rules.js";
import { PRIORITIES, QUEUE_CLASSES, WORKER_STATUSES, type Priority, type QueueClass } from "../../src/core/types.js";
import type { AdminServiceServer } from "../../src/gen/taskgrid/v1/admin_service.js";
import { priorityEnum, queueClassEnum, workerStatusEnum } from "../convert/enums.js";
import { workerToProto } from "../convert/to-proto.js";
import type { Logger } from "../logger.js";
import { unary, type CallContext } from "./handlers.js";
import type { Store, TokenStore } from "../../src/store/store-types.js";
import { leading, type Office } from "../leadership/office.js";
import { leadershipToProto } from "../convert/leadership.js";
import { defaultQuotaToProto, quotaFromProto, quotaToProto, shareToProto } from "../convert/quotas.js";
import type { QuotaProvider } from "../sharing/quota-provider.js";
import type { Worker } from "../../src/core/types.js";
import type { WorkerSlot } from "../../src/core/worker-slot.js";
import type { Authenticator } from "../auth/authenticator.js";
import { createToken, tokenInputFromProto, tokenToProto } from "../auth/tokens.js";
import type { Weights } from "../../src/core/rts/weights.js";
import { describeWeightsInfo, type WeightsWatcher } from "../weights-watcher.js";

const weightsToProto = (w: Weights) => ({ wDeadline: w.deadline, wAffinity: w.affinity, wLoad: w.load, wIo: w.io, wSuccess: w.success, wPenalty: w.penalty });

export interface AdminServiceDeps {
  /** The leader answers about workers from memory; a standby from the database. */
  office: Office;
  store: Pick<Store, "listWorkers">;
  log: Logger;
  isAccepting: () => boolean;
  orderingPolicy: string;
  placementStrategy: string;
  weights: WeightsWatcher;
  tokens: TokenStore;
  /** null when auth is off. */
  authenticator: Authenticator | null;
  now: () => number;
  /** This master process's instance id and advertised address (GetSchedulerInfo.leadership). */
  masterId: string;
  masterAddress: () => string;
  /** Projects' quotas and shares. */
  quotas: QuotaProvider;
  /** The usage decay half-life, for GetShares. */
  halfLifeMs: number;
}

/** An unlimited quota (no resource limited), to list a project under an unlimited default. */
const UNLIMITED = { nominal: {}, borrowingLimit: {}, lendingLimit: {} };

export function createAdminService(deps: AdminServiceDeps): AdminServiceServer {
  const { office, log, isAccepting } = deps;
  const u = <Req, Res>(name: string, fn: (req: Req, ctx: CallContext) => Promise<Res>) => unary<Req, Res>(log, name, isAccepting, fn);
  const tokenId = (id: string) => {
    if (!id) throw new InvalidArgumentError("token_id", "is required");
    if (!/^[0-9a-f]{16}$/.test(id)) throw new InvalidArgumentError("token_id", "must be 16 hex characters (the id shown by token ls)");
    return id;
  };
  const checkWorkerId = (workerId: string) => {
    if (!workerId) throw new InvalidArgumentError("worker_id", "is required");
    noNul("worker_id", workerId);
    return workerId;
  };
  /** Every worker with its slot (the leader's view) or as stored (a standby's). */
  const allWorkers = async (): Promise<Array<{ record: Worker; slot?: WorkerSlot }>> => {
    const term = office.term();
    if (term) return [...term.registry.all()];
    return (await deps.store.listWorkers()).map((record) => ({ record }));
  };
  /** One worker: the leader looks it up by id; a standby finds it among the stored ones. */
  const workerOf = async (workerId: string): Promise<{ record: Worker; slot?: WorkerSlot }> => {
    checkWorkerId(workerId);
    const term = office.term();
    const stored = term ? undefined : (await deps.store.listWorkers()).find((record) => record.id === workerId);
    const worker = term ? term.registry.get(workerId) : stored && { record: stored };
    if (!worker) throw new NotFoundError("worker", workerId);
    return worker;
  };

  return {
    listWorkers: u("ListWorkers", async (req) => {
      const wanted = new Set(req.statuses.map((s, i) => workerStatusEnum.toDomain(s, `statuses[${i}]`)));
      const workers = (await allWorkers()).filter((w) => wanted.size === 0 || wanted.has(w.record.status));
      workers.sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
      return { workers: workers.map((w) => workerToProto(w.record, w.slot)) };
    }),
    getWorker: u("GetWorker", async (req) => {
      const worker = await workerOf(req.workerId);
      return { worker: workerToProto(worker.record, worker.slot) };
    }),
    drainWorker: u("DrainWorker", async (req) => {
      const { registry } = leading(office);
      const worker = registry.get(checkWorkerId(req.workerId));
      if (!worker) throw new NotFoundError("worker", req.workerId);
      noNul("reason", req.reason); // sent to the agent, logged and stored; rejected like every client string
      await registry.drain(worker.id, req.reason || "drained by operator");
      return { worker: workerToProto(worker.record, worker.slot) };
    }),
    undrainWorker: u("UndrainWorker", async (req) => {
      const { registry } = leading(office);
      const worker = registry.get(checkWorkerId(req.workerId));
      if (!worker) throw new NotFoundError("worker", req.workerId);
      await registry.undrain(worker.id);
      return { worker: workerToProto(worker.record, worker.slot) };
    }),
    getSchedulerInfo: u("GetSchedulerInfo", async () => {
      const weightsNow = deps.weights.current();
      const weightsInfo = deps.weights.info();
      // Queues, decisions and misses are the leader's; a standby reports its leadership and weights only.
      const state = office.term()?.state;
      const lengths = new Map<string, number>();
      for (const task of state?.queue.inOrder() ?? []) {
        const key = `${task.spec.queueClass}/${task.spec.priority}`;
        lengths.set(key, (lengths.get(key) ?? 0) + 1);
      }
      const byStatus = new Map<string, number>();
      for (const { record } of await allWorkers()) byStatus.set(record.status, (byStatus.get(record.status) ?? 0) + 1);
      return {
        orderingPolicy: deps.orderingPolicy,
        placementStrategy: deps.placementStrategy,
        weights: weightsToProto(weightsNow.weights),
        weightsVersion: weightsNow.version,
        weightsLoadedAt: new Date(weightsNow.loadedAtMs),
        weightsError: weightsInfo.lastError,
        weightsPath: weightsInfo.path,
        decisionsByStrategy: Object.fromEntries(state?.decisionsByStrategy ?? []),
        fallbacksByReason: Object.fromEntries(state?.fallbacksByReason ?? []),
        queueLengths: QUEUE_CLASSES.flatMap((q: QueueClass) =>
          PRIORITIES.map((p: Priority) => ({
            queueClass: queueClassEnum.toProto(q),
            priority: priorityEnum.toProto(p),
            length: lengths.get(`${q}/${p}`) ?? 0,
          })),
        ),
        workersByStatus: WORKER_STATUSES.map((s) => ({ status: workerStatusEnum.toProto(s), count: byStatus.get(s) ?? 0 })),
        weightsMetadata: { ...weightsNow.metadata },
        weightsSource: describeWeightsInfo(weightsInfo),
        weightsReloads: { success: weightsInfo.reloads.success, failure: weightsInfo.reloads.failure },
        deadlineMisses: office.term()?.observer.deadlineMisses ?? 0,
        leadership: leadershipToProto(office, deps.masterId, deps.masterAddress()),
        projectShares: office.term()?.sharing.view().map(shareToProto) ?? [],
        quotaProvider: deps.quotas.name,
        fairShareHalfLifeMs: deps.halfLifeMs,
      };
    }),
    // Token writes are the leader's, like every write (they are not fenced: they touch no scheduling state).
    createToken: u("CreateToken", async (req, { caller }) => {
      leading(office);
      const now = deps.now();
      const { record, token } = await createToken(deps.tokens, tokenInputFromProto(req, caller.tokenId ?? "", now), now);
      log.info("token created", { token: record.id, name: record.name, project: record.project, role: record.role, by: caller.actor || "anonymous" });
      return { token: tokenToProto(record), secret: token };
    }),
    listTokens: u("ListTokens", async (req) => {
      noNul("project", req.project);
      const tokens = await deps.tokens.list({ project: req.project || undefined, activeAtMs: req.includeInactive ? undefined : deps.now() });
      return { tokens: tokens.map(tokenToProto) };
    }),
    revokeToken: u("RevokeToken", async (req, { caller }) => {
      leading(office);
      const record = await deps.tokens.revoke(tokenId(req.tokenId), deps.now());
      if (!record) throw new NotFoundError("token", req.tokenId);
      deps.authenticator?.revoked(record.id);
      log.info("token revoked", { token: record.id, by: caller.actor || "anonymous" });
      return { token: tokenToProto(record) };
    }),
    setQuota: u("SetQuota", async (req, { caller }) => {
      const term = leading(office);
      const stored = await deps.quotas.set(quotaFromProto(req.quota, caller.actor || "anonymous", deps.now()));
      term.dispatcher.kick(); // a raised quota places waiting work now, not at the next safety pass
      log.info("quota set", { project: stored.project, nominal: stored.nominal, shares: stored.shares, by: caller.actor || "anonymous" });
      return { quota: quotaToProto(stored) };
    }),
    listQuotas: u("ListQuotas", async () => {
      const set = deps.quotas.current();
      const used = office.term()?.sharing.used() ?? new Map<string, Record<string, number>>();
      // Projects that run something without a quota of their own are listed under the default quota.
      const own = new Set(set.quotas.map((q) => q.project));
      const others = [...used.keys()].filter((p) => !own.has(p)).sort();
      const defaultFor = (project: string) => ({ ...(defaultQuotaToProto(set.defaultQuota) ?? defaultQuotaToProto(UNLIMITED)!), project });
      return {
        quotas: [
          ...set.quotas.map((q) => ({ quota: quotaToProto(q), used: { ...(used.get(q.project) ?? {}) }, isDefault: false })),
          ...others.map((project) => ({ quota: defaultFor(project), used: { ...(used.get(project) ?? {}) }, isDefault: true })),
        ],
        defaultQuota: defaultQuotaToProto(set.defaultQuota),
        provider: deps.quotas.name,
        providerError: deps.quotas.lastError,
      };
    }),
    deleteQuota: u("DeleteQuota", async (req, { caller }) => {
      leading(office);
      if (!req.project) throw new InvalidArgumentError("project", "is required");
      noNul("project", req.project);
      if (!(await deps.quotas.remove(req.project))) throw new NotFoundError("quota", req.project);
      office.term()?.dispatcher.kick();
      log.info("quota removed", { project: req.project, by: caller.actor || "anonymous" });
      return {};
    }),
    getShares: u("GetShares", async () => {
      // Decayed usage lives in the leader's memory between writes.
      const term = leading(office);
      return { projects: term.sharing.view().map(shareToProto), halfLifeMs: deps.halfLifeMs, orderingPolicy: deps.orderingPolicy };
    }),
    whoAmI: u("WhoAmI", async (_req, { caller }) => {
      if (!deps.authenticator || caller.tokenId === null) return { authEnabled: deps.authenticator !== null, token: undefined };
      const [record] = await deps.tokens.get([caller.tokenId]);
      return { authEnabled: true, token: record ? tokenToProto(record) : undefined };
    }),
  };
}
