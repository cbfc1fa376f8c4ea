// Job arrays submit faster (issue 17): an array's elements beyond its first store no QUEUED event
// row (100,000 event rows, each checked against its task by the foreign key, were half the submit's
// time). Such an element carries who submitted it instead, and its QUEUED event is derived from its
// row when its history is read (events-sql.ts). NULL: every event of the task is stored.
import type { Knex } from "knex";

export const name = "0012-array-queued-events";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks ADD COLUMN queued_by text`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks DROP COLUMN queued_by`);
}
