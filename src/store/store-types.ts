// The contract between the master and the database. The master keeps the live scheduling state in
// memory and writes every change through this interface; the database is the source of truth on
// start (loadActive). Implementations batch concurrent calls into few transactions (group commit):
// a returned promise resolves only after the change is committed.
import type { LearningStats } from "../core/rts/learning.js";
import type { TokenRecord } from "./tokens-sql.js";
import type { ArrayRecordRow } from "./arrays-sql.js";
import type { LeaderLock } from "./leader-lock.js";
import type { QuotaRecord } from "./quotas-sql.js";
export type { QuotaRecord } from "./quotas-sql.js";
import type { ProjectUsage } from "../core/fairshare/types.js";
export type { TokenRecord } from "./tokens-sql.js";
import type { HistoryFilter, HistoryPage } from "./history-sql.js";
export type { EndedState, HistoryFilter, HistoryPage, HistoryRow } from "./history-sql.js";
import type { TargetStatus } from "../core/dependencies.js";
import type { Attempt, Task, TaskEvent, TaskResult, TaskState, Worker, WorkerStatus, QueueClass } from "../core/types.js";

/** One submission request: all its tasks commit together or not at all. */
export interface SubmitRequest {
  tasks: Task[];
  /**
   * Who submitted ("" when auth is off): each task row keeps it (queued_by), and its QUEUED event
   * is derived from the row when its history is read (events-sql.ts), not stored.
   */
  actor: string;
  /**
   * Written in the same transaction when the request is created (not when it resolves to an
   * existing task or a conflict): the assignments of tasks placed at submission (master/dispatcher.ts).
   */
  writes?: StoreWrite[];
  /**
   * Job arrays' further elements, written by one statement each (arrays-sql.ts) rather than one
   * json row apiece: an array's first element is in `tasks` (it carries the idempotency key).
   */
  arrays?: ArrayElementsInsert[];
}

/** An array's record and its first elements beyond the first: the template's spec, times and trace; state QUEUED. */
export interface ArrayElementsInsert {
  /** An element (the first) whose shared fields every other element copies. */
  template: Task;
  /** Its indexes in all (the elements not given here are created later: src/core/array-elements.ts). */
  total: number;
  elements: ReadonlyArray<{ id: string; index: number }>;
  /** Who submitted (the QUEUED events' actor). */
  actor: string;
}

/** A dependency target found in the database: a task (by id) or a job array (by array id). */
export interface DependencyTargetRow {
  id: string;
  project: string;
  status: TargetStatus;
}

export type SubmitOutcome =
  /** Every task was inserted. */
  | { kind: "created"; tasks: Task[] }
  /** Every task of the request was made before (same keys, same specs): those tasks, in request order. */
  | { kind: "existing"; tasks: Task[] }
  /** Idempotency key matched a task with a different spec hash. */
  | { kind: "conflict"; idempotencyKey: string; existingTaskId: string };

/**
 * An attempt's RUNNING event as its row records it (migration 0017): the master's time and the
 * actor; the event's other fields are the attempt's or fixed (progress 0, no message), so it is
 * recorded so only when the task had no progress. Derived when the history is read (events-sql.ts).
 */
export interface RunningRecord {
  atMs: number;
  by: string;
}

/**
 * A state change written through to the database. One master decision may produce several writes
 * (e.g. a finished attempt updates the attempt, the task and appends an event); they are passed
 * together to `write()` and commit atomically.
 */
