// CPU time and max RSS of attempts (agent/rusage.ts): measured by the agent's launcher
// (agent/launcher/) on real processes, and the launcher changes nothing else a task can see (exit
// codes, signals, exec errors, signal dispositions; fds: fewer, see below). Bounds are generous
// and relative to the task's own figures, never the clock.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Executor, type RunRequest } from "../../agent/executor.js";
import { findUsagePython } from "../../agent/rusage.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";

const python = findUsagePython();
let seq = 0;
const executors: Executor[] = [];

function executor(usagePython: string | null = python): Executor {
  const e = new Executor({ maxTasks: 4, usagePython });
  executors.push(e);
  return e;
}

function req(command: string[]): RunRequest {
  seq++;
  return { attemptId: `rusage-${seq}`, taskId: `rusage-task-${seq}`, command };
}

const BURN = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";

test.after.each(async () => {
  await Promise.all(executors.splice(0).map((e) => e.cancelAll(0)));
});

test("python3 for the launcher exists on this machine (the figures below need it)", () => {
  assert.ok(python, "no python3 found: attempts would run unmeasured");
});

test("a CPU burner reports CPU time in a sane range of its run time", async () => {
  const result = await executor().run(req(["sh", "-c", BURN]));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.type(result.cpuTimeMs, "number");
  // The loop is pure CPU: tens of ms at the very least; one thread cannot use more than its run time (+ a tick).
  assert.ok(result.cpuTimeMs! >= 20, `cpu ${result.cpuTimeMs} ms`);
  assert.ok(result.cpuTimeMs! <= result.durationMs + 50, `cpu ${result.cpuTimeMs} ms > run ${result.durationMs} ms`);
});

test("descendants the command waited for are counted (a subshell burning CPU)", async () => {
  const result = await executor().run(req(["sh", "-c", `(${BURN}); exit 0`]));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.ok(result.cpuTimeMs! >= 20, `cpu ${result.cpuTimeMs} ms`);
});

test("a 200 MB allocation reports max RSS >= 150 MB", async () => {
  const result = await executor().run(req(["python3", "-c", "x = bytearray(200_000_000)"]));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, result.message);
  assert.ok(result.maxRssKib! >= 150_000, `max rss ${result.maxRssKib} KiB`);
});

test("launched and directly spawned attempts end the same way (exit code, signal, exec error)", async () => {
  const cases = [
    ["sh", "-c", "echo out; echo err >&2; exit 3"],
    ["sh", "-c", "kill -KILL $$"],
    ["sh", "-c", "kill -TERM $$"],
    ["sh", "-c", "kill -SEGV $$"],
    ["taskgrid-no-such-command-xyz"],
    ["/etc/passwd"],
  ];
  for (const command of cases) {
    const wrapped = await executor().run(req(command));
    const plain = await executor(null).run(req(command));
    const shape = (r: typeof wrapped) => ({ outcome: r.outcome, exitCode: r.exitCode, signal: r.signal, message: r.message, tail: r.outputTail });
    assert.equal(shape(wrapped), shape(plain), command.join(" "));
    assert.is(plain.cpuTimeMs, undefined);
  }
});

test("the command gets only stdin, stdout, stderr and default signal dispositions, as spawned directly", async () => {
  // grep reads its own status: exec'ed straight by the launcher (a shell would block signals around its forks).
  const probe = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"];
  const wrapped = await executor().run(req(probe));
  const plain = await executor(null).run(req(probe));
  assert.match(wrapped.outputTail, /SigBlk:\s+0+\n/);
  assert.is(wrapped.outputTail, plain.outputTail);
  // fd 3 is ls's own handle on the directory. Through the launcher nothing else: it closes every
  // other fd, also any the agent's process left inheritable (a direct spawn passes those on).
  const fds = ["ls", "/proc/self/fd"];
  assert.is((await executor().run(req(fds))).outputTail, "0\n1\n2\n3\n");
  const plainFds = (await executor(null).run(req(fds))).outputTail.split("\n");
  for (const fd of ["0", "1", "2", "3"]) assert.ok(plainFds.includes(fd), plainFds.join(" "));
});

test("a cancel reaches the command started by the launcher, and its figures still come", async () => {
  let ready!: () => void;
  const trapped = new Promise<void>((r) => (ready = r));
  const quick = new Executor({ maxTasks: 1, usagePython: python, events: { progress: () => ready() } });
  executors.push(quick);
  // The progress line says the trap is set.
  const pending = quick.run(req(["sh", "-c", `trap 'exit 7' TERM; echo ::progress 1 trapped; ${BURN}; while :; do :; done`]));
  await trapped;
  quick.cancel(`rusage-${seq}`, 30_000);
  const result = await pending;
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.is(result.exitCode, 7);
  assert.type(result.cpuTimeMs, "number");
  assert.is(quick.runningCount(), 0);
});

test("the command leads its own process group and session (kill -TERM -$$ works), as spawned directly", async () => {
  const probe = ["sh", "-c", 'set -- $(cut -d" " -f5,6 /proc/$$/stat); [ "$1" = $$ ] && [ "$2" = $$ ] && echo leader; kill -TERM -$$'];
  for (const usagePython of [python, null]) {
    const result = await executor(usagePython).run(req(probe));
    assert.is(result.outputTail, "leader\n", String(usagePython));
    assert.is(result.signal, "SIGTERM", "the group it killed was its own");
  }
});

test("a command SIGKILLed by a stop still reports its figures (the launcher is outside its group)", async () => {
  let ready!: () => void;
  const burning = new Promise<void>((r) => (ready = r));
  const e = new Executor({ maxTasks: 1, usagePython: python, events: { progress: () => ready() } });
  executors.push(e);
  const pending = e.run(req(["sh", "-c", `echo ::progress 1 burning; while :; do :; done`]));
  await burning;
  e.cancel(`rusage-${seq}`, 0);
  const result = await pending;
  assert.equal([result.outcome, result.signal], [AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, "SIGKILL"]);
  assert.type(result.cpuTimeMs, "number");
  assert.ok(result.maxRssKib! > 0);
});

test("started always comes before the command's first progress, however fast its output comes", async () => {
  const order: string[] = [];
  const e = new Executor({
    maxTasks: 4,
    usagePython: python,
    events: { started: (id) => order.push(`started ${id}`), progress: (id) => order.push(`progress ${id}`) },
  });
  executors.push(e);
  const runs = Array.from({ length: 10 }, () => req(["sh", "-c", "echo ::progress 5 early"]));
  for (const r of runs) assert.is((await e.run(r)).outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  for (const r of runs) {
    const started = order.indexOf(`started ${r.attemptId}`);
    assert.ok(started >= 0 && started < order.indexOf(`progress ${r.attemptId}`), order.join(", "));
  }
});

test.run();
