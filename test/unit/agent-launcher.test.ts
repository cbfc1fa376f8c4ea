// The agent's launcher (agent/launcher/): attempts started through one long-lived python3, against
// real processes. What a task sees (env, cwd, exit codes, signal deaths, exec errors, separate
// stdout and stderr) and the usage figures; the launcher's own death (SIGKILL mid-attempt: the
// attempt ends LOST, its processes are killed, the next attempt runs through a new launcher); a
// launcher that cannot start (attempts retried, then spawned directly). Tests wait on events and
// results; the polls below read kernel facts (process states), bounded, never timing assertions.
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Executor, type ExecutorOptions, type RunRequest } from "../../agent/executor.js";
import { encodeFrame, FrameReader } from "../../agent/launcher/frames.js";
import { processStartTime } from "../../agent/lease-file.js";
import { findUsagePython } from "../../agent/rusage.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";

const python = findUsagePython();
let seq = 0;
const executors: Executor[] = [];
const dirs: string[] = [];

function executor(options: Partial<ExecutorOptions> = {}): Executor {
  const e = new Executor({ maxTasks: 64, usagePython: python, ...options });
  executors.push(e);
  return e;
}

function req(command: string[], extra: Partial<RunRequest> = {}): RunRequest {
  seq++;
  return { attemptId: `launcher-${seq}`, taskId: `launcher-task-${seq}`, command, ...extra };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "agent-launcher-"));
  dirs.push(dir);
  return dir;
}

