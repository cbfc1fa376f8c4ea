// A leaner write per task (issue 18). Measured with pg_waldump over the end-to-end benchmark, a
// task's life wrote ~30 b-tree entries, ~9 row locks and ~6 row inserts; this cuts what adds
// nothing the rows do not already say:
// - The foreign keys from attempts and task_events to tasks go: every insert ran a trigger that
//   locked its task's row (FOR KEY SHARE: a WAL record and a dirtied page each). The master writes
//   those rows only for tasks it holds, and retention deletes a task's events and attempts with it
//   (history-sql.ts), so nothing relied on the check or the cascade.
// - An attempt records its ASSIGNED event: `assigned_by` (the actor) stands for the event row, and
//   events-sql.ts derives it from assigned_at_ms when a task's history is read, as 0012 does for a
//   task's QUEUED event, now for every task (tasks.queued_by). NULL (older rows): the event is stored.
// - Pages keep room for updates (fillfactor): an attempt's update at its start and end changes no
//   indexed column, so on the same page it is heap-only (no index entries); a task row's update
//   (its state is indexed) still adds index entries, but on the same page Postgres logs only the
//   bytes that changed (not the spec before them) and no lock record for moving the row away.
import type { Knex } from "knex";

export const name = "0013-lean-task-history";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_task_id_fkey`);
  await knex.raw(`ALTER TABLE task_events DROP CONSTRAINT IF EXISTS task_events_task_id_fkey`);
  await knex.raw(`ALTER TABLE attempts ADD COLUMN assigned_by text`);
  await knex.raw(`ALTER TABLE attempts SET (fillfactor = 80)`);
  await knex.raw(`ALTER TABLE tasks SET (fillfactor = 60)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE attempts RESET (fillfactor)`);
  await knex.raw(`ALTER TABLE tasks RESET (fillfactor)`);
  await knex.raw(`ALTER TABLE attempts DROP COLUMN assigned_by`);
  // Rows written meanwhile may name deleted tasks: those go first, as the cascade would have taken them.
  await knex.raw(`DELETE FROM task_events AS e WHERE NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.id = e.task_id)`);
  await knex.raw(`DELETE FROM attempts AS a WHERE NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.id = a.task_id)`);
  await knex.raw(`ALTER TABLE task_events ADD CONSTRAINT task_events_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE`);
  await knex.raw(`ALTER TABLE attempts ADD CONSTRAINT attempts_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE`);
}
