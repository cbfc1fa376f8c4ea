// The agent's log files (issue 17): separate stdout and stderr files per attempt, the per-attempt
// cap and its marker line, the per-agent cap removing the oldest ended attempts first (and a later
// read saying so), and reads from an offset, of a tail, and following a log as it grows. Real
// files and real child processes; tests wait on chunks and events, never on fixed sleeps.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Executor } from "../../agent/executor.js";
import { cutMarker, LogFiles } from "../../agent/log-files.js";
import { LOG_CHUNK_BYTES, LOG_READ_WINDOW, LogRead } from "../../agent/log-reader.js";
import { LogServer } from "../../agent/log-server.js";
import { LogStream } from "../../src/gen/taskgrid/v1/logs.js";
import type { LogChunk, ReadLog } from "../../src/gen/taskgrid/v1/worker_service.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";

const dirs: string[] = [];
function tempRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-log-test-"));
  dirs.push(dir);
  return dir;
}
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The chunks of one read, with a way to wait for the next ones. */
class Chunks {
  readonly all: LogChunk[] = [];
  private waiters: Array<() => void> = [];
  readonly send = (chunk: LogChunk) => {
    this.all.push(chunk);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  };
  text(stream?: LogStream): string {
    return Buffer.concat(this.all.filter((c) => stream === undefined || c.stream === stream).map((c) => c.data)).toString();
  }
  get ended(): LogChunk | undefined {
    return this.all.find((c) => c.eof);
  }
  async until(pred: () => boolean): Promise<void> {
    while (!pred()) await new Promise<void>((r) => this.waiters.push(r));
  }
}

function readRequest(attemptId: string, extra: Partial<ReadLog> = {}): ReadLog {
  return { requestId: `r-${attemptId}`, attemptId, stream: LogStream.LOG_STREAM_STDOUT, offset: 0, tailBytes: 0, tailLines: 0, follow: false, ...extra };
}

async function readAll(files: LogFiles, attemptId: string, extra: Partial<ReadLog> = {}): Promise<Chunks> {
  const chunks = new Chunks();
  await new LogRead(files, readRequest(attemptId, extra), chunks.send, 5).run();
  return chunks;
}

test("the executor writes stdout and stderr to separate files and reports where they are", async () => {
  const root = tempRoot();
  const executor = new Executor({ maxTasks: 1, logRoot: root, workerId: "w1" });
  const result = await executor.run({ attemptId: "att-1", taskId: "t1", command: ["sh", "-c", "echo out1; echo err1 >&2; echo out2"] });
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  const dir = join(root, "att-1");
  assert.is(result.logLocation, `w1:${dir}`);
  assert.match(result.outputTail, /out1/);
  assert.match(result.outputTail, /err1/, "the merged tail is still in the result");
  // The files are closed right after the result; the reader waits for that, like a follow does.
  const stdout = await readAll(executor.logs, "att-1", { follow: true });
  assert.is(stdout.text(), "out1\nout2\n");
  assert.is(readFileSync(join(dir, "stderr"), "utf8"), "err1\n");
  const both = await readAll(executor.logs, "att-1", { stream: LogStream.LOG_STREAM_BOTH });
  assert.is(both.text(LogStream.LOG_STREAM_STDOUT), "out1\nout2\n");
  assert.is(both.text(LogStream.LOG_STREAM_STDERR), "err1\n");
  assert.is(both.ended?.error, "");
});

test("an attempt's stream stops at its cap with a marker line, and nothing more is written", async () => {
  const files = new LogFiles({ root: tempRoot(), maxAttemptBytes: 10 });
  const log = await files.open("a");
  log.write("stdout", Buffer.from("hello world, this is long\n"));
  log.write("stdout", Buffer.from("more\n"));
  log.write("stderr", Buffer.from("0123456789")); // exactly the cap: no cut yet
  log.write("stderr", Buffer.from("\n"));
  await log.close();
  const dir = files.dirOf("a");
  assert.is(readFileSync(join(dir, "stdout"), "utf8"), `hello worl\n${cutMarker(10)}`);
  assert.is(cutMarker(10), "[taskgrid: output cut at 10 bytes]\n");
  // A cut at a line's end needs no extra newline before the marker.
  assert.is(readFileSync(join(dir, "stderr"), "utf8"), `0123456789\n${cutMarker(10)}`);
  assert.is(files.total, readFileSync(join(dir, "stdout")).length + readFileSync(join(dir, "stderr")).length);
});

