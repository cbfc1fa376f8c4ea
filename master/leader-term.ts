// One term of office: everything a master needs while it leads, built from the database when it is
// elected and dropped when it steps down (DESIGN §9). The process around it (master.ts) keeps what
// outlives a term: the gRPC server, the store, metrics, weights, auth, the election.
//
// Taking office: state, queues, workers and learning are rebuilt from the database (which the
// epoch claim has made final: every write of the previous leader has committed or never will), and
// workers get the usual re-registration time plus `livenessGraceMs` before anything is declared
// lost. Leaving office: dispatch stops, watchers and agent streams are ended with UNAVAILABLE (the
// agents reconnect to the next leader and keep their tasks running), and nothing of the term is
// used again: its writes, if any are still queued, fail on the store's fence.
import { status, type ServerDuplexStream, type ServerWritableStream } from "@grpc/grpc-js";
import type { Caller } from "../src/core/access.js";
import { NotLeaderError } from "../src/core/errors.js";
import { createTaskQueue } from "../src/core/task-queue.js";
import { FairShare } from "./sharing/fair-share.js";
import type { QuotaProvider } from "./sharing/quota-provider.js";
import { RoundRobinPlacement } from "../src/core/placement.js";
import { RtsPlacement } from "../src/core/rts/rts-placement.js";
import type { AgentMessage, MasterMessage } from "../src/gen/taskgrid/v1/worker_service.js";
import type { Store } from "../src/store/store-types.js";
import { instrumentPlacement, recordAttemptEnd, taskEventMetrics } from "../src/telemetry/master-metrics.js";
import type { MetricsRecorder } from "../src/telemetry/metrics.js";
import { AgentSession } from "./agent-session.js";
import type { MasterConfig } from "./config.js";
import { ArrayElementsCreator } from "./array-elements.js";
import { DependencyGate } from "./dependency-gate.js";
import { HistoryRetention } from "./history-retention.js";
import { Dispatcher } from "./dispatcher.js";
import { Preemptions } from "./preemptions.js";
import { EventHub } from "./event-hub.js";
import { LEARNING_FLUSH_MS, LearningObserver } from "./learning-observer.js";
import { rebuildState } from "./rebuild.js";
import { StaleAttempts } from "./stale-attempts.js";
import { MasterState } from "./state.js";
import { Submitter } from "./submit.js";
import { TaskLifecycle } from "./task-lifecycle.js";
import type { TaskTracing } from "./task-tracing.js";
import type { WeightsWatcher } from "./weights-watcher.js";
import { WorkerRegistry } from "./worker-registry.js";
import { toServiceError } from "./grpc-errors.js";

export interface TermDeps {
  config: MasterConfig;
  store: Store;
  /** Present when metrics are on. */
  recorder: MetricsRecorder | null;
  tracing: TaskTracing;
  weights: WeightsWatcher;
  epoch: number;
  /** Added to the workers' re-registration time on taking office. */
  livenessGraceMs: number;
  /** Projects' quotas and shares (the process's provider; re-read when the term starts). */
  quotas: QuotaProvider;
}

export interface LeaderTerm {
  readonly epoch: number;
  readonly state: MasterState;
  readonly hub: EventHub;
  readonly registry: WorkerRegistry;
  readonly lifecycle: TaskLifecycle;
  readonly dispatcher: Dispatcher;
  readonly submitter: Submitter;
  readonly observer: LearningObserver;
  readonly stale: StaleAttempts;
  /** Quotas and fair share in this term. */
  readonly sharing: FairShare;
  /** Tasks held on their dependencies or their array's %N window. */
  readonly gate: DependencyGate;
  /** Job arrays' elements not created yet, and their creation. */
  readonly arrays: ArrayElementsCreator;
  /** Deletes finished tasks past `historyRetentionDays` (tests run a pass with runOnce). */
  readonly retention: HistoryRetention;
  /**
   * Open streams that wait on this term's events (WatchTasks; StreamLogs following a task that has
   * no attempt yet), ended when it ends: UNAVAILABLE naming the new leader, or a clean end.
   */
  readonly watchCalls: Set<TermStream>;
  /** Serves one agent's WorkerService.Connect stream. */
  acceptAgent(call: ServerDuplexStream<AgentMessage, MasterMessage>, caller: Caller): void;
  /**
   * Leaves office. `leaderAddress`: where agents and watchers should go now ("" when unknown, or
   * when the whole master stops and streams end cleanly: pass null).
   */
  stop(leaderAddress: string | null): Promise<void>;
}

