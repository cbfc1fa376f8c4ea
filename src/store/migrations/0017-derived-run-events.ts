// Two more of a task's events are recorded by the rows they change rather than stored (issue 18),
// as its QUEUED (0012/0013) and ASSIGNED (0013) events already are. Measured with pg_waldump over the
// end-to-end benchmark, a task's life then still inserted two task_events rows (its RUNNING event
// and the one that ended it), each a heap tuple and two b-tree entries (the serial key and
// (task_id, id)), and the master serialised both as JSON, on the hottest path of all.
// - `attempts.running_by`, `attempts.running_at_ms`: the actor and master time of the attempt's
//   RUNNING event, written by the update that records the attempt's start (heap-only). The event's
//   other fields are the attempt's (id, worker) or fixed (progress 0, no message), so the master
//   records it this way only when the task has no progress yet; otherwise the event is stored.
// - `tasks.ended_by`: the actor of the event that ended the task, written by the update that ends
//   it (which rewrites the row anyway). The event's state, result, progress and message are the
//   row's, its time is the row's ended_at_ms and its attempt the one numbered attempt_count, which
//   holds only when the event names that attempt on its worker and carries no message of its own;
//   otherwise the event is stored.
// NULL in either column (every older row): the event is a stored row. events-sql.ts merges both kinds.
import type { Knex } from "knex";

export const name = "0017-derived-run-events";

export async function up(knex: Knex): Promise<void> {
  // Nullable, no default: a catalog change only, no table rewrite.
  await knex.raw(`ALTER TABLE attempts ADD COLUMN running_at_ms bigint, ADD COLUMN running_by text`);
  await knex.raw(`ALTER TABLE tasks ADD COLUMN ended_by text`);
}

export async function down(knex: Knex): Promise<void> {
  // The events these columns stand for become rows again before the columns go (appended: a task's
  // history then lists them after its other stored events, not in place).
  await knex.raw(`INSERT INTO task_events (task_id, state, progress, progress_message, time_ms, attempt_id, worker_id, result, actor)
    SELECT task_id, 'RUNNING', 0, '', running_at_ms, id, worker_id, NULL, running_by FROM attempts WHERE running_by IS NOT NULL
    ORDER BY running_at_ms, id`);
  await knex.raw(`INSERT INTO task_events (task_id, state, progress, progress_message, time_ms, attempt_id, worker_id, result, actor)
    SELECT t.id, t.state, t.progress, t.progress_message, t.ended_at_ms, a.id, a.worker_id, t.result, t.ended_by
    FROM tasks AS t LEFT JOIN attempts AS a ON a.task_id = t.id AND a.number = t.attempt_count
    WHERE t.ended_by IS NOT NULL ORDER BY t.ended_at_ms, t.id`);
  await knex.raw(`ALTER TABLE tasks DROP COLUMN ended_by`);
  await knex.raw(`ALTER TABLE attempts DROP COLUMN running_at_ms, DROP COLUMN running_by`);
}