test("waiting for a full file buffer many times leaves no listener behind (Node warns past 10 on one stream)", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  try {
    const files = new LogFiles({ root: tempRoot() });
    const log = await files.open("drains");
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let waits = 0;
    for (let i = 0; i < 200 && waits < 30; i++) {
      if (log.write("stdout", chunk)) continue;
      waits++;
      await log.drained("stdout");
    }
    await log.close();
    assert.is(waits, 30, "the buffer filled again and again");
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    assert.equal(warnings, []);
    assert.is(readFileSync(join(files.dirOf("drains"), "stdout")).length, files.total);
  } finally {
    process.off("warning", onWarning);
  }
});

test("the same attempt id run again (an agent restarted mid-attempt) starts its files afresh, also after another agent process left them", async () => {
  const root = tempRoot();
  const first = new LogFiles({ root });
  const log = await first.open("again");
  log.write("stdout", Buffer.from("first run\n"));
  await log.close();
  const rerun = await first.open("again");
  await rerun.close();
  assert.not.ok(existsSync(join(first.dirOf("again"), "stdout")), "the first run's file is gone; the rerun printed nothing");
  assert.is((await readAll(first, "again")).text(), "");
  assert.is(first.total, 0);
  const old = await first.open("left");
  old.write("stderr", Buffer.from("left behind\n"));
  await old.close();
  // A new agent process on the same root: the directory is there, with a stray file too.
  writeFileSync(join(first.dirOf("left"), "stray"), "x");
  const second = new LogFiles({ root });
  const again = await second.open("left");
  again.write("stdout", Buffer.from("second run\n"));
  await again.close();
  assert.is(readFileSync(join(second.dirOf("left"), "stdout"), "utf8"), "second run\n");
  assert.not.ok(existsSync(join(second.dirOf("left"), "stderr")), "the first run's stderr is gone");
  assert.not.ok(existsSync(join(second.dirOf("left"), "stray")));
  assert.is(second.total, "second run\n".length);
});

