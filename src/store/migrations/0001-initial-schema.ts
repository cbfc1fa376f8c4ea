// The initial schema. Raw SQL rather than the schema builder: both backends are Postgres, and
// partial indexes, CHECKs and jsonb defaults read more plainly as SQL.
//
// Conventions: ids are text (UUIDv7 strings, time-ordered); times are bigint epoch milliseconds;
// nested domain objects (spec, result, decision, capacity, telemetry) are jsonb, while the fields
// the master filters or sorts on are plain columns.
import type { Knex } from "knex";

export const name = "0001-initial-schema";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE tasks (
      id                 text PRIMARY KEY,
      spec               jsonb NOT NULL,
      spec_hash          text NOT NULL,
      state              text NOT NULL CHECK (state IN ('QUEUED','ASSIGNED','RUNNING','PAUSED','SUCCEEDED','FAILED','CANCELED')),
      queue_class        text NOT NULL,
      priority           text NOT NULL,
      project            text NOT NULL,
      labels             jsonb NOT NULL DEFAULT '{}',
      progress           double precision NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 100),
      progress_message   text NOT NULL DEFAULT '',
      created_at_ms      bigint NOT NULL,
      updated_at_ms      bigint NOT NULL,
      deadline_ms        bigint,
      current_attempt_id text,
      attempt_count      integer NOT NULL DEFAULT 0,
      result             jsonb,
      -- NULL when the spec has no key (the store maps "" to NULL), so the unique index skips it.
      idempotency_key    text
    )`);
  await knex.raw(`CREATE UNIQUE INDEX tasks_idempotency_key_idx ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL`);
  // loadActive scans only live tasks; terminal ones accumulate forever and stay out of this index.
  await knex.raw(`CREATE INDEX tasks_active_state_idx ON tasks (state) WHERE state IN ('QUEUED','ASSIGNED','RUNNING','PAUSED')`);
  await knex.raw(`CREATE INDEX tasks_project_idx ON tasks (project)`);
  // Keyset pagination for listTasks: newest first, id breaks ties.
  await knex.raw(`CREATE INDEX tasks_created_idx ON tasks (created_at_ms DESC, id DESC)`);

  await knex.raw(`
    CREATE TABLE attempts (
      id             text PRIMARY KEY,
      task_id        text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      number         integer NOT NULL,
      worker_id      text NOT NULL,
      gpu_indexes    jsonb NOT NULL DEFAULT '[]',
      assigned_at_ms bigint NOT NULL,
      started_at_ms  bigint,
      finished_at_ms bigint,
      result         jsonb,
      decision       jsonb
    )`);
  await knex.raw(`CREATE INDEX attempts_task_id_idx ON attempts (task_id)`);

  await knex.raw(`
    CREATE TABLE task_events (
      id               bigserial PRIMARY KEY,
      task_id          text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      state            text NOT NULL,
      progress         double precision NOT NULL DEFAULT 0,
      progress_message text NOT NULL DEFAULT '',
      time_ms          bigint NOT NULL,
      attempt_id       text,
      worker_id        text,
      result           jsonb
    )`);
  await knex.raw(`CREATE INDEX task_events_task_id_idx ON task_events (task_id, id)`);

  await knex.raw(`
    CREATE TABLE workers (
      id               text PRIMARY KEY,
      hostname         text NOT NULL,
      tags             jsonb NOT NULL DEFAULT '[]',
      capacity         jsonb NOT NULL,
      status           text NOT NULL,
      agent_version    text NOT NULL DEFAULT '',
      registered_at_ms bigint NOT NULL,
      last_seen_at_ms  bigint NOT NULL,
      telemetry        jsonb
    )`);

  // Per (task kind, worker) learned figures for RTS; filled by a later feature.
  await knex.raw(`
    CREATE TABLE learning_stats (
      kind             text NOT NULL,
      worker_id        text NOT NULL,
      runtime_ratio    double precision NOT NULL DEFAULT 1,
      success_rate     double precision NOT NULL DEFAULT 1,
      prediction_error double precision NOT NULL DEFAULT 0,
      samples          integer NOT NULL DEFAULT 0,
      updated_at_ms    bigint NOT NULL,
      PRIMARY KEY (kind, worker_id)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS learning_stats, workers, task_events, attempts, tasks`);
}
