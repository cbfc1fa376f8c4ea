// Knex migrations as TS modules, listed statically. A custom migrationSource means nothing is
// scanned on disk at runtime, so migrations work the same under tsx, a bundle or compiled JS.
// To add a migration: write NNNN-what.ts exporting name/up/down and append it to MIGRATIONS.
import type { Knex } from "knex";
import * as initialSchema from "./0001-initial-schema.js";
import * as learningAndMisses from "./0002-learning-and-deadline-misses.js";
import * as taskTraceParent from "./0003-task-trace-parent.js";
import * as failureAccounting from "./0004-failure-accounting.js";
import * as apiTokens from "./0005-api-tokens.js";
import * as idempotencyPerProject from "./0006-idempotency-per-project.js";
import * as workerDrain from "./0007-worker-drain.js";
import * as leader from "./0008-leader.js";
import * as projectQuotas from "./0009-project-quotas.js";
import * as arraysAndDependencies from "./0010-arrays-and-dependencies.js";
import * as history from "./0011-history.js";
import * as arrayQueuedEvents from "./0012-array-queued-events.js";
import * as leanTaskHistory from "./0013-lean-task-history.js";
import * as lazyArrayElements from "./0014-lazy-array-elements.js";
import * as batchChecks from "./0015-batch-checks.js";
import * as heapOnlyTaskUpdates from "./0016-heap-only-task-updates.js";
import * as derivedRunEvents from "./0017-derived-run-events.js";
import * as positionalDecisionsAndResults from "./0018-positional-decisions-and-results.js";

interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const MIGRATIONS: readonly Migration[] = [
  initialSchema,
  learningAndMisses,
  taskTraceParent,
  failureAccounting,
  apiTokens,
  idempotencyPerProject,
  workerDrain,
  leader,
  projectQuotas,
  arraysAndDependencies,
  history,
  arrayQueuedEvents,
  leanTaskHistory,
  lazyArrayElements,
  batchChecks,
  heapOnlyTaskUpdates,
  derivedRunEvents,
  positionalDecisionsAndResults,
];

export const MIGRATIONS_TABLE = "taskgrid_migrations";

const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration,
};

/** Brings the schema up to date; a no-op when it already is. */
export async function migrateToLatest(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource, tableName: MIGRATIONS_TABLE });
}
