// A task's trace context (W3C `traceparent` of its submit span) lives with the task: its queue
// wait, placement and run spans may be recorded after a master restart and must join the same
// trace. NULL when tracing was off at submission.
import type { Knex } from "knex";

export const name = "0003-task-trace-parent";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks ADD COLUMN trace_parent text`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks DROP COLUMN trace_parent`);
}
