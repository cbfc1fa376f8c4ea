// Attempts store their placement decision, and tasks and attempts their result, as positional
// arrays rather than keyed objects (issue 18): src/store/stored-decision.ts and stored-result.ts
// give the layouts. Rows written before keep the object form, which the store reads as well (and
// SQL reads a result's fields through stored-result.ts resultFieldSql), so `up` converts nothing.
//
// An attempt row is now ~300 bytes shorter, so a page holds more of them, and each still grows by
// its result at its end: at fillfactor 50 (0016) the pages' free half no longer held every row's
// new version, and in the write-path bench the attempts' heap-only updates fell from 1.8 to 1.6 per
// task (b-tree entries 10.3 -> 10.7). At 40 they are all heap-only again. The price, as in 0016,
// is pages: new rows fill 40% of each.
import type { Knex } from "knex";

export const name = "0018-positional-decisions-and-results";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE attempts SET (fillfactor = 40)`);
}

/** `fields` of the positional jsonb expression `value` as an object (JSON null kept; a null field left out when `optional`). */
function objectOf(value: string, fields: readonly string[], optional: readonly string[] = []): string {
  const pairs = fields.map((f, i) => `'${f}', (${value})->${i}`).join(", ");
  const object = `jsonb_build_object(${pairs})`;
  // jsonb_strip_nulls would also drop nested nulls; only the optional fields may be absent, and
  // they are scalars, so removing exactly those keys when null is the same as leaving them out.
  const stripped = optional.reduce((o, f) => `(CASE WHEN (${value})->${fields.indexOf(f)} = 'null'::jsonb THEN ${o} - '${f}' ELSE ${o} END)`, object);
  return `(CASE WHEN jsonb_typeof(${value}) = 'array' THEN ${stripped} ELSE ${value} END)`;
}

const BREAKDOWN = ["workerId", "score", "deadline", "affinity", "load", "io", "success", "penalty"];
const DECISION = ["strategy", "fallbackReason", "feasibleWorkers", "weightsVersion", "chosen", "runnerUp"];
const RESULT = ["outcome", "exitCode", "signal", "outputTail", "durationMs", "message", "logLocation", "cpuTimeMs", "maxRssKib"];
const OPTIONAL_RESULT = ["logLocation", "cpuTimeMs", "maxRssKib"];

export async function down(knex: Knex): Promise<void> {
  // Older versions read only the object forms: the decision, then its two breakdowns, then results.
  await knex.raw(`UPDATE attempts SET decision = ${objectOf("decision", DECISION)} WHERE jsonb_typeof(decision) = 'array'`);
  await knex.raw(`UPDATE attempts SET decision = jsonb_set(jsonb_set(decision,
      '{chosen}', ${objectOf("decision->'chosen'", BREAKDOWN)}), '{runnerUp}', ${objectOf("decision->'runnerUp'", BREAKDOWN)})
    WHERE jsonb_typeof(decision->'chosen') = 'array' OR jsonb_typeof(decision->'runnerUp') = 'array'`);
  for (const table of ["attempts", "tasks"]) {
    await knex.raw(`UPDATE ${table} SET result = ${objectOf("result", RESULT, OPTIONAL_RESULT)} WHERE jsonb_typeof(result) = 'array'`);
  }
  await knex.raw(`ALTER TABLE attempts SET (fillfactor = 50)`);
}
