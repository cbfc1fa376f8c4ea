// The Knex-backed Store: reads go straight to the pool, writes go through the group committer.
import { DatabaseUnavailableError, FencedError, InvalidArgumentError, UnavailableError } from "../core/errors.js";
import { selectLearning } from "./learning-sql.js";
import type { LearningStats } from "../core/rts/learning.js";
import type { Attempt, Task, TaskEvent, Worker } from "../core/types.js";
import type {
  ActiveState,
  DependencyTargetRow,
  QuotaStore,
  Store,
  TokenStore,
  StoreWrite,
  SubmitOutcome,
  SubmitRequest,
  TaskFilter,
  TaskPage,
} from "./store-types.js";
import { openKnex, type ConnectionConfig, type Dialect, type OpenedKnex } from "./connection.js";
import { migrateToLatest } from "./migrations/index.js";
import { GroupCommitter, type GroupCommitStats } from "./group-commit.js";
import { runAfterPredecessor } from "./pipeline-wait.js";
import { applyBatch, conflictKeysOfJob, rowsOfJob, type StoreJob, type StoreJobResult } from "./apply-batch.js";
import type { BatchStatement } from "./batch-statement.js";
import { inScriptTransaction, type ScriptSession } from "./write-script.js";
import { fenceStatement } from "./leader-sql.js";
import { EmbeddedLeaderLock, PostgresLeaderLock, type LeaderLock } from "./leader-lock.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { isConnectionError } from "./connection-errors.js";
import { selectActiveTasks, selectTask, selectTaskIdsByPrefix, selectTaskPage } from "./tasks-sql.js";
import { selectArrayElement, selectArrayRecord, selectDependencyTargets, selectOpenArrays, type ArrayRecordRow } from "./arrays-sql.js";
import { selectAttempt, selectAttemptsForTask, selectCurrentAttemptsOfActiveTasks } from "./attempts-sql.js";
import { selectEventsForTask } from "./events-sql.js";
import { selectWorkers } from "./workers-sql.js";
import { insertToken, revokeToken, selectTokenList, selectTokens, updateLastUsed } from "./tokens-sql.js";
import { deleteQuota, selectQuotas, selectUsage, upsertQuota } from "./quotas-sql.js";
import type { ProjectUsage } from "../core/fairshare/types.js";
import { deleteExpiredEvents, deleteExpiredTasks, selectHistoryPage, type HistoryFilter, type HistoryPage } from "./history-sql.js";

/** How long a pipelined batch holds its locks waiting for its predecessor (pipeline-wait.ts). */
const PIPELINED_WAIT_MS = 2_000;

export interface StoreConfig extends ConnectionConfig {
  /** Upper bound on rows written per group-commit transaction (default 5,000). */
  maxBatchRows?: number;
  /**
   * Group-commit transactions running at once on Postgres (default 2; PGlite: always 1). A batch
   * starts beside a running one only on other rows, and commits after it (group-commit.ts).
   */
  maxWriteTransactions?: number;
  /**
   * Called when the database becomes unreachable (with the error) and when it is back (null).
   * Meanwhile writes wait and are retried in order; submissions and reads fail with UnavailableError.
   */
  onOutage?: (error: unknown | null) => void;
  /**
   * Called when a write transaction found a later leadership epoch than the store's fence (this
   * master was deposed); the transaction was rolled back and its callers get the FencedError.
   */
  onFenced?: (error: FencedError) => void;
}

/** Store plus observability of the group commit (how many transactions served how many calls). */
export interface TaskgridStore extends Store {
  stats(): GroupCommitStats;
}

export const MAX_PAGE_SIZE = 1000;

/** Opens the database connection. Call migrate() before first use. */
export async function openStore(config: StoreConfig = {}): Promise<TaskgridStore> {
  return new KnexStore(await openKnex(config), config);
}

class KnexStore implements TaskgridStore {
  readonly dialect: Dialect;
  private readonly committer: GroupCommitter<StoreJob, StoreJobResult>;
  private closing: Promise<void> | null = null;
  /** Unset: writes are not fenced (tools, tests). Set by the master: only its epoch's jobs run. */
  private fence: { epoch: number | null } | null = null;

  constructor(
    private readonly conn: OpenedKnex,
    private readonly config: StoreConfig,
  ) {
    this.dialect = conn.dialect;
    this.committer = new GroupCommitter<StoreJob, StoreJobResult>({
      runBatch: (jobs, predecessor) => this.runBatch(jobs, predecessor),
      rowsOf: rowsOfJob,
      conflictKeysOf: conflictKeysOfJob,
      // A batch waiting for its predecessor holds a connection, and the predecessor may need
      // another to retry its jobs alone: PGlite's one connection (or a tiny pool) allows one batch.
      maxInFlight: conn.dialect === "pglite" || (config.poolMax ?? 8) < 4 ? 1 : (config.maxWriteTransactions ?? 2),
      maxBatchRows: config.maxBatchRows,
      isUnavailable: isConnectionError,
      // A client can retry a submission; the master's own state changes must reach the database.
      failFast: (job) => job.kind === "submit",
      onOutage: config.onOutage,
    });
  }

