// Idempotency keys are scoped per project: the same key in two projects names two independent
// tasks, so one tenant can neither get another's task back nor learn its id from a key conflict.
// The global unique index becomes one on (project, idempotency_key); the store's lookup matches
// the same pair (tasks-sql.ts, selectTasksByIdempotencyKeys).
import type { Knex } from "knex";

export const name = "0006-idempotency-per-project";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX tasks_idempotency_key_idx`);
  await knex.raw(`CREATE UNIQUE INDEX tasks_project_idempotency_key_idx ON tasks (project, idempotency_key)
    WHERE idempotency_key IS NOT NULL`);
}

/** Fails (and rolls back) when two projects already hold the same key: the global index cannot hold both. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX tasks_project_idempotency_key_idx`);
  await knex.raw(`CREATE UNIQUE INDEX tasks_idempotency_key_idx ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL`);
}
