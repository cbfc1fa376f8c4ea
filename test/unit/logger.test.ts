// The shared logger: JSON lines for machines, text for a terminal, level filtering, ids first.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatJsonLine, formatTextLine } from "../../src/telemetry/log-format.js";
import { createLogger, resolveLogStyle, type LogStream } from "../../src/telemetry/logger.js";

// Built from local fields, so the text line (local wall-clock time) reads the same in any time zone.
const AT = new Date(2025, 0, 2, 15, 4, 5, 123);
const fixedNow = () => AT.getTime();

function fakeStream(isTTY: boolean, colours = false): LogStream & { text: string } {
  const s = { text: "", isTTY, hasColors: () => colours, write: (t: string) => void (s.text += t) };
  return s;
}

test("text line: local time, padded level, message, ids first in a fixed order, then the rest", () => {
  const line = formatTextLine({
    level: "info",
    time: AT,
    message: "attempt finished",
    fields: { outcome: "SUCCEEDED", worker: "w1", exitCode: 0, task: "t-1", attempt: "a-1" },
  });
  assert.is(line, "15:04:05.123 INFO  attempt finished task=t-1 attempt=a-1 worker=w1 outcome=SUCCEEDED exitCode=0");
});

test("text line: values that would not split cleanly are quoted; objects are JSON; undefined is left out", () => {
  const line = formatTextLine({
    level: "error",
    time: AT,
    message: "m",
    fields: { error: "boom: it broke", empty: "", eq: "a=b", obj: { a: 1 }, list: [1, 2], gone: undefined, none: null, err: new Error("bad") },
  });
  assert.is(line, '15:04:05.123 ERROR m error="boom: it broke" empty="" eq="a=b" obj={"a":1} list=[1,2] none=null err="bad"');
});

test("text line with colour wraps time, level and keys in ANSI codes, and nothing else changes", () => {
  const entry = { level: "warn" as const, time: AT, message: "m", fields: { worker: "w1" } };
  const coloured = formatTextLine(entry, true);
  assert.match(coloured, /\x1b\[33mWARN /);
  assert.is(coloured.replace(/\x1b\[[0-9;]*m/g, ""), formatTextLine(entry, false));
});

test("JSON line: level, ISO UTC time, message, then fields", () => {
  const parsed = JSON.parse(formatJsonLine({ level: "debug", time: AT, message: "m", fields: { task: "t-1" } }));
  assert.equal(parsed, { level: "debug", time: AT.toISOString(), message: "m", task: "t-1" });
});

test("style: text on a terminal, JSON when piped or when a write callback is given; overrides win", () => {
  assert.equal(resolveLogStyle({ stream: fakeStream(true, true) }), { format: "text", colour: true });
  assert.equal(resolveLogStyle({ stream: fakeStream(true, false) }), { format: "text", colour: false });
  assert.equal(resolveLogStyle({ stream: fakeStream(false, true) }), { format: "json", colour: false });
  assert.equal(resolveLogStyle({ stream: fakeStream(true, true), write: () => {} }), { format: "json", colour: false });
  assert.equal(resolveLogStyle({ stream: fakeStream(true, true), format: "json" }), { format: "json", colour: false });
  assert.equal(resolveLogStyle({ stream: fakeStream(false), format: "text" }), { format: "text", colour: false });
  assert.equal(resolveLogStyle({ write: () => {}, format: "text", colour: true }), { format: "text", colour: true });
});

test("logger on a terminal stream writes text lines; on a pipe, JSON lines", () => {
  const tty = fakeStream(true);
  createLogger({ stream: tty, now: fixedNow }).info("worker registered", { worker: "w1" });
  assert.is(tty.text, "15:04:05.123 INFO  worker registered worker=w1\n");
  const pipe = fakeStream(false);
  createLogger({ stream: pipe, now: fixedNow }).info("worker registered", { worker: "w1" });
  assert.equal(JSON.parse(pipe.text), { level: "info", time: AT.toISOString(), message: "worker registered", worker: "w1" });
});

test("level filtering: entries below the level are dropped", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "warn", write: (l) => lines.push(l), now: fixedNow });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.equal(
    lines.map((l) => JSON.parse(l).level),
    ["warn", "error"],
  );
  const all: string[] = [];
  const debug = createLogger({ level: "debug", write: (l) => all.push(l) });
  debug.debug("d");
  assert.is(all.length, 1);
  const quiet: string[] = [];
  createLogger({ write: (l) => quiet.push(l) }).debug("dropped at the default level (info)");
  assert.is(quiet.length, 0);
});

test("base fields (the agent's worker id) appear on every entry; ids render in text", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "text", write: (l) => lines.push(l), now: fixedNow, fields: { worker: "gpu-7" } });
  log.info("attempt finished", { attempt: "a-9", task: "t-3" });
  assert.is(lines[0], "15:04:05.123 INFO  attempt finished task=t-3 attempt=a-9 worker=gpu-7");
});

test("a throwing sink does not throw into the caller", () => {
  const log = createLogger({
    write: () => {
      throw new Error("EPIPE");
    },
  });
  log.error("still fine");
});

test.run();