  /**
   * From now on every write transaction checks that the database's leadership epoch is `epoch`
   * (null: this master does not lead, every write fails). Jobs queued under another epoch fail
   * with FencedError instead of running under this one.
   */
  setFence(epoch: number | null): void {
    this.fence = { epoch };
  }

  leaderLock(applicationName: string, queryTimeoutMs: number): LeaderLock {
    if (this.dialect === "pglite" || !this.config.databaseUrl) return new EmbeddedLeaderLock(this.conn.knex);
    return new PostgresLeaderLock({ databaseUrl: this.config.databaseUrl, schema: this.config.schema, applicationName, queryTimeoutMs });
  }

  private async runBatch(jobs: readonly StoreJob[], predecessor?: () => Promise<void>): Promise<StoreJobResult[]> {
    if (!predecessor) return this.runTransaction(jobs);
    return runAfterPredecessor((beforeCommit) => this.runTransaction(jobs, beforeCommit), predecessor, PIPELINED_WAIT_MS);
  }

  private async runTransaction(jobs: readonly StoreJob[], beforeCommit?: () => Promise<void>): Promise<StoreJobResult[]> {
    const fence = this.fence;
    if (fence === null) return inScriptTransaction(this.conn.knex, this.conn.dialect, (session) => applyBatch(session, jobs), beforeCommit);
    const { epoch } = fence;
    const stale = jobs.find((job) => job.epoch !== epoch);
    if (epoch === null || stale) throw new FencedError(stale?.epoch ?? null, epoch);
    return inScriptTransaction(this.conn.knex, this.conn.dialect, (session) => applyBatch(this.fencedSession(session, epoch), jobs), beforeCommit);
  }

