// The master process: the gRPC server, the store, metrics, weights and auth, and the election
// (leadership/elector.ts) that decides whether this process leads. While it leads, a term
// (leader-term.ts) holds the scheduling state rebuilt from the database; as a standby it answers
// reads from the database and redirects the rest to the leader. It shuts down gracefully (stop
// accepting, end agent streams cleanly, flush writes, hand the lead over, close the database)
// within a bounded time.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { AgentMessage, MasterMessage } from "../src/gen/taskgrid/v1/worker_service.js";
import { masterMetricSources } from "../src/telemetry/master-metrics.js";
import { NOOP_RECORDER, startMetrics } from "../src/telemetry/metrics.js";
import { startTracing } from "../src/telemetry/tracing.js";
import { WeightsWatcher } from "./weights-watcher.js";
import { DatabaseHealth, openStoreWhenReachable } from "./database-wait.js";
import type { Store } from "../src/store/store-types.js";
import { applicationNameOf, type LeaderRow } from "../src/store/leader-sql.js";
import { resolveMasterConfig, type MasterOptions } from "./config.js";
import { SERVICE_NAMES, startGrpcServer, stopGrpcServer } from "./server.js";
import { createAdminService } from "./services/admin-service.js";
import { createTaskService } from "./services/task-service.js";
import { TaskTracing } from "./task-tracing.js";
import { createServerTls } from "./tls.js";
import { Authenticator } from "./auth/authenticator.js";
import { AuthGuard, callerOf } from "./auth/guard.js";
import { ensureAdminToken } from "./auth/tokens.js";
import { advertisedAddress, isLoopbackListen } from "./config.js";
import { hostname } from "node:os";
import { access, constants } from "node:fs/promises";
import { dirname } from "node:path";
import { AdminServiceService } from "../src/gen/taskgrid/v1/admin_service.js";
import { TaskServiceService } from "../src/gen/taskgrid/v1/task_service.js";
import { WorkerServiceService } from "../src/gen/taskgrid/v1/worker_service.js";
import { toServiceError } from "./grpc-errors.js";
import { UnavailableError } from "../src/core/errors.js";
import { LeaderElector, type LeadershipView } from "./leadership/elector.js";
import { leading, type Office } from "./leadership/office.js";
import { startLeaderTerm, type LeaderTerm } from "./leader-term.js";
import { FileQuotas } from "./sharing/file-quotas.js";
import { LocalQuotas } from "./sharing/local-quotas.js";
import type { QuotaProvider } from "./sharing/quota-provider.js";
import { projectMetrics } from "./sharing/project-metrics.js";
import type { MasterState } from "./state.js";
import type { Dispatcher } from "./dispatcher.js";
import type { WorkerRegistry } from "./worker-registry.js";
import type { LearningObserver } from "./learning-observer.js";
import type { StaleAttempts } from "./stale-attempts.js";

export type { MasterOptions } from "./config.js";

