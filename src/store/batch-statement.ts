// One statement of a group-commit batch, and the two forms it goes to the database in
// (write-script.ts sends them):
// - inline: its json parameter as an escaped string literal in the text, for a script of many
//   statements in one simple-protocol query string (PGlite, whose exec takes only that);
// - parameterized: the same text with $1 for the parameter (and $2 for its check's number), sent as
//   a named prepared statement in a pipeline (Postgres). The server then neither lexes the
//   megabytes of json as SQL nor parses and plans the statement again: its text is the same on
//   every batch, so it is parsed once per connection.

/** What a statement's returned rows must satisfy for its batch to commit. */
export interface StatementCheck {
  /** Throws the check's typed error when the rows are wrong; runs here, before COMMIT. */
  verify(rows: readonly Record<string, unknown>[]): void;
  /**
   * The same check as a SQL condition over the statement's rows (an aggregate over `checked`), so
   * the database can make it and the statement can share its round trip with COMMIT. Without one,
   * the batch commits in a trip of its own after `verify`.
   */
  condition?: CheckCondition;
}

/**
 * A condition with at most one number in it, written `?` (e.g. `count(*) = ?`): the number varies
 * from batch to batch, so it is a parameter of the prepared statement rather than part of its text.
 */
export interface CheckCondition {
  sql: string;
  value: number;
}

/** One statement of a batch. */
export interface BatchStatement {
  /** The statement; `?` where its json parameter goes, when it has one (the *-sql.ts templates use `?::json`). */
  sql: string;
  /** The json parameter (absent: `sql` has no placeholder). */
  json?: string;
  check?: StatementCheck;
}

/** The check of a statement that must return exactly `count` rows. */
export function expectRows(count: number, verify: StatementCheck["verify"]): StatementCheck {
  return { verify, condition: { sql: "count(*) = ?", value: count } };
}

/** A statement with one json parameter; `sql` holds exactly one `?`. */
export function batchStatement(sql: string, json: string, check?: StatementCheck): BatchStatement {
  return { sql, json, check };
}

/**
 * The statement, wrapped so that the database raises taskgrid_expect's SQLSTATE (migration 0015)
 * when its check fails; `param` is how the condition's number is written.
 */
function checkedInDatabase(sql: string, condition: CheckCondition, param: string): string {
  return `WITH checked AS (${sql}) SELECT taskgrid_expect(${condition.sql.replace("?", () => param)}) FROM checked`;
}

/** The condition the database makes for this statement, when it is to make one. */
function databaseCondition(statement: BatchStatement, checked: boolean): CheckCondition | undefined {
  return checked ? statement.check?.condition : undefined;
}

/**
 * The inline form: the json parameter as a literal (the replacement is a function so that `$`
 * sequences in the data are never read as patterns), and, when `checked`, the check made by the
 * database.
 */
export function inlineText(statement: BatchStatement, checked: boolean): string {
  const { json } = statement;
  const sql = json === undefined ? statement.sql : statement.sql.replace("?", () => sqlLiteral(json));
  const condition = databaseCondition(statement, checked);
  return condition === undefined ? sql : checkedInDatabase(sql, condition, String(Math.trunc(condition.value)));
}

/** A statement as pg's query config: named, so each connection parses and plans it once. */
export interface ParameterizedQuery {
  name: string | undefined;
  text: string;
  values: Array<string | number>;
}

/** The parameterized form (see the top of the file). */
export function parameterized(statement: BatchStatement, checked: boolean): ParameterizedQuery {
  const values: Array<string | number> = [];
  let sql = statement.sql;
  if (statement.json !== undefined) {
    values.push(statement.json);
    sql = sql.replace("?", () => "$1");
  }
  const condition = databaseCondition(statement, checked);
  if (condition !== undefined) {
    values.push(Math.trunc(condition.value));
    sql = checkedInDatabase(sql, condition, `$${values.length}`);
  }
  return { name: statementName(sql), text: sql, values };
}

/**
 * Names of the statement texts seen so far. The texts are the *-sql.ts templates (a few dozen); past
 * MAX_NAMED a text goes unnamed (parsed each time) rather than growing every connection's cache.
 */
const names = new Map<string, string>();
const MAX_NAMED = 512;

function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED) {
    name = `taskgrid_${names.size}`;
    names.set(text, name);
  }
  return name;
}

/**
 * The same text as pg's escapeLiteral (libpq's rules: quotes doubled; with a backslash, an E''
 * string with backslashes doubled, so the result does not depend on standard_conforming_strings),
 * but with two native replaces: pg's character loop costs ~25x more on a batch's megabytes of json.
 */
export function sqlLiteral(text: string): string {
  const quoted = `'${text.replace(/'/g, "''")}'`;
  return text.includes("\\") ? ` E${quoted.replace(/\\/g, "\\\\")}` : quoted;
}
