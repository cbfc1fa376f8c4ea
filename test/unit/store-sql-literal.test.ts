// sqlLiteral must produce exactly what pg's escapeLiteral (libpq's rules) produces: the batch
// statements inline their json parameter with it (src/store/write-script.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import { batchStatement, sqlLiteral } from "../../src/store/write-script.js";

test("matches pg.escapeLiteral on quotes, backslashes and other text", () => {
  for (const text of ["", "plain", "it's", "''", "a\\b", "\\'", "x\\\\'y'", "$& $1 ? ;", "\u00e9\u4e2d\u{1F600}", JSON.stringify({ a: "q\"'\\" })]) {
    assert.is(sqlLiteral(text), pg.escapeLiteral(text), text);
  }
});

test("batchStatement replaces the one placeholder and reads no $ patterns in the data", () => {
  const s = batchStatement("SELECT ?::json", "$&$'$`");
  assert.is(s.sql, "SELECT '$&$''$`'::json");
});

test.run();
