// Attempts that printed nothing leave no log file (agent/log-files.ts), yet read as empty, not as
// unknown: also after the agent restarts on the same log root (agent/silent-attempts.ts keeps their
// ids in one index file), for a bounded number of them, with a line torn by a crash harmless. Real
// files; a restart is a new LogFiles on the same root.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LogFiles } from "../../agent/log-files.js";
import { LogRead } from "../../agent/log-reader.js";
import { SILENT_INDEX_FILE } from "../../agent/silent-attempts.js";
import { LogStream } from "../../src/gen/taskgrid/v1/logs.js";
import type { LogChunk } from "../../src/gen/taskgrid/v1/worker_service.js";
import { cleanUpExecutors, tempDir } from "../helpers/executor-harness.js";

test.after(cleanUpExecutors);
const tempRoot = () => tempDir("taskgrid-silent-test-");

/** Everything a read of both streams sends: the text and the error it ends with. */
async function read(files: LogFiles, attemptId: string): Promise<{ text: string; error: string | undefined }> {
  const chunks: LogChunk[] = [];
  const request = { requestId: `r-${attemptId}`, attemptId, stream: LogStream.LOG_STREAM_BOTH, offset: 0, tailBytes: 0, tailLines: 0, follow: false };
  await new LogRead(files, request, (c) => void chunks.push(c), 5).run();
  return { text: Buffer.concat(chunks.map((c) => c.data)).toString(), error: chunks.find((c) => c.eof)?.error };
}

/** Runs an attempt's log: opened, `output` written to stdout (if any), closed. */
async function run(files: LogFiles, attemptId: string, output?: string): Promise<void> {
  const log = await files.open(attemptId);
  if (output !== undefined) log.write("stdout", Buffer.from(output));
  await log.close();
}

async function restart(files: LogFiles, root: string, maxSilentRemembered?: number): Promise<LogFiles> {
  await files.dispose();
  const next = new LogFiles({ root, maxSilentRemembered });
  await next.init();
  return next;
}

test("an attempt that printed nothing reads as empty after the agent restarts; one never run does not", async () => {
  const root = tempRoot();
  let files = new LogFiles({ root });
  await run(files, "quiet");
  await run(files, "loud", "hello\n");
  files = await restart(files, root);
  assert.is(files.state("quiet"), "ended");
  assert.equal(await read(files, "quiet"), { text: "", error: "" });
  assert.equal(await read(files, "loud"), { text: "hello\n", error: "" });
  assert.is(files.state("never"), "unknown");
  assert.match((await read(files, "never")).error ?? "", /this agent has no log of attempt never/);
  await files.dispose();
});

test("a silent attempt run again with output reads its output, before and after a restart", async () => {
  const root = tempRoot();
  let files = new LogFiles({ root });
  await run(files, "again");
  await run(files, "again", "second run\n");
  assert.equal(await read(files, "again"), { text: "second run\n", error: "" });
  files = await restart(files, root);
  assert.equal(await read(files, "again"), { text: "second run\n", error: "" });
  await files.dispose();
});

test("only the newest silent attempts are remembered, and the index file stays bounded", async () => {
  const root = tempRoot();
  let files = new LogFiles({ root, maxSilentRemembered: 3 });
  const ids = Array.from({ length: 8 }, (_, i) => `s${i}`);
  for (const id of ids) await run(files, id);
  const known = () => ids.filter((id) => files.state(id) === "ended");
  assert.equal(known(), ["s5", "s6", "s7"]);
  const lines = () => readFileSync(join(root, SILENT_INDEX_FILE), "utf8").split("\n").filter(Boolean);
  assert.ok(lines().length <= 6, `index lines: ${lines().length}`);
  files = await restart(files, root, 3);
  assert.equal(known(), ["s5", "s6", "s7"]);
  await files.dispose();
});

test("a line torn by a crash is a line of its own: the ids before and after it are kept", async () => {
  const root = tempRoot();
  // An earlier agent died while appending "s-torn-whole".
  writeFileSync(join(root, SILENT_INDEX_FILE), "\ns-before\ns-torn-wh");
  let files = new LogFiles({ root });
  await files.init();
  await run(files, "s-after");
  files = await restart(files, root);
  assert.is(files.state("s-before"), "ended");
  assert.is(files.state("s-after"), "ended");
  assert.is(files.state("s-torn-whole"), "unknown");
  await files.dispose();
});

test.run();
