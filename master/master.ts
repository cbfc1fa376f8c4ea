// The master process: wires store, state, dispatcher, worker registry and gRPC services, rebuilds
// from the database on start, and shuts down gracefully (stop accepting, end agent streams cleanly,
// flush writes, close the database) within a bounded time.
import type { ServerWritableStream } from "@grpc/grpc-js";
import { orderingByName } from "../src/core/ordering.js";
import { RoundRobinPlacement } from "../src/core/placement.js";
import { RtsPlacement } from "../src/core/rts/rts-placement.js";
import { LearningObserver } from "./learning-observer.js";
import { instrumentPlacement, masterMetricSources, recordAttemptEnd, taskEventMetrics } from "../src/telemetry/master-metrics.js";
import { NOOP_RECORDER, startMetrics } from "../src/telemetry/metrics.js";
import { startTracing } from "../src/telemetry/tracing.js";
import { WeightsWatcher } from "./weights-watcher.js";
import type { WatchTasksRequest, WatchTasksResponse } from "../src/gen/taskgrid/v1/task_service.js";
import { DatabaseHealth, openStoreWhenReachable } from "./database-wait.js";
import type { Store } from "../src/store/store-types.js";
import { AgentSession } from "./agent-session.js";
import { resolveMasterConfig, type MasterOptions } from "./config.js";
import { Dispatcher } from "./dispatcher.js";
import { EventHub } from "./event-hub.js";
import { rebuildState } from "./rebuild.js";
import { SERVICE_NAMES, startGrpcServer, stopGrpcServer } from "./server.js";
import { createAdminService } from "./services/admin-service.js";
import { createTaskService } from "./services/task-service.js";
import { StaleAttempts } from "./stale-attempts.js";
import { MasterState } from "./state.js";
import { Submitter } from "./submit.js";
import { TaskLifecycle } from "./task-lifecycle.js";
import { TaskTracing } from "./task-tracing.js";
import { WorkerRegistry } from "./worker-registry.js";
import { createServerTls } from "./tls.js";
import { Authenticator } from "./auth/authenticator.js";
import { AuthGuard, callerOf } from "./auth/guard.js";
import { ensureAdminToken } from "./auth/tokens.js";
import { isLoopbackListen } from "./config.js";
import { AdminServiceService } from "../src/gen/taskgrid/v1/admin_service.js";
import { TaskServiceService } from "../src/gen/taskgrid/v1/task_service.js";
import { WorkerServiceService } from "../src/gen/taskgrid/v1/worker_service.js";

export type { MasterOptions } from "./config.js";

