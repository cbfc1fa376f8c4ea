// Job arrays and dependencies (issue 17). An array is one id with N element tasks: each element row
// carries the array's id and its index (unique together: "ID[7]" is found by that index). A task's
// dependencies live in its spec (jsonb); the master keeps its waiting tasks' dependents in memory,
// rebuilt from the active tasks, and looks up the targets' states by id and by array id (these
// indexes).
import type { Knex } from "knex";

export const name = "0010-arrays-and-dependencies";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE tasks ADD COLUMN array_id text`);
  await knex.raw(`ALTER TABLE tasks ADD COLUMN array_index integer`);
  await knex.raw(`CREATE UNIQUE INDEX tasks_array_element_idx ON tasks (array_id, array_index) WHERE array_id IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX tasks_array_element_idx`);
  await knex.raw(`ALTER TABLE tasks DROP COLUMN array_index`);
  await knex.raw(`ALTER TABLE tasks DROP COLUMN array_id`);
}
