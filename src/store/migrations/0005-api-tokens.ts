// API tokens (DESIGN §10) and the audit actor of each task event. A token row keeps only a hash of
// the secret; revocation and expiry are timestamps, so a token's history stays listable.
import type { Knex } from "knex";

export const name = "0005-api-tokens";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE api_tokens (
    id text PRIMARY KEY,
    name text NOT NULL,
    project text NOT NULL,
    role text NOT NULL,
    worker_pattern text NOT NULL DEFAULT '',
    secret_hash text NOT NULL,
    created_at_ms bigint NOT NULL,
    created_by text NOT NULL DEFAULT '',
    expires_at_ms bigint,
    last_used_at_ms bigint,
    revoked_at_ms bigint
  )`);
  await knex.raw(`ALTER TABLE task_events ADD COLUMN actor text NOT NULL DEFAULT ''`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE task_events DROP COLUMN actor`);
  await knex.raw(`DROP TABLE api_tokens`);
}