export interface MasterHandle {
  /** "host:port" the gRPC server is bound to. */
  address: string;
  store: Store;
  state: MasterState;
  dispatcher: Dispatcher;
  registry: WorkerRegistry;
  weights: WeightsWatcher;
  /** "host:port" of /metrics, or null when metrics are off. */
  metricsAddress: string | null;
  observer: LearningObserver;
  /** Stale-attempt detection; its tick runs in the liveness loop (tests drive it directly). */
  stale: StaleAttempts;
  /** Re-reads the TLS certificate files (the CLI calls it on SIGHUP); false when they are unusable or TLS is off. */
  reloadTls(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startMaster(options: MasterOptions = {}): Promise<MasterHandle> {
  const config = resolveMasterConfig(options);
  const { clock, logger: log } = config;
  // Certificates first: a bad file fails the start before anything else is opened.
  const tls = config.tls ? await createServerTls(config.tls, log) : null;
  const database = new DatabaseHealth(log, () => clock.now());
  const store = await openStoreWhenReachable(
    { databaseUrl: config.databaseUrl, dataDir: `${config.dataDir}/db`, schema: config.schema, onOutage: database.onOutage },
    log,
  );

  let accepting = true;
  const isAccepting = () => accepting;
  const state = new MasterState(orderingByName(config.ordering), () => clock.now());
  const hub = new EventHub();
  // Metrics start first so the weights file's initial load is counted.
  let weightsVersion = () => "";
  const metrics = config.metrics
    ? await startMetrics({
        listen: config.metrics,
        sources: masterMetricSources({ state, weightsVersion: () => weightsVersion() }),
        log: (line) => log.info(line),
      })
    : null;
  const recorder = metrics?.recorder ?? NOOP_RECORDER;
  const tracing = new TaskTracing(await startTracing(config.tracing), clock);
  if (tracing.enabled) log.info("tracing on", { exportsTo: tracing.tracing.exportsTo });
  if (metrics) hub.subscribe(taskEventMetrics(recorder));
  let dispatcher: Dispatcher | undefined;
  const kick = () => dispatcher?.kick();
  // The workers by id: each one's slot, agent stream, drains and liveness (worker.ts); the lifecycle,
  // the dispatcher and stale-attempt detection send their commands through it.
  const registry = new WorkerRegistry({
    state,
    store,
    clock,
    log,
    suspectAfterMs: config.suspectAfterMs,
    offlineAfterMs: config.offlineAfterMs,
    onCapacityChange: kick,
  });
  const observer = new LearningObserver();
  observer.load(await store.loadLearning());
  const weights = new WeightsWatcher({
    path: config.weightsPath,
    log,
    clock,
    pollIntervalMs: config.weightsPollMs,
    onReload: (result) => recorder.weightsReload(result),
  });
  weightsVersion = () => weights.current().version;
  await weights.start();
  const lifecycle = new TaskLifecycle({
    state,
    store,
    hub,
    clock,
    commands: registry,
    cancelGraceMs: config.cancelGraceMs,
    onCapacityChange: kick,
    tracing,
    failurePolicy: config.failurePolicy,
    random: config.random,
    onReportRejected: (reason, workerId, attemptId) => {
      recorder.reportRejected(reason);
      // A report about another worker's live attempt is a confused or hostile agent: worth a line.
      if (reason === "foreign") log.warn("report about another worker's attempt rejected", { worker: workerId, attempt: attemptId });
    },
    observeAttemptEnd: (task, workerId, result, finishedAtMs) => {
      const missesBefore = observer.deadlineMisses;
      const writes = observer.persistAttemptEnd(task, workerId, result, finishedAtMs);
      recordAttemptEnd(recorder, result, observer.deadlineMisses > missesBefore);
      return writes;
    },
  });
  const stale = new StaleAttempts({ state, clock, lifecycle, commands: registry, log, marginMs: config.staleMarginMs });
  const roundRobin = new RoundRobinPlacement();
  const chosenPlacement =
    config.placement === "rts"
      ? new RtsPlacement({
          weights: () => weights.current(),
          learning: observer.learning,
          penalties: observer.penalties,
          recentKinds: observer.recentKinds,
          telemetryMaxAgeMs: config.telemetryMaxAgeMs,
          fallback: roundRobin,
        })
      : roundRobin;
  const placement = metrics ? instrumentPlacement(chosenPlacement, recorder) : chosenPlacement;
  dispatcher = new Dispatcher({ state, store, clock, placement, lifecycle, commands: registry, log, maxScanPerTick: 10_000, tracing });
  const submitter = new Submitter({ state, store, hub, clock, slaMultiplier: config.slaMultiplier, isAccepting, onQueued: kick, tracing });

  const rebuilt = rebuildState(state, registry, await store.loadActive(), clock.now());
  // A task whose attempt or worker cannot be found again (worker OFFLINE, row missing): requeue it.
  await lifecycle.endOrphans(rebuilt.orphans);
  log.info("state rebuilt from database", {
    queued: rebuilt.queued,
    running: rebuilt.running,
    workers: rebuilt.workers,
    orphans: rebuilt.orphans.length,
    dialect: store.dialect,
  });

  const watchCalls = new Set<ServerWritableStream<WatchTasksRequest, WatchTasksResponse>>();
  const authenticator = config.auth.enabled
    ? new Authenticator({ tokens: store.tokens, clock, log, refreshMs: config.auth.refreshMs, onFailure: (reason) => recorder.authFailure(reason) })
    : null;
  if (authenticator) {
    await ensureAdminToken(store.tokens, config.auth.bootstrapTokenFile, log, clock.now());
    authenticator.start();
    if (!tls && !isLoopbackListen(config.listen)) log.warn("auth is on but TLS is off: tokens cross the network in clear text (set --tls-cert and --tls-key)");
  }
  const guard = new AuthGuard(authenticator, log);
  const grpcServer = await startGrpcServer(
    config.listen,
    {
      tasks: guard.wrap(TaskServiceService, createTaskService({ store, state, hub, submitter, lifecycle, log, isAccepting, watchCalls })),
      admin: guard.wrap(
        AdminServiceService,
        createAdminService({
          state,
          registry,
          log,
          isAccepting,
          orderingPolicy: config.ordering,
          placementStrategy: config.placement,
          weights,
          observer,
          tokens: store.tokens,
          authenticator,
          now: () => clock.now(),
        }),
      ),
      workers: guard.wrap(WorkerServiceService, {
        connect: (call) => {
          if (!accepting) return call.emit("error", { code: 14, details: "master is shutting down" });
          new AgentSession(
            call,
            {
              workers: registry,
              lifecycle,
              clock,
              log,
              heartbeatIntervalMs: config.heartbeatIntervalMs,
              leaseMs: config.leaseMs,
              leaseGraceMs: config.leaseGraceMs,
            },
            callerOf(call),
          );
        },
      }),
    },
    tls?.credentials,
  );
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
  log.info("master listening", { address: grpcServer.address, database: store.dialect });

  // Liveness first (a gone worker's attempts end as LOST), then attempts stuck past timeout + margin.
  let livenessPass: Promise<void> | null = null;
  const livenessTick = () => {
    livenessPass ??= (async () => {
      for (const gone of await registry.tick()) await lifecycle.workerLost(gone.workerId, gone.attemptIds, `worker ${gone.workerId} went OFFLINE`);
      await stale.tick();
    })()
      .catch((err) => log.error("liveness pass failed", { error: String(err) }))
      .finally(() => (livenessPass = null));
  };
  const livenessTimer = setInterval(livenessTick, config.livenessTickMs);
  // Safety net: a pass every second even if no event kicked one (e.g. a worker's telemetry changed).
  const dispatchTimer = setInterval(kick, 1000);
  livenessTimer.unref();
  dispatchTimer.unref();
  kick();

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      accepting = false;
      grpcServer.health.setStatus("", "NOT_SERVING");
      clearInterval(livenessTimer);
      clearInterval(dispatchTimer);
      if (insecureTimer) clearInterval(insecureTimer);
      weights.stop();
      // A pass blocked on an unreachable database must not hold the shutdown: after the bound the
      // store gives up on its waiting writes (close below), and the pass returns its reservations.
      const dispatched = dispatcher!.stop();
      await Promise.race([dispatched, new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref())]);
      for (const call of watchCalls) call.end();
      registry.closeAll();
      await stopGrpcServer(grpcServer.server, config.shutdownTimeoutMs);
      tls?.close();
      await authenticator?.stop();
      await store.close(config.shutdownTimeoutMs);
      await dispatched;
      await metrics?.stop();
      await tracing.shutdown();
      log.info("master stopped");
    })());

  return {
    address: grpcServer.address,
    metricsAddress: metrics?.address ?? null,
    store,
    state,
    dispatcher,
    registry,
    weights,
    observer,
    stale,
    stop,
    reloadTls: async () => (tls ? tls.reload() : false),
  };
}