test("an attempt that prints nothing leaves no files, reads as empty, and a follow picks up a file made later", async () => {
  const root = tempRoot();
  const executor = new Executor({ maxTasks: 1, logRoot: root });
  const silent = await executor.run({ attemptId: "silent", taskId: "t", command: ["true"] });
  assert.is(silent.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.not.ok(existsSync(join(root, "silent")), "no directory for an attempt without output");
  const both = await readAll(executor.logs, "silent", { stream: LogStream.LOG_STREAM_BOTH, follow: true });
  assert.is(both.text(), "");
  assert.equal(
    both.all.filter((c) => !c.eof).map((c) => [c.stream, c.offset, c.data.length]),
    [
      [LogStream.LOG_STREAM_STDOUT, 0, 0],
      [LogStream.LOG_STREAM_STDERR, 0, 0],
    ],
  );
  assert.is(both.ended?.error, "");
  executor.close();
  // A follow that starts before the first byte: it ends with what came later.
  const files = new LogFiles({ root });
  const log = await files.open("late");
  const chunks = new Chunks();
  const reading = new LogRead(files, readRequest("late", { follow: true, stream: LogStream.LOG_STREAM_STDERR }), chunks.send, 5).run();
  await chunks.until(() => chunks.all.length > 0);
  log.write("stderr", Buffer.from("late line\n"));
  await chunks.until(() => chunks.text() === "late line\n");
  await log.close();
  await reading;
  assert.is(chunks.ended?.error, "");
  assert.not.ok(existsSync(join(files.dirOf("late"), "stdout")), "only the stream that was written has a file");
});

test("the per-agent cap removes the oldest ended attempts first, never a running one, and a read says so", async () => {
  const root = tempRoot();
  const files = new LogFiles({ root, maxTotalBytes: 100 });
  const write = async (id: string, bytes: number, close = true) => {
    const log = await files.open(id);
    log.write("stdout", Buffer.alloc(bytes, "x"));
    if (close) await log.close();
    return log;
  };
  const running = await write("running", 10, false); // opened first: the oldest, but still written
  await write("old", 50);
  await write("middle", 30);
  assert.is(files.total, 90);
  await write("new", 20); // 110 > 100: "old" goes (not "running")
  await files.settled();
  assert.is(files.state("old"), "purged");
  assert.is(files.state("running"), "writing");
  assert.is(files.state("middle"), "ended");
  assert.is(files.state("new"), "ended");
  assert.is(files.total, 60);
  const gone = await readAll(files, "old");
  assert.is(gone.all.length, 1);
  assert.ok(gone.ended?.gone);
  assert.match(gone.ended!.error, /the log of attempt old was removed: this agent keeps at most 100 bytes of logs/);
  const unknown = await readAll(files, "never");
  assert.ok(unknown.ended?.gone);
  assert.match(unknown.ended!.error, /this agent has no log of attempt never/);
  await running.close();

  // A restarted agent finds the files, and remembers which attempts' logs were removed.
  const again = new LogFiles({ root, maxTotalBytes: 100 });
  await again.init();
  assert.is(again.state("old"), "purged");
  assert.is(again.state("middle"), "ended");
  assert.is(again.total, 60);
  assert.is((await readAll(again, "middle")).text(), "x".repeat(30));
});

test("reads from an offset, of the last bytes, and of the last lines", async () => {
  const files = new LogFiles({ root: tempRoot() });
  const log = await files.open("a");
  log.write("stdout", Buffer.from("one\ntwo\nthree\nfour\n"));
  await log.close();
  assert.is((await readAll(files, "a", { offset: 4 })).text(), "two\nthree\nfour\n");
  assert.is((await readAll(files, "a", { tailBytes: 5 })).text(), "four\n");
  assert.is((await readAll(files, "a", { tailLines: 2 })).text(), "three\nfour\n");
  assert.is((await readAll(files, "a", { tailLines: 10 })).text(), "one\ntwo\nthree\nfour\n");
  const noFinalNewline = await files.open("b");
  noFinalNewline.write("stdout", Buffer.from("one\ntwo\nthree"));
  await noFinalNewline.close();
  assert.is((await readAll(files, "b", { tailLines: 1 })).text(), "three");
  // Lines longer than one read block are counted across blocks.
  const long = await files.open("c");
  const big = "y".repeat(LOG_CHUNK_BYTES + 10);
  long.write("stdout", Buffer.from(`first\n${big}\nlast\n`));
  await long.close();
  assert.is((await readAll(files, "c", { tailLines: 2 })).text(), `${big}\nlast\n`);
});

test("every chunk says where its data starts; a resumed read starts each file at its own offset", async () => {
  const files = new LogFiles({ root: tempRoot() });
  const log = await files.open("r");
  log.write("stdout", Buffer.from("one\ntwo\nthree\n"));
  log.write("stderr", Buffer.from("warn 1\nwarn 2\n"));
  await log.close();
  const both = { stream: LogStream.LOG_STREAM_BOTH };
  // A tail: the first chunks (empty, one per file) give where each file's read starts.
  const tail = await readAll(files, "r", { ...both, tailLines: 1 });
  const starts = tail.all.filter((c) => !c.eof && c.data.length === 0).map((c) => [c.stream, c.offset]);
  assert.equal(starts, [
    [LogStream.LOG_STREAM_STDOUT, 8],
    [LogStream.LOG_STREAM_STDERR, 7],
  ]);
  const data = tail.all.filter((c) => c.data.length > 0).map((c) => [c.stream, c.offset, c.data.toString()]);
  assert.equal(data, [
    [LogStream.LOG_STREAM_STDOUT, 8, "three\n"],
    [LogStream.LOG_STREAM_STDERR, 7, "warn 2\n"],
  ]);
  // Resumed: stdout from byte 4, stderr from byte 7 (offsets win over the single offset).
  const resumed = await readAll(files, "r", { ...both, offset: 1, offsets: { stdout: 4, stderr: 7 } });
  assert.is(resumed.text(LogStream.LOG_STREAM_STDOUT), "two\nthree\n");
  assert.is(resumed.text(LogStream.LOG_STREAM_STDERR), "warn 2\n");
  assert.equal(
    resumed.all.filter((c) => c.data.length > 0).map((c) => c.offset),
    [4, 7],
  );
});

test("a follow sends each line as it is written and ends once the attempt's log has ended", async () => {
  const files = new LogFiles({ root: tempRoot() });
  const log = await files.open("f");
  const chunks = new Chunks();
  const read = new LogRead(files, readRequest("f", { follow: true, stream: LogStream.LOG_STREAM_BOTH }), chunks.send, 5);
  const done = read.run();
  await chunks.until(() => chunks.all.length >= 1); // the first (empty) chunk comes at once
  assert.is(chunks.all[0].data.length, 0);
  log.write("stdout", Buffer.from("line 1\n"));
  await chunks.until(() => chunks.text().includes("line 1\n"));
  log.write("stderr", Buffer.from("warn 1\n"));
  await chunks.until(() => chunks.text(LogStream.LOG_STREAM_STDERR) === "warn 1\n");
  log.write("stdout", Buffer.from("line 2\n"));
  await chunks.until(() => chunks.text(LogStream.LOG_STREAM_STDOUT) === "line 1\nline 2\n");
  assert.is(chunks.ended, undefined, "no eof while the attempt runs");
  log.write("stdout", Buffer.from("last\n"));
  await log.close();
  await done;
  assert.is(chunks.text(LogStream.LOG_STREAM_STDOUT), "line 1\nline 2\nlast\n");
  assert.ok(chunks.ended);
  assert.is(chunks.ended!.error, "");
  assert.is(chunks.all.filter((c) => c.eof).length, 1);
});

test("a read sends at most its window ahead of the master's credit; cancel stops it", async () => {
  const files = new LogFiles({ root: tempRoot() });
  const log = await files.open("big");
  const chunkCount = LOG_READ_WINDOW * 2;
  log.write("stdout", Buffer.alloc(LOG_CHUNK_BYTES * chunkCount, "z"));
  await log.close();
  const server = new LogServer(files, (msg, err) => assert.unreachable(`${msg}: ${err}`), 5);
  const chunks = new Chunks();
  server.read(readRequest("big"), chunks.send);
  await chunks.until(() => chunks.all.length === LOG_READ_WINDOW);
  // The window is full: nothing more comes until the master grants credit. (Checked again after
  // the reader had every chance to go on: the credit wait is an await on a promise only credit resolves.)
  await new Promise<void>((r) => setImmediate(r));
  assert.is(chunks.all.length, LOG_READ_WINDOW);
  server.credit({ requestId: "r-big", chunks: 4 });
  await chunks.until(() => chunks.all.length === LOG_READ_WINDOW + 4);
  server.credit({ requestId: "r-big", chunks: 1000 });
  await chunks.until(() => chunks.ended !== undefined);
  assert.is(chunks.text().length, LOG_CHUNK_BYTES * chunkCount);
  assert.ok(chunks.all.every((c) => c.data.length <= LOG_CHUNK_BYTES));

  const follow = new Chunks();
  const running = await files.open("running");
  server.read(readRequest("running", { requestId: "r-f", follow: true }), follow.send);
  await follow.until(() => follow.all.length === 1);
  assert.is(server.open, 1);
  server.cancel({ requestId: "r-f" });
  assert.is(server.open, 0);
  running.write("stdout", Buffer.from("after cancel\n"));
  await running.close();
  assert.is(follow.all.length, 1, "a canceled read sends nothing more, not even eof");
});

test.run();
