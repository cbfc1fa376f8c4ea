// The names of Taskgrid's spans and span attributes (DESIGN §7: one trace per task). Stable like
// the metric names: dashboards and trace queries (Jaeger, Tempo TraceQL) rely on them.
//
// A task's trace:
//   taskgrid.submit            the SubmitTask/SubmitTasks call that created it (SERVER; a child of
//                              the caller's span when the call carried a W3C `traceparent`)
//   ├─ taskgrid.queue_wait     from entering the queue to the placement decision (one per attempt)
//   ├─ taskgrid.placement      the dispatch pass that placed it, up to the commit of the assignment
//   └─ taskgrid.run            from the assignment to the attempt's result on the master
//      └─ taskgrid.execute     the process on the agent (exported by the agent when it traces)

export const SPAN = {
  submit: "taskgrid.submit",
  queueWait: "taskgrid.queue_wait",
  placement: "taskgrid.placement",
  run: "taskgrid.run",
  execute: "taskgrid.execute",
} as const;

export const ATTR = {
  // RPC semantic conventions on the submit span.
  rpcSystem: "rpc.system",
  rpcService: "rpc.service",
  rpcMethod: "rpc.method",
  taskId: "taskgrid.task.id",
  taskName: "taskgrid.task.name",
  taskProject: "taskgrid.task.project",
  taskQueue: "taskgrid.task.queue",
  taskPriority: "taskgrid.task.priority",
  taskKind: "taskgrid.task.kind",
  /** Tasks in the submit call (1 for SubmitTask). */
  submitBatchSize: "taskgrid.submit.batch_size",
  /** Set when the idempotency key matched: the task the call returned instead of creating one. */
  submitExistingTaskId: "taskgrid.submit.existing_task_id",
  attemptId: "taskgrid.attempt.id",
  attemptNumber: "taskgrid.attempt.number",
  workerId: "taskgrid.worker.id",
  strategy: "taskgrid.placement.strategy",
  score: "taskgrid.placement.score",
  runnerUpScore: "taskgrid.placement.runner_up_score",
  fallbackReason: "taskgrid.placement.fallback_reason",
  weightsVersion: "taskgrid.placement.weights_version",
  feasibleWorkers: "taskgrid.placement.feasible_workers",
  /** Prefix of the chosen worker's per-factor scores: ...factor.deadline, .affinity, .load, .io, .success, .penalty. */
  factorPrefix: "taskgrid.placement.factor.",
  /** Assignments committed by the same dispatch pass (they share its time). */
  dispatchBatchSize: "taskgrid.dispatch.batch_size",
  gpuIndexes: "taskgrid.attempt.gpu_indexes",
  outcome: "taskgrid.run.outcome",
  exitCode: "taskgrid.run.exit_code",
  signal: "taskgrid.run.signal",
  durationMs: "taskgrid.run.duration_ms",
  /** The master restarted while the attempt ran: this run span was rebuilt from the attempt row. */
  recovered: "taskgrid.run.recovered",
  /** The master stopped while the attempt ran (a recovered run span follows after its restart). */
  openAtShutdown: "taskgrid.run.open_at_shutdown",
  processPid: "process.pid",
} as const;

/** Name of the run span's event when the agent reports the process started. */
export const EVENT_PROCESS_STARTED = "process started";
