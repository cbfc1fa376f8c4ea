// CPU time and peak memory of an attempt (issue 17, like Slurm's CPUTime and MaxRSS).
//
// Node cannot wait4() its children nor read their rusage, so the command is started by a Python
// process that waits for it with os.wait4. Options measured on a 2-core machine (the CPU burner
// `sh -c 'i=0; while [ $i -lt 300000 ]; ...'` runs ~0.5 s, the allocation
// `python3 -c "x=bytearray(200_000_000)"` ~80 ms):
// - /proc polling once a second (utime/stime, VmHWM of the group's processes): no start cost, but
//   misses both test tasks entirely (they end between two polls; a process's own times cannot be
//   read after Node reaped it), and whatever any process did in its last second.
// - the agent's own cutime/cstime (/proc/self/stat) around each reap: cheap and exact for CPU, but
//   libuv reaps several children in one go (no attribution) and it gives no per-task max RSS.
// - `sh -c 'cmd; times'`: ~0.3 ms, CPU only, and exit codes and exec errors change shape.
// - /usr/bin/time: ~0.3 ms, but absent on many machines and reports signal deaths as exit codes.
// - a python3 wrapper per attempt (issue 17's choice): ~18 ms more per attempt (interpreter start,
//   a second fork).
// - one long-lived python3 launcher per agent (issue 18, agent/launcher/): the same wait4 figures
//   with no interpreter start per attempt, and the agent no longer forks itself (see
//   launcher-source.ts). wait4 alone counts the command and every descendant it waited for; a
//   descendant nothing waited for (`cmd & exit 0`, nohup, double forks) went to init with its CPU.
// - descendants left behind, like Slurm's cgroup (still issue 17): the launcher is a child
//   subreaper on Linux (prctl PR_SET_CHILD_SUBREAPER via ctypes), so they become its children; it
//   reaps them with wait4 and counts each into the attempt whose session it is in (read from the
//   zombie's /proc stat just before reaping it: a session id is the attempt's pid, never reused
//   while a process of the session exists). A cgroup per attempt would also catch processes that
//   leave the session (setsid), but needs a delegated cgroup tree the agent cannot count on.
// The launcher is chosen. The figures: CPU = user + system of the command and of every process of
// its session reaped before its result (ones that end later run on and are not counted; on other
// systems only those it waited for), max RSS = the largest ru_maxrss among them. Where no usable
// python3 exists attempts are spawned directly by Node and report no figures.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Figures of one attempt, from the kernel's rusage of the processes of its session that were reaped before its result. */
export interface AttemptUsage {
  cpuTimeMs: number;
  maxRssKib: number;
}

/** Where python3 is looked for; the first that exists and is usable runs the launcher. */
const PYTHON_CANDIDATES = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"];

/**
 * The python3 to run the launcher with, or null (attempts then run unmeasured). Checked once by
 * running it (~20 ms): a Python too old for what the launcher uses (3.8+) would fail every attempt.
 */
export function findUsagePython(): string | null {
  return PYTHON_CANDIDATES.find((path) => existsSync(path) && usable(path)) ?? null;
}

const PROBE = [
  "import os, selectors, signal, struct, subprocess, sys",
  "assert sys.version_info >= (3, 8)",
  "os.wait4; os.set_blocking; signal.set_wakeup_fd",
].join("\n");

function usable(python: string): boolean {
  const probe = spawnSync(python, ["-I", "-S", "-c", PROBE], { stdio: "ignore", timeout: 10_000 });
  return probe.status === 0;
}
