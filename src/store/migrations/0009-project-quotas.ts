// Sharing the fleet between projects (issue 15): each project's quota (nominal, borrowing and
// lending limits per resource, as JSON objects keyed by resource name) and fair-share shares, its
// decayed usage (billing-unit seconds as of at_ms, written by the leader every few seconds so it
// survives restarts and failovers), and whether an attempt runs on borrowed quota (so it can be
// reclaimed once preemption exists).
import type { Knex } from "knex";

export const name = "0009-project-quotas";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE project_quotas (
    project text PRIMARY KEY,
    nominal jsonb NOT NULL,
    borrowing_limit jsonb NOT NULL,
    lending_limit jsonb NOT NULL,
    shares double precision NOT NULL CHECK (shares > 0),
    updated_at_ms bigint NOT NULL,
    updated_by text NOT NULL DEFAULT ''
  )`);
  await knex.raw(`CREATE TABLE project_usage (
    project text PRIMARY KEY,
    usage double precision NOT NULL CHECK (usage >= 0),
    at_ms bigint NOT NULL
  )`);
  await knex.raw(`ALTER TABLE attempts ADD COLUMN borrowed boolean NOT NULL DEFAULT false`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE attempts DROP COLUMN borrowed`);
  await knex.raw(`DROP TABLE project_usage`);
  await knex.raw(`DROP TABLE project_quotas`);
}
