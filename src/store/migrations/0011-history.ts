// History and accounting (issue 17). A finished task's row stops changing once it is terminal, so
// its updated_at_ms is when it ended: this partial index serves ListHistory (newest end first,
// keyset on (updated_at_ms, id), within a time range) and the leader's retention delete (oldest
// end first), and costs nothing for active tasks, which are updated often.
import type { Knex } from "knex";

export const name = "0011-history";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX tasks_ended_idx ON tasks (updated_at_ms DESC, id DESC) WHERE state IN ('SUCCEEDED','FAILED','CANCELED')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX tasks_ended_idx`);
}