export interface MasterHandle {
  /** "host:port" the gRPC server is bound to. */
  address: string;
  /** Random per process: names its database sessions and its leadership. */
  instanceId: string;
  store: Store;
  weights: WeightsWatcher;
  /** "host:port" of /metrics, or null when metrics are off. */
  metricsAddress: string | null;
  /** The term in office, or null while this master is a standby. */
  readonly term: LeaderTerm | null;
  /** Who leads, as this master last saw it. */
  leadership(): LeadershipView;
  // The term's parts (tests drive them directly); reading one on a standby throws NotLeaderError.
  readonly state: MasterState;
  readonly dispatcher: Dispatcher;
  readonly registry: WorkerRegistry;
  readonly observer: LearningObserver;
  /** Stale-attempt detection; its tick runs in the liveness loop (tests drive it directly). */
  readonly stale: StaleAttempts;
  /** Re-reads the TLS certificate files (the CLI calls it on SIGHUP); false when they are unusable or TLS is off. */
  reloadTls(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startMaster(options: MasterOptions = {}): Promise<MasterHandle> {
  const config = resolveMasterConfig(options);
  const { clock, logger: log } = config;
  const instanceId = randomBytes(8).toString("hex");
  // Certificates first: a bad file fails the start before anything else is opened.
  const tls = config.tls ? await createServerTls(config.tls, log) : null;
  const database = new DatabaseHealth(log, () => clock.now());
  let elector: LeaderElector | null = null;
  const store = await openStoreWhenReachable(
    {
      databaseUrl: config.databaseUrl,
      dataDir: `${config.dataDir}/db`,
      schema: config.schema,
      applicationName: applicationNameOf(instanceId),
      onOutage: database.onOutage,
      onFenced: (error) => elector?.deposed(error.message),
    },
    log,
  );
  // No write is allowed before this process has claimed an epoch.
  store.setFence(null);

  // Projects' quotas and shares, for every term of this process (and for `quota ls` on a standby).
  const quotas: QuotaProvider =
    config.sharing.provider === "file"
      ? new FileQuotas(config.sharing.quotaFile!, config.sharing.defaultQuota, log, () => clock.now())
      : new LocalQuotas(store.quotas, config.sharing.defaultQuota, log);

  let accepting = true;
  const isAccepting = () => accepting;
  let term: LeaderTerm | null = null;
  // Metrics start first so the weights file's initial load is counted. The sources read the term
  // in office (a standby has no tasks or workers in memory).
  const EMPTY = new Map();
  const metrics = config.metrics
    ? await startMetrics({
        listen: config.metrics,
        sources: {
          ...masterMetricSources({
            state: {
              get activeTasks() {
                return term?.state.activeTasks ?? EMPTY;
              },
              get slots() {
                return term?.state.slots ?? EMPTY;
              },
            },
            weightsVersion: () => weights.current().version,
          }),
          leadership: () => {
            const view = elector?.view();
            const epoch = view?.role === "leader" ? view.epoch : (view?.leader?.epoch ?? 0);
            return { leader: view?.role === "leader", epoch, failovers: elector?.failovers ?? 0 };
          },
          projects: () => projectMetrics(quotas.current(), term?.sharing ?? null),
        },
        log: (line) => log.info(line),
      })
    : null;
  const recorder = metrics?.recorder ?? null;
  const tracing = new TaskTracing(await startTracing(config.tracing), clock);
  if (tracing.enabled) log.info("tracing on", { exportsTo: tracing.tracing.exportsTo });
  const weights = new WeightsWatcher({
    path: config.weightsPath,
    log,
    clock,
    pollIntervalMs: config.weightsPollMs,
    onReload: (result) => (recorder ?? NOOP_RECORDER).weightsReload(result),
  });
  await weights.start();

  const authenticator = config.auth.enabled
    ? new Authenticator({ tokens: store.tokens, clock, log, refreshMs: config.auth.refreshMs, onFailure: (reason) => recorder?.authFailure(reason) })
    : null;
  if (authenticator) {
    // The first admin token is made by whichever master takes office first (onElected), so two
    // masters starting together on a new database do not both make one. A file it could not write
    // fails the start here, not later.
    if (config.auth.bootstrapTokenFile) await access(dirname(config.auth.bootstrapTokenFile), constants.W_OK);
    authenticator.start();
    if (!tls && !isLoopbackListen(config.listen)) log.warn("auth is on but TLS is off: tokens cross the network in clear text (set --tls-cert and --tls-key)");
  }

  await quotas.start();

  let advertised = config.advertise ?? config.listen;
  const office: Office = {
    term: () => term,
    view: () => elector?.view() ?? { role: "standby", leader: null },
    terms: () => ({ won: elector?.termsWon ?? 0, lost: elector?.termsLost ?? 0 }),
    leaderAddress: () => elector?.leaderAddress() ?? "",
  };
  const guard = new AuthGuard(authenticator, log);
  const grpcServer = await startGrpcServer(
    config.listen,
    {
      tasks: guard.wrap(TaskServiceService, createTaskService({ store, office, log, isAccepting })),
      admin: guard.wrap(
        AdminServiceService,
        createAdminService({
          office,
          store,
          log,
          isAccepting,
          orderingPolicy: config.ordering,
          placementStrategy: config.placement,
          weights,
          tokens: store.tokens,
          authenticator,
          now: () => clock.now(),
          masterId: instanceId,
          masterAddress: () => advertised,
          quotas,
          halfLifeMs: config.sharing.halfLifeMs,
        }),
      ),
      workers: guard.wrap(WorkerServiceService, {
        connect: (call: ServerDuplexStream<AgentMessage, MasterMessage>) => {
          try {
            if (!accepting) throw new UnavailableError("master is shutting down");
            leading(office).acceptAgent(call, callerOf(call));
          } catch (err) {
            call.emit("error", toServiceError(err, log, "Connect"));
          }
        },
      }),
    },
    tls?.credentials,
  );
  advertised = config.advertise ?? advertisedAddress(grpcServer.address, hostname());
  // Served beyond loopback to anyone: said loudly, and again every minute while it lasts.
  const insecureWarning = () =>
    log.warn("serving without auth on a non-loopback address: anyone who reaches it can run commands on every agent", { listen: grpcServer.address });
  const insecureTimer = !authenticator && !isLoopbackListen(config.listen) ? setInterval(insecureWarning, 60_000) : null;
  if (insecureTimer) {
    insecureWarning();
    insecureTimer.unref();
  }
  database.attach((serving) => {
    if (!accepting) return;
    for (const name of ["", ...SERVICE_NAMES]) grpcServer.health.setStatus(name, serving ? "SERVING" : "NOT_SERVING");
  });
  log.info("master listening", { address: grpcServer.address, advertise: advertised, database: store.dialect, instance: instanceId });

  /**
   * A new leader waits for agents that a deposed one may still hold: at most until the
   * predecessor's lease plus its outage hold has run out (by the database's clock).
   */
  const livenessGraceAfter = (previous: LeaderRow) =>
    previous.renewedAtMs > 0 ? Math.max(0, previous.renewedAtMs + previous.leaseMs + config.leaderOutageHoldMs - previous.nowMs) : 0;
  let termStopping: Promise<void> = Promise.resolve();
  const leaderLeaseMs = config.leaderLeaseMs;
  elector = new LeaderElector({
    lock: store.leaderLock(applicationNameOf(instanceId), leaderLeaseMs),
    instanceId,
    address: advertised,
    leaseMs: leaderLeaseMs,
    outageHoldMs: config.leaderOutageHoldMs,
    renewEveryMs: leaderLeaseMs / 5,
    pollEveryMs: leaderLeaseMs / 10,
    log,
    monotonicNow: () => performance.now(),
    onElected: async (epoch, previous) => {
      // A term that is still stepping down finishes first: its writes must fail on the old fence.
      await termStopping;
      store.setFence(epoch);
      if (authenticator) {
        await ensureAdminToken(store.tokens, config.auth.bootstrapTokenFile, log, clock.now()).catch((err) =>
          log.error("auth: could not create the first admin token", { error: String(err) }),
        );
      }
      term = await startLeaderTerm({ config, store, recorder, tracing, weights, epoch, livenessGraceMs: livenessGraceAfter(previous), quotas });
    },
    onDeposed: async () => {
      store.setFence(null);
      const ending = term;
      term = null;
      termStopping = ending ? ending.stop(accepting ? (elector?.leaderAddress() ?? "") : null) : Promise.resolve();
      await termStopping;
    },
  });
  await elector.start();

  const current = (): LeaderTerm => leading(office);
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      accepting = false;
      grpcServer.health.setStatus("", "NOT_SERVING");
      if (insecureTimer) clearInterval(insecureTimer);
      weights.stop();
      quotas.stop();
      // Agents and watchers are told the master stops (their streams end cleanly), and dispatch stops.
      const ending = term;
      term = null;
      await ending?.stop(null);
      await stopGrpcServer(grpcServer.server, config.shutdownTimeoutMs);
      tls?.close();
      await authenticator?.stop();
      // The term's last writes commit under its epoch; then the lead is handed over at once.
      await store.close(config.shutdownTimeoutMs);
      await elector?.stop();
      await metrics?.stop();
      await tracing.shutdown();
      log.info("master stopped");
    })());

  return {
    address: grpcServer.address,
    instanceId,
    metricsAddress: metrics?.address ?? null,
    store,
    weights,
    get term() {
      return term;
    },
    leadership: () => office.view(),
    get state() {
      return current().state;
    },
    get dispatcher() {
      return current().dispatcher;
    },
    get registry() {
      return current().registry;
    },
    get observer() {
      return current().observer;
    },
    get stale() {
      return current().stale;
    },
    stop,
    reloadTls: async () => (tls ? tls.reload() : false),
  };
}
