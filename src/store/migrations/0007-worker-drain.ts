// An operator's drain is part of the worker's row (written with the rest of it, upsert_worker), so
// a drained worker stays DRAINING across a master restart and after its agent re-registers (see
// master/worker.ts). The two columns are set together or not at all.
import type { Knex } from "knex";

export const name = "0007-worker-drain";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE workers
    ADD COLUMN drained_at_ms bigint,
    ADD COLUMN drain_reason text,
    ADD CONSTRAINT workers_drain_complete CHECK ((drained_at_ms IS NULL) = (drain_reason IS NULL))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE workers DROP CONSTRAINT workers_drain_complete, DROP COLUMN drained_at_ms, DROP COLUMN drain_reason`);
}