export type StoreWrite =
  /**
   * `assignedBy`: the actor of the attempt's ASSIGNED event, which is then derived from this row
   * when the task's history is read (events-sql.ts) rather than stored; absent: stored as an event.
   */
  | { kind: "insert_attempt"; attempt: Attempt; assignedBy?: string; running?: RunningRecord }
  | {
      kind: "update_attempt";
      attemptId: string;
      startedAtMs?: number | null;
      finishedAtMs?: number | null;
      result?: TaskResult | null;
      /** The attempt's RUNNING event, recorded by its row (see RunningRecord); absent: unchanged. */
      running?: RunningRecord;
    }
  | {
      kind: "update_task";
      taskId: string;
      state: TaskState;
      updatedAtMs: number;
      currentAttemptId: string | null;
      attemptCount: number;
      result: TaskResult | null;
      retriesUsed: number;
      requeues: number;
      notBeforeMs: number | null;
      /**
       * The actor of the event that ends the task, which the row then records (derived when the
       * history is read, events-sql.ts); null or absent: not ended, or its event is stored.
       */
      endedBy?: string | null;
    }
  | { kind: "update_progress"; taskId: string; progress: number; progressMessage: string; updatedAtMs: number }
  | { kind: "append_event"; event: TaskEvent }
  | { kind: "upsert_worker"; worker: Worker }
  | { kind: "update_worker_status"; workerId: string; status: WorkerStatus; lastSeenAtMs: number }
  | { kind: "upsert_learning"; stats: LearningStats }
  /** The task finished after its deadline on this worker: flag the task, count it on the worker. */
  | { kind: "record_deadline_miss"; taskId: string; workerId: string }
  /** A project's decayed usage as of `usage.atMs` (fair share, issue 15). */
  | { kind: "upsert_project_usage"; usage: ProjectUsage }
  /**
   * More elements of a job array (QUEUED), the next indexes after the `fromCreated` that exist; its
   * record's count moves on (checked: it must still be `fromCreated`). `template`: the array's shared
   * fields (its arrayId included); `actor`: the submitter.
   */
  | { kind: "create_array_elements"; template: Task; actor: string; fromCreated: number; elements: ReadonlyArray<{ id: string; index: number }> }
  /** A task held (HoldTask) or released (ReleaseTask): its spec's `hold`. */
  | { kind: "set_task_hold"; taskId: string; hold: boolean }
  /** A job array held or released: its record's spec (the elements it creates later are so too). */
  | { kind: "set_array_hold"; arrayId: string; hold: boolean }
  /** A job array canceled: no more elements are created; the ones never created count as canceled. */
  | { kind: "cancel_array"; arrayId: string; canceledAtMs: number; reason: string };

export interface TaskFilter {
  states?: TaskState[];
  queueClass?: QueueClass;
  project?: string;
  /** "key=value" */
  label?: string;
  /** Only the elements of this job array. */
  arrayId?: string;
}

export interface TaskPage {
  tasks: Task[];
  /** Opaque token for the next page, "" when none. */
  nextPageToken: string;
}

export interface ActiveState {
  /** Every task not in a terminal state. */
  tasks: Task[];
  /** Every attempt that is the current attempt of one of those tasks. */
  attempts: Attempt[];
  /** Every worker ever registered. */
  workers: Worker[];
}

/** Projects' quotas and shares (issue 15): written directly, like tokens (an operator's edit). */
export interface QuotaStore {
  list(): Promise<QuotaRecord[]>;
  upsert(quota: QuotaRecord): Promise<QuotaRecord>;
  /** False when the project had no row. */
  remove(project: string): Promise<boolean>;
}

/**
 * Finished tasks' accounting (issue 17, history-sql.ts): read directly by any master, pruned by the
 * leader's retention in bounded statements, each its own short transaction. Not group-committed:
 * deleting long-ended tasks touches no scheduling state, and doing it twice is harmless.
 */
export interface HistoryStore {
  /** Newest end first. pageSize 1..1000. */
  list(filter: HistoryFilter, pageSize: number, pageToken: string): Promise<HistoryPage>;
  /** Deletes at most `rowLimit` events of the next `taskLimit` tasks that ended before `beforeMs`; how many went. */
  deleteExpiredEvents(beforeMs: number, taskLimit: number, rowLimit: number): Promise<number>;
  /** Deletes the next `taskLimit` tasks that ended before `beforeMs`, with their attempts; how many went. */
  deleteExpiredTasks(beforeMs: number, taskLimit: number): Promise<number>;
}