/** Live (not zombie) processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") members.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return members;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, i < 100 ? 1 : 5));
  }
  throw new Error(`condition never held: ${what}`);
}

test.after.each(async () => {
  for (const e of executors.splice(0)) {
    await e.cancelAll(0);
    e.close();
  }
});

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test("python3 for the launcher exists on this machine (the tests below need it)", () => {
  assert.ok(python, "no python3 found: attempts would be spawned directly");
});

test("frames cut anywhere across reads come out whole and in order", () => {
  const frames = [
    encodeFrame(3, 7, Buffer.from("hello")),
    encodeFrame(5, 7, Buffer.of(1)),
    encodeFrame(0, 0, Buffer.alloc(0)),
    encodeFrame(4, 9, Buffer.alloc(70_000, 1)),
  ];
  const all = Buffer.concat(frames);
  for (const cut of [1, 4, 9, 13, 14, 20, 30, 5000]) {
    const got: string[] = [];
    const reader = new FrameReader((type, handle, payload) => got.push(`${type}/${handle}/${payload.length}`));
    for (let off = 0; off < all.length; off += cut) reader.push(all.subarray(off, off + cut));
    assert.equal(got, ["3/7/5", "5/7/1", "0/0/0", "4/9/70000"], `cut every ${cut} bytes`);
  }
});

test("env, cwd, exit code and separate stdout and stderr, with usage figures", async () => {
  const logRoot = tempDir();
  const cwd = tempDir();
  const e = executor({ logRoot });
  const r = req(["sh", "-c", 'echo "out $FOO $(pwd)"; echo "err $TASKGRID_ATTEMPT_ID" >&2; exit 4'], { env: { FOO: "bar baz" }, workingDir: cwd });
  const result = await e.run(r);
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_FAILED, result.message);
  assert.is(result.exitCode, 4);
  assert.type(result.cpuTimeMs, "number");
  assert.ok(result.maxRssKib! > 0, `max rss ${result.maxRssKib}`);
  const dir = join(logRoot, r.attemptId);
  await until(() => e.logs.state(r.attemptId) === "ended", "the log files are flushed and closed");
  assert.is(readFileSync(join(dir, "stdout"), "utf8"), `out bar baz ${realpathSync(cwd)}\n`);
  assert.is(readFileSync(join(dir, "stderr"), "utf8"), `err ${r.attemptId}\n`);
  assert.is(e.launcher?.starts, 1);
});

test("the launcher reports each command's process start time (the lease file's guard against a reused pid)", async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const e = executor({ events: { started: () => started() } });
  const r = req(["sleep", "30"]);
  const result = e.run(r);
  await running;
  const [info] = e.running();
  assert.ok(info.pid > 0);
  assert.ok(info.processStart, "a start time came with the pid");
  assert.is(info.processStart, processStartTime(info.pid), "the same as /proc says");
  e.cancel(r.attemptId, 0);
  await result;
});

test("the agent's environment under the attempt's: the task's variable wins, a GPU allocation is never inherited", async () => {
  const saved = { TG_LAYER_PROBE: process.env.TG_LAYER_PROBE, TASKGRID_GPU_UUIDS: process.env.TASKGRID_GPU_UUIDS };
  process.env.TG_LAYER_PROBE = "agent";
  process.env.TASKGRID_GPU_UUIDS = "GPU-stale";
  try {
    const e = executor(); // takes the agent's environment now
    const probe = 'echo "$TG_LAYER_PROBE ${TASKGRID_GPU_UUIDS-unset} $TG_TASK_ONLY"';
    const own = await e.run(req(["sh", "-c", probe], { env: { TG_LAYER_PROBE: "task", TG_TASK_ONLY: "x" } }));
    assert.is(own.outputTail, "task unset x\n");
    const inherited = await e.run(req(["sh", "-c", probe]));
    assert.is(inherited.outputTail, "agent unset \n");
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});

test("a death by signal, an exec error and an argument with a NUL byte", async () => {
  const e = executor();
  const killed = await e.run(req(["sh", "-c", "kill -USR1 $$"]));
  assert.equal([killed.outcome, killed.exitCode, killed.signal], [AttemptOutcome.ATTEMPT_OUTCOME_FAILED, -1, "SIGUSR1"]);
  assert.type(killed.cpuTimeMs, "number");
  const missing = await e.run(req(["taskgrid-no-such-command-xyz", "a"]));
  assert.equal([missing.outcome, missing.message], [AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED, "spawn taskgrid-no-such-command-xyz ENOENT"]);
  const notExecutable = await e.run(req(["/etc/passwd"]));
  assert.equal([notExecutable.outcome, notExecutable.message], [AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED, "spawn /etc/passwd EACCES"]);
  const nul = await e.run(req(["echo", "a\0b"]));
  assert.is(nul.outcome, AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED);
  assert.match(nul.message, /null bytes/);
  // None of these broke the launcher.
  assert.is((await e.run(req(["echo", "still"]))).outputTail, "still\n");
  assert.is(e.launcher?.starts, 1);
});

test("argv[0] is looked up on the attempt's PATH", async () => {
  const bin = tempDir();
  const e = executor();
  const script = join(bin, "taskgrid-launcher-probe");
  const { writeFileSync, chmodSync } = await import("node:fs");
  writeFileSync(script, '#!/bin/sh\necho found "$@"\n');
  chmodSync(script, 0o755);
  const result = await e.run(req(["taskgrid-launcher-probe", "x"], { env: { PATH: `${bin}:/usr/bin:/bin` } }));
  assert.is(result.outputTail, "found x\n", result.message);
});

test("many attempts at once: every one's output and result is its own", async () => {
  const e = executor({ maxTasks: 200, launchers: 2 });
  const runs = Array.from({ length: 200 }, (_, i) => req(["sh", "-c", `echo ${i}; echo e${i} >&2; exit ${i % 3}`]));
  const results = await Promise.all(runs.map((r) => e.run(r)));
  results.forEach((result, i) => {
    assert.is(result.exitCode, i % 3);
    assert.is(result.outputTail.split("\n").sort().join(" "), ` ${i} e${i}`);
    assert.type(result.cpuTimeMs, "number");
  });
  assert.is(e.launcher?.starts, 2, "spread over both launchers, neither started again");
});

test("megabytes of output reach the log files whole, stdout and stderr apart", async () => {
  const logRoot = tempDir();
  const e = executor({ logRoot });
  const r = req(["sh", "-c", "head -c 6000000 /dev/zero; head -c 1500000 /dev/zero >&2"]);
  const result = await e.run(r);
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, result.message);
  await until(() => e.logs.state(r.attemptId) === "ended", "the log files are flushed and closed");
  assert.is(readFileSync(join(logRoot, r.attemptId, "stdout")).length, 6_000_000);
  assert.is(readFileSync(join(logRoot, r.attemptId, "stderr")).length, 1_500_000);
});

test("the launcher SIGKILLed mid-attempt: the attempt ends LOST, its group is killed, the next attempt runs through a new launcher", async () => {
  let up!: () => void;
  const running = new Promise<void>((r) => (up = r));
  const e = executor({ events: { progress: () => up() } });
  const pending = e.run(req(["sh", "-c", "sleep 30 & echo ::progress 1 up; wait"]));
  await running;
  const pid = e.running()[0].pid;
  assert.ok(groupMembers(pid).length >= 2, "the shell and its sleep run");
  const launcherPid = e.launcher!.pid;
  process.kill(launcherPid, "SIGKILL");
  const result = await pending;
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_LOST);
  assert.match(result.message, new RegExp(`launcher \\(.*pid ${launcherPid}\\) was killed by SIGKILL`));
  assert.match(result.message, /processes were killed/);
  assert.is(result.outputTail, "::progress 1 up\n", "what it printed before the launcher died");
  await until(() => groupMembers(pid).length === 0, "the attempt's processes are gone");
  assert.is(e.runningCount(), 0);

  const next = await e.run(req(["sh", "-c", "echo again"]));
  assert.equal([next.outcome, next.outputTail], [AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, "again\n"]);
  assert.type(next.cpuTimeMs, "number");
  assert.is(e.launcher!.starts, 2);
  assert.is.not(e.launcher!.pid, launcherPid);
});

test("a burst of attempts spills onto a second launcher; SIGKILL of one loses only the attempts it started", async () => {
  let started = 0;
  let allStarted!: () => void;
  const allUp = new Promise<void>((r) => (allStarted = r));
  const e = executor({ launchers: 2, events: { started: () => ++started === 12 && allStarted() } });
  const runs = Array.from({ length: 12 }, (_, i) => e.run(req(["sh", "-c", `echo up ${i}; exec sleep 30`])));
  await allUp;
  assert.is(e.launcher!.starts, 2, "the second launcher started once the first had commands waiting");
  const [first, second] = e.launcher!.pids;
  // Which launcher started which attempt: its command's parent.
  const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1]);
  const byLauncher = new Map(e.running().map((a) => [a.attemptId, parentOf(a.pid)]));
  const onSecond = [...byLauncher].filter(([, parent]) => parent === second).map(([id]) => id);
  assert.ok(onSecond.length > 0 && onSecond.length < 12, `attempts on the second launcher: ${onSecond.length}`);
  assert.ok([...byLauncher.values()].every((parent) => parent === first || parent === second));
  process.kill(second, "SIGKILL");
  await until(() => e.runningCount() === 12 - onSecond.length, "the second launcher's attempts ended");
  for (const a of e.running()) assert.is(byLauncher.get(a.attemptId), first, "the first launcher's attempts run on");
  for (const a of e.running()) e.cancel(a.attemptId, 0);
  const results = await Promise.all(runs);
  const lost = results.filter((r) => r.outcome === AttemptOutcome.ATTEMPT_OUTCOME_LOST);
  assert.is(lost.length, onSecond.length);
  for (const r of lost) assert.match(r.message, new RegExp(`pid ${second}\\) was killed by SIGKILL`));
  assert.is(results.filter((r) => r.outcome === AttemptOutcome.ATTEMPT_OUTCOME_CANCELED).length, 12 - onSecond.length);
  // The next attempt goes to the launcher still running.
  const next = await e.run(req(["sh", "-c", "echo again"]));
  assert.equal([next.outcome, next.outputTail], [AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, "again\n"]);
  assert.equal(e.launcher!.pids, [first]);
});

test("a launcher that cannot start: its attempts are retried, then spawned directly (unmeasured)", async () => {
  const e = executor({ usagePython: "/bin/false" });
  const result = await e.run(req(["sh", "-c", "echo direct"]));
  assert.equal([result.outcome, result.outputTail], [AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, "direct\n"], result.message);
  assert.is(result.cpuTimeMs, undefined);
  assert.is(e.launcher!.starts, 3);
  assert.ok(e.launcher!.broken);
  assert.is((await e.run(req(["true"]))).outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.is(e.launcher!.starts, 3, "given up: no more tries");
});

test("the old path (usagePython: null) still runs attempts, without figures", async () => {
  const e = executor({ usagePython: null });
  const result = await e.run(req(["sh", "-c", "echo old; exit 2"]));
  assert.equal([result.outcome, result.exitCode, result.outputTail], [AttemptOutcome.ATTEMPT_OUTCOME_FAILED, 2, "old\n"]);
  assert.is(result.cpuTimeMs, undefined);
  assert.is(e.launcher, null);
});

test.run();
