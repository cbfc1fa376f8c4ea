// Leadership of several masters on one database (DESIGN §9): one row that says which master
// process leads, in which epoch, and until when its lease runs. The epoch only grows: every new
// leader takes the next one, and every write transaction of a leader first checks (FOR KEY SHARE since issue 17; a claim locks the row FOR UPDATE) that
// the row still carries its epoch, so a deposed leader cannot commit anything (leader-sql.ts).
// The row exists from the start (epoch 0, nobody) so that claiming is always an UPDATE.
import type { Knex } from "knex";

export const name = "0008-leader";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE leader (
    id smallint PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL,
    holder text NOT NULL,
    address text NOT NULL,
    acquired_at_ms bigint NOT NULL,
    renewed_at_ms bigint NOT NULL,
    lease_ms bigint NOT NULL
  )`);
  await knex.raw(`INSERT INTO leader (id, epoch, holder, address, acquired_at_ms, renewed_at_ms, lease_ms) VALUES (1, 0, '', '', 0, 0, 0)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE leader`);
}
