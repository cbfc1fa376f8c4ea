// The checks of a group-commit batch made by the database (issue 18, src/store/write-script.ts): a
// batch's statements and its COMMIT go in one round trip, so a statement that must touch every row
// it names, or the leadership fence, is wrapped to call taskgrid_expect(condition). A false (or
// NULL) condition raises SQLSTATE TG001, which aborts the transaction before COMMIT; the master
// then reruns the batch with the checks made in the master, to report which one failed.
import type { Knex } from "knex";

export const name = "0015-batch-checks";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION taskgrid_expect(ok boolean) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
      IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'a check of a taskgrid write batch failed' USING ERRCODE = 'TG001';
      END IF;
      RETURN true;
    END
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP FUNCTION IF EXISTS taskgrid_expect(boolean)`);
}