/** API tokens (DESIGN §10): written directly, not group-committed; they change rarely. */
export interface TokenStore {
  insert(token: TokenRecord): Promise<void>;
  /** The tokens with these ids that exist. */
  get(ids: readonly string[]): Promise<TokenRecord[]>;
  /** Newest first; `activeAtMs`: only tokens neither revoked nor expired then. */
  list(filter: { project?: string; activeAtMs?: number }): Promise<TokenRecord[]>;
  /** Revokes (idempotent); null when no token has the id. */
  revoke(id: string, nowMs: number): Promise<TokenRecord | null>;
  recordLastUsed(used: ReadonlyMap<string, number>): Promise<void>;
}

export interface Store {
  /** "postgres" or "pglite". */
  readonly dialect: "postgres" | "pglite";
  /** Create or upgrade the schema (Knex migrations). Idempotent. */
  migrate(): Promise<void>;
  /** Commit a submission (group-committed with concurrent ones). */
  submit(request: SubmitRequest): Promise<SubmitOutcome>;
  /** Commit a set of state changes atomically (group-committed with concurrent ones). */
  write(writes: StoreWrite[]): Promise<void>;
  getTask(taskId: string): Promise<Task | null>;
  /** Element `index` of job array `arrayId`, or null. */
  getArrayElement(arrayId: string, index: number): Promise<Task | null>;
  /** Job array `arrayId`'s record (template, size, elements created, canceled), or null. */
  getArrayRecord(arrayId: string): Promise<ArrayRecordRow | null>;
  /** The job arrays still creating elements, with their created elements that ended counted (a new leader resumes them). */
  getOpenArrays(): Promise<ArrayRecordRow[]>;
  /** The tasks and job arrays with these ids that exist, with their states (dependency targets). */
  getDependencyTargets(ids: readonly string[]): Promise<DependencyTargetRow[]>;
  /** Ids of tasks whose id starts with `prefix` (hex and dashes), at most `limit`; only `projects`' tasks unless null. */
  findTaskIdsByPrefix(prefix: string, projects: readonly string[] | null, limit: number): Promise<string[]>;
  getAttempts(taskId: string): Promise<Attempt[]>;
  getAttempt(attemptId: string): Promise<Attempt | null>;
  getEvents(taskId: string): Promise<TaskEvent[]>;
  /** Newest first. pageSize 1..1000. */
  listTasks(filter: TaskFilter, pageSize: number, pageToken: string): Promise<TaskPage>;
  loadActive(): Promise<ActiveState>;
  /** Every worker ever registered (a standby master answers ListWorkers from this). */
  listWorkers(): Promise<Worker[]>;
  /** Every learned (kind, worker) row, for the RTS on start. */
  loadLearning(): Promise<LearningStats[]>;
  readonly tokens: TokenStore;
  readonly quotas: QuotaStore;
  readonly history: HistoryStore;
  /** Every project's decayed usage as last written. */
  loadUsage(): Promise<ProjectUsage[]>;
  /**
   * Fences writes by leadership epoch (DESIGN §9): once set, every write transaction first checks
   * that the database's epoch is `epoch` (null: refuse every write), and jobs made under another
   * epoch fail with FencedError. Never set: no fencing (tools, tests, the simulator's stores).
   */
  setFence(epoch: number | null): void;
  /** The election session (leader-lock.ts), named `applicationName` in pg_stat_activity. */
  leaderLock(applicationName: string, queryTimeoutMs: number): LeaderLock;
  /**
   * Wait for queued writes to commit, then close the connection. During a database outage it
   * waits at most `outageTimeoutMs` (default: for ever), then rejects the writes still waiting.
   */
  close(outageTimeoutMs?: number): Promise<void>;
}
