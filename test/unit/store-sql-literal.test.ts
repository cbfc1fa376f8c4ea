// A batch statement's two forms (src/store/batch-statement.ts): inline, its json parameter as a
// literal exactly as pg's escapeLiteral (libpq's rules) writes it; parameterized, the same text with
// $1 (and $2 for its check's number) under a name that is the same for the same text.
import { test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import { batchStatement, expectRows, inlineText, parameterized, sqlLiteral } from "../../src/store/batch-statement.js";

test("matches pg.escapeLiteral on quotes, backslashes and other text", () => {
  for (const text of ["", "plain", "it's", "''", "a\\b", "\\'", "x\\\\'y'", "$& $1 ? ;", "\u00e9\u4e2d\u{1F600}", JSON.stringify({ a: "q\"'\\" })]) {
    assert.is(sqlLiteral(text), pg.escapeLiteral(text), text);
  }
});

test("the inline form replaces the one placeholder and reads no $ patterns in the data", () => {
  const s = batchStatement("SELECT ?::json", "$&$'$`");
  assert.is(inlineText(s, false), "SELECT '$&$''$`'::json");
});

test("a check made by the database wraps the statement, its number inline or as the next parameter", () => {
  const s = batchStatement(
    "UPDATE t SET x = 1 FROM json_to_recordset(?::json) AS r(id text) RETURNING id",
    "[]",
    expectRows(3, () => undefined),
  );
  assert.is(
    inlineText(s, true),
    "WITH checked AS (UPDATE t SET x = 1 FROM json_to_recordset('[]'::json) AS r(id text) RETURNING id) SELECT taskgrid_expect(count(*) = 3) FROM checked",
  );
  assert.is(inlineText(s, false), "UPDATE t SET x = 1 FROM json_to_recordset('[]'::json) AS r(id text) RETURNING id");
  const q = parameterized(s, true);
  assert.is(
    q.text,
    "WITH checked AS (UPDATE t SET x = 1 FROM json_to_recordset($1::json) AS r(id text) RETURNING id) SELECT taskgrid_expect(count(*) = $2) FROM checked",
  );
  assert.equal(q.values, ["[]", 3]);
  const unchecked = parameterized(s, false);
  assert.is(unchecked.text, "UPDATE t SET x = 1 FROM json_to_recordset($1::json) AS r(id text) RETURNING id");
  assert.equal(unchecked.values, ["[]"]);
  assert.is.not(unchecked.name, q.name);
});

test("the same text keeps its name whatever the data; a statement without json has no parameter", () => {
  const a = parameterized(batchStatement("SELECT ?::json AS j", '{"a":1}'), false);
  const b = parameterized(batchStatement("SELECT ?::json AS j", "$1 '"), false);
  assert.ok(a.name?.startsWith("taskgrid_"));
  assert.is(a.name, b.name);
  assert.equal(b.values, ["$1 '"]);
  const fence = parameterized(
    { sql: "SELECT 1 AS one", check: { verify: () => undefined, condition: { sql: "count(*) FILTER (WHERE one = ?) = 1", value: 7.9 } } },
    true,
  );
  assert.is(fence.text, "WITH checked AS (SELECT 1 AS one) SELECT taskgrid_expect(count(*) FILTER (WHERE one = $1) = 1) FROM checked");
  assert.equal(fence.values, [7]);
});

test.run();