  /** The session with the fence (leader-sql.ts) as the first statement of its first round trip. */
  private fencedSession(session: ScriptSession, epoch: number): ScriptSession {
    const { sql, check } = fenceStatement(epoch);
    const fence: BatchStatement = {
      sql,
      check: {
        ...check!,
        verify: (rows) => {
          try {
            check!.verify(rows);
          } catch (error) {
            if (error instanceof FencedError) this.config.onFenced?.(error);
            throw error;
          }
        },
      },
    };
    let fenced = false;
    return {
      run: async (statements) => {
        if (fenced || statements.length === 0) return session.run(statements);
        fenced = true;
        const [, ...rows] = await session.run([fence, ...statements]);
        return rows;
      },
      runAndCommit: async (statements) => {
        if (fenced || statements.length === 0) return session.runAndCommit(statements);
        fenced = true;
        await session.runAndCommit([fence, ...statements]);
      },
    };
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.db());
  }

  async submit(request: SubmitRequest): Promise<SubmitOutcome> {
    const outcome = await this.committer.submit({ kind: "submit", request, epoch: this.fence?.epoch });
    return outcome as SubmitOutcome;
  }

  async write(writes: StoreWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await this.committer.submit({ kind: "write", writes, epoch: this.fence?.epoch });
  }

  async getTask(taskId: string): Promise<Task | null> {
    return readOrUnavailable(() => selectTask(this.db(), taskId));
  }

  async findTaskIdsByPrefix(prefix: string, projects: readonly string[] | null, limit: number): Promise<string[]> {
    return readOrUnavailable(() => selectTaskIdsByPrefix(this.db(), prefix, projects, limit));
  }

  async getArrayElement(arrayId: string, index: number): Promise<Task | null> {
    return readOrUnavailable(() => selectArrayElement(this.db(), arrayId, index));
  }

  async getArrayRecord(arrayId: string): Promise<ArrayRecordRow | null> {
    return readOrUnavailable(() => selectArrayRecord(this.db(), arrayId));
  }

  async getOpenArrays(): Promise<ArrayRecordRow[]> {
    return readOrUnavailable(() => selectOpenArrays(this.db()));
  }

  async getDependencyTargets(ids: readonly string[]): Promise<DependencyTargetRow[]> {
    return readOrUnavailable(() => selectDependencyTargets(this.db(), ids));
  }

  async getAttempt(attemptId: string): Promise<Attempt | null> {
    return readOrUnavailable(() => selectAttempt(this.db(), attemptId));
  }

  async getAttempts(taskId: string): Promise<Attempt[]> {
    return readOrUnavailable(() => selectAttemptsForTask(this.db(), taskId));
  }

  async getEvents(taskId: string): Promise<TaskEvent[]> {
    return readOrUnavailable(() => selectEventsForTask(this.db(), taskId));
  }

  async listTasks(filter: TaskFilter, pageSize: number, pageToken: string): Promise<TaskPage> {
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new InvalidArgumentError("page_size", `must be an integer in 1..${MAX_PAGE_SIZE}`);
    }
    const cursor = decodePageToken(pageToken);
    // One extra row tells whether a next page exists, so the last page never returns a token
    // that leads to an empty page.
    const rows = await readOrUnavailable(() => selectTaskPage(this.db(), filter, pageSize + 1, cursor));
    const tasks = rows.slice(0, pageSize);
    const last = tasks[tasks.length - 1];
    const nextPageToken = rows.length > pageSize && last ? encodePageToken({ createdAtMs: last.createdAtMs, id: last.id }) : "";
    return { tasks, nextPageToken };
  }

  readonly history = {
    list: (filter: HistoryFilter, pageSize: number, pageToken: string) => this.listHistory(filter, pageSize, pageToken),
    deleteExpiredEvents: (beforeMs: number, taskLimit: number, rowLimit: number) =>
      readOrUnavailable(() => deleteExpiredEvents(this.db(), beforeMs, taskLimit, rowLimit)),
    deleteExpiredTasks: (beforeMs: number, taskLimit: number) => readOrUnavailable(() => deleteExpiredTasks(this.db(), beforeMs, taskLimit)),
  };

  private async listHistory(filter: HistoryFilter, pageSize: number, pageToken: string): Promise<HistoryPage> {
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new InvalidArgumentError("page_size", `must be an integer in 1..${MAX_PAGE_SIZE}`);
    }
    // The same opaque token as listTasks', holding (ended at, id) instead of (created at, id).
    const cursor = decodePageToken(pageToken);
    const rows = await readOrUnavailable(() => selectHistoryPage(this.db(), filter, pageSize + 1, cursor && { endedAtMs: cursor.createdAtMs, id: cursor.id }));
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    const nextPageToken = rows.length > pageSize && last ? encodePageToken({ createdAtMs: last.endedAtMs, id: last.taskId }) : "";
    return { rows: page, nextPageToken };
  }

  async loadActive(): Promise<ActiveState> {
    // One read transaction so the three lists are a consistent snapshot (REPEATABLE READ: all
    // statements see the same snapshot; a write between them could otherwise show an attempt
    // whose task is missing).
    return this.db().transaction(
      async (trx) => ({
        tasks: await selectActiveTasks(trx),
        attempts: await selectCurrentAttemptsOfActiveTasks(trx),
        workers: await selectWorkers(trx),
      }),
      { isolationLevel: "repeatable read" },
    );
  }

  async listWorkers(): Promise<Worker[]> {
    return readOrUnavailable(() => selectWorkers(this.db()));
  }

  async loadLearning(): Promise<LearningStats[]> {
    return readOrUnavailable(() => selectLearning(this.db()));
  }

  readonly quotas: QuotaStore = {
    list: () => readOrUnavailable(() => selectQuotas(this.db())),
    upsert: (quota) => readOrUnavailable(() => upsertQuota(this.db(), quota)),
    remove: (project) => readOrUnavailable(() => deleteQuota(this.db(), project)),
  };

  async loadUsage(): Promise<ProjectUsage[]> {
    return readOrUnavailable(() => selectUsage(this.db()));
  }

  readonly tokens: TokenStore = {
    insert: (token) => readOrUnavailable(() => insertToken(this.db(), token)),
    get: (ids) => readOrUnavailable(() => selectTokens(this.db(), ids)),
    list: (filter) => readOrUnavailable(() => selectTokenList(this.db(), filter)),
    revoke: (id, nowMs) => readOrUnavailable(() => revokeToken(this.db(), id, nowMs)),
    recordLastUsed: (used) => readOrUnavailable(() => updateLastUsed(this.db(), used)),
  };

  /** The Knex instance for reads; after close() reads fail like writes do. */
  private db() {
    if (this.closing !== null) throw new UnavailableError("store is closed");
    return this.conn.knex;
  }

  stats(): GroupCommitStats {
    return this.committer.stats();
  }

  /** Idempotent: later calls wait for the first to finish. */
  close(outageTimeoutMs?: number): Promise<void> {
    this.closing ??= (async () => {
      await this.committer.close(outageTimeoutMs);
      await this.conn.close();
    })();
    return this.closing;
  }
}

/** A read against an unreachable database fails with UnavailableError (UNAVAILABLE: retry). */
async function readOrUnavailable<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isConnectionError(err)) throw new DatabaseUnavailableError(err);
    throw err;
  }
}
