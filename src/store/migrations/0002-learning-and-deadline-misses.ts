// Learning keeps success/failure counts (a Beta prior needs both, a rate alone loses the sample
// size), and deadline misses are counted per task and per worker (DESIGN §3 "Deadlines / SLA").
import type { Knex } from "knex";

export const name = "0002-learning-and-deadline-misses";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE learning_stats
      ADD COLUMN successes double precision NOT NULL DEFAULT 0,
      ADD COLUMN failures  double precision NOT NULL DEFAULT 0`);
  await knex.raw(`ALTER TABLE tasks ADD COLUMN deadline_missed boolean NOT NULL DEFAULT false`);
  await knex.raw(`ALTER TABLE workers ADD COLUMN deadline_misses integer NOT NULL DEFAULT 0`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE workers DROP COLUMN deadline_misses`);
  await knex.raw(`ALTER TABLE tasks DROP COLUMN deadline_missed`);
  await knex.raw(`ALTER TABLE learning_stats DROP COLUMN successes, DROP COLUMN failures`);
}
