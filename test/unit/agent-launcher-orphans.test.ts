// Descendants of an attempt that outlive its command (agent/launcher/, issue 17): the launcher is
// their subreaper, so a backgrounded or double-forked CPU burner is reaped by it and its CPU time
// counted into the attempt's figures, as Slurm's cgroup counts it; one that outlives the attempt's
// end is left running as before, and reaped by the launcher once it ends (never a zombie). Real
// processes; the polls read kernel facts (/proc), bounded, never timing assertions.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Executor, type RunRequest } from "../../agent/executor.js";
import { findUsagePython } from "../../agent/rusage.js";
import { AttemptOutcome } from "../../src/gen/taskgrid/v1/types.js";

const python = findUsagePython();
const linux = process.platform === "linux";
let seq = 0;
const executors: Executor[] = [];
const startedPids = new Map<string, number>();

function executor(): Executor {
  const e = new Executor({ maxTasks: 4, usagePython: python, events: { started: (id, pid) => startedPids.set(id, pid) } });
  executors.push(e);
  return e;
}

function req(script: string): RunRequest {
  seq++;
  return { attemptId: `orphans-${seq}`, taskId: `orphans-task-${seq}`, command: ["sh", "-c", script] };
}

/** ~0.2-0.5 s of pure CPU in a shell loop. */
const BURN = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";
/**
 * The burner's last act: print its parent by then, from its own /proc stat (builtins only: no fork,
 * and the subshell's stdout closes when it exits, not before).
 */
const PARENT = "read -r _ _ _ parent _ < /proc/self/stat; echo $parent";

function stat(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** Live (not zombie) processes in session `sid`. */
function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const f = /^\d+$/.test(entry) ? stat(Number(entry)) : null;
    if (f && Number(f[3]) === sid && f[0] !== "Z") members.push(Number(entry));
  }
  return members;
}

/** The launcher's children (its own thread's list: it runs one thread). */
function launcherChildren(launcherPid: number): number[] {
  return readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number);
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

test("a burner left behind by the command is counted as if it ran in the foreground, and nothing is left running", async () => {
  if (!linux || !python) return;
  const e = executor();
  const foreground = await e.run(req(`${BURN}; echo done`));
  assert.is(foreground.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  assert.ok(foreground.cpuTimeMs! >= 20, `foreground cpu ${foreground.cpuTimeMs} ms`);
  const shapes = {
    backgrounded: `(${BURN}; ${PARENT}) & exit 0`,
    "double-forked": `( (${BURN}; ${PARENT}) & ); exit 0`,
  };
  for (const [shape, script] of Object.entries(shapes)) {
    const r = req(script);
    const result = await e.run(r);
    assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, `${shape}: ${result.message}`);
    // The burner's parent when it ended was the launcher: the command had exited, nothing waited for it.
    assert.is(result.outputTail, `${e.launcher!.pid}\n`, `${shape}: the burner was orphaned`);
    // Same loop, same CPU, give or take the machine's noise (a 2-core VM under load gave 233 ms against
    // 407 in the foreground); without the launcher reaping it, ~1 ms. A quarter keeps the two apart.
    assert.ok(result.cpuTimeMs! >= foreground.cpuTimeMs! * 0.25, `${shape}: cpu ${result.cpuTimeMs} ms, in the foreground ${foreground.cpuTimeMs} ms`);
    assert.equal(sessionMembers(startedPids.get(r.attemptId)!), [], `${shape}: nothing of the attempt runs`);
    assert.equal(launcherChildren(e.launcher!.pid), [], `${shape}: the launcher reaped everything (no zombie)`);
  }
});

test("a burner killed with the group by a cancel is counted: all the CPU it had used is in the figures", async () => {
  if (!linux || !python) return;
  let burnerPid!: (pid: number) => void;
  const announced = new Promise<number>((r) => (burnerPid = r));
  const e = new Executor({
    maxTasks: 1,
    usagePython: python,
    events: { started: (id, pid) => startedPids.set(id, pid), progress: (_id, _p, message) => burnerPid(Number(message)) },
  });
  executors.push(e);
  // The burner's parent becomes sleep (exec), which never waits for it.
  const r = req('(while :; do :; done) & echo "::progress 1 $!"; exec sleep 30');
  const pending = e.run(r);
  const burner = await announced;
  const cpuMs = () => {
    const f = stat(burner);
    return f ? (Number(f[11]) + Number(f[12])) * 10 : -1;
  };
  await until(() => cpuMs() >= 100, "the burner used 100 ms of CPU");
  const before = cpuMs();
  e.cancel(r.attemptId, 30_000);
  const result = await pending;
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.is(result.signal, "SIGTERM");
  assert.ok(result.cpuTimeMs! >= before, `cpu ${result.cpuTimeMs} ms, the burner alone had used ${before} ms`);
  assert.equal(sessionMembers(startedPids.get(r.attemptId)!), [], "nothing of the attempt runs");
});

test("a background process that closed its stdio outlives the attempt as before (not killed, not counted), and is reaped once it ends", async () => {
  if (!linux || !python) return;
  const e = executor();
  const result = await e.run(req("sleep 30 >/dev/null 2>&1 & echo $!"));
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, result.message);
  const sleeper = Number(result.outputTail.trim());
  const f = stat(sleeper);
  assert.ok(f && f[0] !== "Z", "still running after the attempt ended");
  assert.is(Number(f![1]), e.launcher!.pid, "orphaned to the launcher");
  process.kill(sleeper, "SIGTERM");
  await until(() => !existsSync(`/proc/${sleeper}`), "the launcher reaped it");
  assert.equal(launcherChildren(e.launcher!.pid), []);
});

test.run();