/** A server stream a term ends when it ends: all the term does with it is emit its status or end it. */
export type TermStream = Pick<ServerWritableStream<unknown, unknown>, "emit" | "end">;

export async function startLeaderTerm(deps: TermDeps): Promise<LeaderTerm> {
  const { config, store, recorder, tracing, weights, epoch } = deps;
  const { clock, logger: log } = config;
  let leading = true;
  // The multifactor queue reads the fair-share factors, which need the state: built in two steps.
  let fairShare: FairShare | undefined;
  const queue = createTaskQueue(config.ordering, {
    weights: config.sharing.weights,
    maxAgeMs: config.sharing.maxAgeMs,
    fairShareOf: (project) => fairShare?.factorOf(project) ?? 1,
    now: () => clock.now(),
  });
  const state = new MasterState(queue, () => clock.now());
  fairShare = new FairShare({ state, store, provider: deps.quotas, clock, log, config: config.sharing });
  const sharing = fairShare;
  await deps.quotas.refresh();
  await sharing.load();
  state.quotaRefusal = (task) => sharing.refusal(task);
  const hub = new EventHub();
  if (recorder) hub.subscribe(taskEventMetrics(recorder));
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
  // Fed by the lifecycle's task ends; cancels through it the tasks whose dependency can never be met.
  let gate: DependencyGate | undefined;
  // Fed by the same ends: creates job arrays' later elements.
  let arrays: ArrayElementsCreator | undefined;
  const observer = new LearningObserver();
  observer.load(await store.loadLearning());
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
    onReportRejected: (reason, workerId, attemptId, taskId) => {
      recorder?.reportRejected(reason);
      // A report about another worker's live attempt is a confused or hostile agent: worth a line.
      if (reason === "foreign") log.warn("report about another worker's attempt rejected", { task: taskId, worker: workerId, attempt: attemptId });
    },
    onTaskEnded: (task) => {
      gate?.ended(task);
      arrays?.ended(task);
    },
    observeAttemptEnd: (task, workerId, result, finishedAtMs) => {
      const missesBefore = observer.deadlineMisses;
      const writes = observer.persistAttemptEnd(task, workerId, result, finishedAtMs);
      if (recorder) recordAttemptEnd(recorder, result, observer.deadlineMisses > missesBefore);
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
  const placement = recorder ? instrumentPlacement(chosenPlacement, recorder) : chosenPlacement;
  const preemptions = new Preemptions({ state, commands: registry, log, config: config.preemption, recorder: recorder ?? undefined });
  state.preemptionReason = (taskId) => preemptions.reasonFor(taskId);
  dispatcher = new Dispatcher({
    state,
    store,
    clock,
    placement,
    lifecycle,
    commands: registry,
    log,
    maxScanPerTick: 10_000,
    tracing,
    quota: () => sharing.gate(),
    backfill: { ...config.backfill, learning: observer.learning },
    preemptions,
  });
  const isLeading = () => leading;
  const dependencyGate = new DependencyGate({ state, store, cancel: (taskId, reason) => lifecycle.cancel(taskId, reason), onQueued: kick, log });
  gate = dependencyGate;
  state.holdReason = (task) => dependencyGate.holdReason(task);
  const arrayElements = new ArrayElementsCreator({ state, store, hub, clock, gate: dependencyGate, log, onQueued: kick, pacing: config.arrayPacing });
  arrays = arrayElements;
  const submitter = new Submitter({
    state,
    store,
    hub,
    clock,
    slaMultiplier: config.slaMultiplier,
    isAccepting: isLeading,
    onQueued: kick,
    tracing,
    maxArraySize: config.maxArraySize,
    gate: dependencyGate,
    placer: dispatcher,
    arrays: arrayElements,
    log,
  });

  const rebuilt = rebuildState(state, registry, await store.loadActive(), clock.now(), deps.livenessGraceMs);
  // Before any pass: tasks whose dependencies are not met, or outside their array's window, leave the
  // queue; then arrays with elements still to create go on creating them.
  await dependencyGate.rebuild(await arrayElements.load());
  arrayElements.start();
  // A task whose attempt or worker cannot be found again (worker OFFLINE, row missing): requeue it.
  await lifecycle.endOrphans(rebuilt.orphans);
  log.info("state rebuilt from database", {
    epoch,
    queued: rebuilt.queued,
    running: rebuilt.running,
    workers: rebuilt.workers,
    orphans: rebuilt.orphans.length,
    dialect: store.dialect,
  });

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
  // Usage accrues and the fair-share factors follow it; a failed write is retried at the next tick.
  let usagePass: Promise<void> | null = null;
  const usageTimer = setInterval(() => {
    usagePass ??= sharing
      .tick()
      .catch((err) => log.warn("could not record projects' usage", { error: String(err) }))
      .finally(() => (usagePass = null));
  }, config.sharing.usageTickMs);
  usageTimer.unref();
  // Learning rows are written about once a second (learning-observer.ts); a failed write is retried at the next tick.
  let learningPass: Promise<void> | null = null;
  const flushLearning = () =>
    (learningPass ??= observer
      .flush(store)
      .catch((err) => log.warn("could not write learning statistics", { error: String(err) }))
      .finally(() => (learningPass = null)));
  const learningTimer = setInterval(flushLearning, LEARNING_FLUSH_MS);
  learningTimer.unref();
  // Safety net: a pass every second even if no event kicked one (e.g. a worker's telemetry changed).
  const dispatchTimer = setInterval(kick, 1000);
  livenessTimer.unref();
  dispatchTimer.unref();
  const retention = new HistoryRetention({ store, clock, log, retentionMs: config.historyRetentionMs });
  retention.start();
  kick();

  const watchCalls = new Set<TermStream>();
  let stopping: Promise<void> | null = null;
  return {
    epoch,
    state,
    hub,
    registry,
    lifecycle,
    dispatcher,
    submitter,
    observer,
    stale,
    sharing,
    gate: dependencyGate,
    arrays: arrayElements,
    retention,
    watchCalls,
    acceptAgent(call, caller) {
      if (!leading) return void call.emit("error", toServiceError(new NotLeaderError(""), log, "Connect"));
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
          epoch,
        },
        caller,
      );
    },
    stop(leaderAddress) {
      stopping ??= (async () => {
        leading = false;
        arrayElements.close();
        clearInterval(livenessTimer);
        clearInterval(dispatchTimer);
        clearInterval(usageTimer);
        clearInterval(learningTimer);
        const retained = retention.stop();
        // A pass blocked on an unreachable database must not hold the step-down: after the bound
        // it is left to fail on the store (closed, or fenced).
        const dispatched = dispatcher!.stop();
        await Promise.race([dispatched, new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref())]);
        const goodbye = leaderAddress === null ? null : toServiceError(new NotLeaderError(leaderAddress), log, "step-down");
        for (const call of watchCalls) {
          if (goodbye) call.emit("error", goodbye);
          else call.end();
        }
        watchCalls.clear();
        registry.closeAll(goodbye ? { code: status.UNAVAILABLE, details: String(goodbye.details), metadata: goodbye.metadata } : null);
        await livenessPass;
        await usagePass;
        await retained;
        // What was learnt since the last tick (after the reports above): bounded like the dispatch,
        // as a write waits out a database outage.
        await learningPass;
        await Promise.race([flushLearning(), new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref())]);
      })();
      return stopping;
    },
  };
}
