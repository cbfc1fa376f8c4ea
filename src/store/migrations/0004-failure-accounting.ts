// Failure accounting: a task's own failures (against max_retries) and its infrastructure requeues
// (against max_requeues) are counted apart, and a task waiting out a retry backoff carries the time
// it may be placed again, so a master restart keeps both budgets and the backoff.
import type { Knex } from "knex";

export const name = "0004-failure-accounting";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks
    ADD COLUMN retries_used integer NOT NULL DEFAULT 0,
    ADD COLUMN requeues integer NOT NULL DEFAULT 0,
    ADD COLUMN not_before_ms bigint`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks DROP COLUMN retries_used, DROP COLUMN requeues, DROP COLUMN not_before_ms`);
}
