// Job arrays as one record each, their elements created lazily (issue 17, src/core/array-elements.ts):
// the array's template (spec, times, trace, submitter), its size, how many of its indexes have a task
// row (`created`: always the first ones, in index order) and whether it was canceled (the indexes
// without a row then count as canceled). Arrays submitted before this migration get a record with
// every element created.
import type { Knex } from "knex";

export const name = "0014-lazy-array-elements";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE task_arrays (
      array_id       text PRIMARY KEY,
      project        text NOT NULL,
      spec           jsonb NOT NULL,
      spec_hash      text NOT NULL,
      created_at_ms  bigint NOT NULL,
      deadline_ms    bigint,
      trace_parent   text,
      queued_by      text NOT NULL DEFAULT '',
      total          integer NOT NULL CHECK (total >= 1),
      created        integer NOT NULL CHECK (created >= 0 AND created <= total),
      canceled_at_ms bigint,
      cancel_reason  text NOT NULL DEFAULT ''
    )`);
  // The arrays still creating elements: what a new leader resumes.
  await knex.raw(`CREATE INDEX task_arrays_open_idx ON task_arrays (array_id) WHERE created < total AND canceled_at_ms IS NULL`);
  await knex.raw(`
    INSERT INTO task_arrays (array_id, project, spec, spec_hash, created_at_ms, deadline_ms, trace_parent, queued_by, total, created)
    SELECT DISTINCT ON (array_id) array_id, project, spec, spec_hash, created_at_ms, deadline_ms, trace_parent, coalesce(queued_by, ''),
      count(*) OVER (PARTITION BY array_id), count(*) OVER (PARTITION BY array_id)
    FROM tasks WHERE array_id IS NOT NULL
    ORDER BY array_id, array_index`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE task_arrays`);
}
