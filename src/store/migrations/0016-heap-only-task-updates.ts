// A task row's updates while it is active become heap-only (issue 18). Two partial indexes named its
// state and its updated_at_ms (active tasks by state; ended tasks by updated_at_ms), so every change
// of state, and every progress report, changed an indexed column: Postgres wrote a new entry in
// each of the table's indexes (five) for every assignment, start and progress. Both now read one
// generated column that stays NULL for the task's whole active life: `ended_at_ms`, the row's
// updated_at_ms once its state is final. An update that leaves it NULL touches no indexed column,
// so on the same page (fillfactor 60, migration 0013) it writes no index entry at all; only the
// update that ends the task does. The store's queries name `ended_at_ms IS [NOT] NULL` so that the
// planner matches the partial indexes (tasks-sql.ts ACTIVE_TASK_CONDITION, history-sql.ts).
//
// Heap-only also needs room on the row's page for the new version, and a row is updated two or three
// times within a second of its insert, before pruning can reclaim the old versions: with fillfactor
// 80 (0013) only 38% of the attempts' updates (start, end with its result) were heap-only, each
// other one adding two index entries and a whole new row to the WAL. At 50, measured in the
// end-to-end bench: every attempt update and two thirds of the task updates (all but the end) are
// heap-only, WAL per task 6.0-6.1 -> 4.4 KiB. The price is pages: new rows fill half of each.
import type { Knex } from "knex";

export const name = "0016-heap-only-task-updates";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks ADD COLUMN ended_at_ms bigint
    GENERATED ALWAYS AS (CASE WHEN state IN ('SUCCEEDED','FAILED','CANCELED') THEN updated_at_ms END) STORED`);
  await knex.raw(`CREATE INDEX tasks_active_idx ON tasks (created_at_ms, id) WHERE ended_at_ms IS NULL`);
  await knex.raw(`CREATE INDEX tasks_ended_at_idx ON tasks (ended_at_ms DESC, id DESC) WHERE ended_at_ms IS NOT NULL`);
  await knex.raw(`DROP INDEX tasks_active_state_idx`);
  await knex.raw(`DROP INDEX tasks_ended_idx`);
  await knex.raw(`ALTER TABLE attempts SET (fillfactor = 50)`);
  await knex.raw(`ALTER TABLE tasks SET (fillfactor = 50)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE attempts SET (fillfactor = 80)`);
  await knex.raw(`ALTER TABLE tasks SET (fillfactor = 60)`);
  await knex.raw(`CREATE INDEX tasks_active_state_idx ON tasks (state) WHERE state IN ('QUEUED','ASSIGNED','RUNNING','PAUSED')`);
  await knex.raw(`CREATE INDEX tasks_ended_idx ON tasks (updated_at_ms DESC, id DESC) WHERE state IN ('SUCCEEDED','FAILED','CANCELED')`);
  await knex.raw(`DROP INDEX tasks_active_idx`);
  await knex.raw(`DROP INDEX tasks_ended_at_idx`);
  await knex.raw(`ALTER TABLE tasks DROP COLUMN ended_at_ms`);
}
