// Unique id prefixes (issue 17): GetTask, WatchTasks and the control calls take a unique prefix of at
// least 8 characters; an ambiguous one is INVALID_ARGUMENT naming matches, none NOT_FOUND, and
// another project's task never matches. Real master, real gRPC, the CLI in-process.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolveTaskId } from "../../master/services/task-id-prefix.js";
import { ClientError, createClient, type TaskgridClient } from "../../src/client/index.js";
import { OPEN_ACCESS, type Caller } from "../../src/core/access.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { runCli } from "../helpers/run-cli.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
let client: TaskgridClient;

test.before(async () => {
  tm = await startTestMaster();
  client = createClient(tm.address);
});

test.after(async () => {
  client.close();
  await tm.cleanup();
});

const cli = (...argv: string[]) => runCli(argv, { TASKGRID_MASTER: tm.address });

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/** Two tasks whose ids share at least 8 characters (UUIDv7: the same 65 s of time), the first in `projectA`. */
async function twoNeighbours(projectA: string, projectB: string): Promise<{ a: string; b: string; shared: string }> {
  for (;;) {
    const a = (await client.submitTask({ command: ["true"], project: projectA })).task.id;
    const b = (await client.submitTask({ command: ["true"], project: projectB })).task.id;
    const shared = commonPrefix(a, b);
    if (shared.length >= 8) return { a, b, shared };
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof ClientError ? err.codeName : String(err);
}

test("get, cancel, pause and watch take a unique prefix; the answer carries the full id", async () => {
  const { a, b } = await twoNeighbours("pfx", "pfx");
  const uniqueA = a.slice(0, commonPrefix(a, b).length + 1);
  const prefixA = uniqueA.length >= 8 ? uniqueA : a.slice(0, 8);
  if (commonPrefix(prefixA, b) === prefixA) throw new Error("test setup: prefix not unique");

  assert.is((await client.getTask(prefixA)).id, a);
  const got = await cli("get", prefixA);
  assert.is(got.code, 0, got.err);
  assert.match(got.out, new RegExp(`Task:\\s+${a}`));

  // Watch by prefix: the CLI waits for the full id's terminal event (cancel it from another call).
  const watching = cli("watch", prefixA);
  const canceled = await cli("cancel", prefixA);
  assert.is(canceled.code, 0, canceled.err);
  assert.is(canceled.out, `task ${a} CANCELED\n`);
  const watched = await watching;
  assert.is(watched.code, 0, watched.err);
  assert.match(watched.out, new RegExp(`task ${a} CANCELED`));
  assert.is((await client.getTask(b)).state, TaskState.TASK_STATE_QUEUED, "the neighbour is untouched");

  // pause needs a running task: a QUEUED one answers FAILED_PRECONDITION, i.e. the prefix was resolved.
  assert.is(await codeOf(client.pauseTask(b.slice(0, prefixA.length + 4))), "FAILED_PRECONDITION");
});

test("an ambiguous prefix is INVALID_ARGUMENT naming the matches; an unknown one NOT_FOUND; short ones are not prefixes", async () => {
  const { a, shared } = await twoNeighbours("amb", "amb");
  const err = (await client.getTask(shared).catch((e: unknown) => e)) as ClientError;
  assert.is(err.codeName, "INVALID_ARGUMENT");
  assert.match(err.details, `task_id: ambiguous id prefix ${shared}: matches `);
  // Earlier tests' tasks may share the prefix too: at most 3 are named, each a real match.
  const named = err.details
    .split(": matches ")[1]
    .split(", ")
    .filter((id) => id !== "...");
  assert.ok(named.length >= 2 && named.length <= 3, err.details);
  assert.ok(named.every((id) => id.startsWith(shared)) && (named.includes(a) || named.length === 3), err.details);
  assert.is(await codeOf(client.cancelTask(shared)), "INVALID_ARGUMENT");
  assert.is(await codeOf(client.getTask("ffffffff-ff")), "NOT_FOUND");
  assert.is(await codeOf(client.getTask(a.slice(0, 7))), "NOT_FOUND", "7 characters are too few to be a prefix");
  const cliErr = await cli("get", shared);
  assert.is(cliErr.code, 1);
  assert.match(cliErr.err, /ambiguous id prefix/);
});

test("another project's task never matches a prefix, nor makes it ambiguous", async () => {
  const { a, b, shared } = await twoNeighbours("mine", "theirs");
  const mine: Caller = { ...OPEN_ACCESS, role: "viewer", project: "mine" };
  const theirs: Caller = { ...OPEN_ACCESS, role: "viewer", project: "theirs" };
  assert.is(await resolveTaskId(tm.master.store, shared, mine), a);
  assert.is(await resolveTaskId(tm.master.store, shared, theirs), b);
  const other: Caller = { ...OPEN_ACCESS, role: "viewer", project: "nobody" };
  const err = await resolveTaskId(tm.master.store, shared, other).catch((e: unknown) => e);
  assert.is((err as { kind?: string }).kind, "not_found");
  // The store query itself, with and without a project filter.
  assert.equal(await tm.master.store.findTaskIdsByPrefix(shared, ["mine"], 10), [a]);
  assert.equal((await tm.master.store.findTaskIdsByPrefix(shared, ["mine", "theirs"], 10)).sort(), [a, b].sort());
  const all = await tm.master.store.findTaskIdsByPrefix(shared, null, 100);
  assert.ok(all.includes(a) && all.includes(b) && all.every((id) => id.startsWith(shared)), "no project filter: every match");
  assert.equal(await tm.master.store.findTaskIdsByPrefix(shared, [], 10), []);
});

test.run();
