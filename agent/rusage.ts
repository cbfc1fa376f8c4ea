// CPU time and peak memory of an attempt (issue 17, like Slurm's CPUTime and MaxRSS).
//
// Node cannot wait4() its children nor read their rusage, so the command runs under a tiny Python
// wrapper that forks it, waits for it with os.wait4 and reports on fd 3. Options measured on a
// 2-core machine (the CPU burner `sh -c 'i=0; while [ $i -lt 300000 ]; ...'` runs ~0.5 s, the
// allocation `python3 -c "x=bytearray(200_000_000)"` ~80 ms):
// - /proc polling once a second (utime/stime, VmHWM of the group's processes): no start cost, but
//   misses both test tasks entirely (they end between two polls; a process's own times cannot be
//   read after Node reaped it), and whatever any process did in its last second.
// - the agent's own cutime/cstime (/proc/self/stat) around each reap: cheap and exact for CPU, but
//   libuv reaps several children in one go (no attribution) and it gives no per-task max RSS.
// - `sh -c 'cmd; times'`: ~0.3 ms, CPU only, and exit codes and exec errors change shape.
// - /usr/bin/time: ~0.3 ms, but absent on many machines and reports signal deaths as exit codes.
// - this wrapper: ~18 ms more per attempt (40 `true` attempts: 26 ms each against 6-8 ms
//   unwrapped; python3 -I -S, the resource module os.wait4 loads, a second fork); exact CPU time of the command and every descendant it waited for, and the
//   peak RSS of the largest of them (the kernel's ru_maxrss), whatever their lifetimes.
// The wrapper is chosen; where no python3 exists attempts run unwrapped and report no figures.
//
// What the wrapper keeps as it was: the process group and session (the command calls setsid, as a
// detached spawn does, so it leads its own group and `kill -- -$$` in a task works as before; the
// wrapper stays outside it, so signals to the task's group never reach it), env, cwd,
// stdout/stderr (inherited by the command; the wrapper puts /dev/null on its own), exit codes and
// deaths by signal (it exits with the command's code, or re-raises the command's signal on itself),
// and exec errors (reported on fd 3 before anything is said to have started). Since it is not in
// the group it outlives a SIGKILL of it, so even a killed command reports its figures.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Figures of one attempt, from the kernel's rusage of the command and its waited-for descendants. */
export interface AttemptUsage {
  cpuTimeMs: number;
  maxRssKib: number;
}

/** Where python3 is looked for; the first that exists runs the wrapper. */
const PYTHON_CANDIDATES = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"];

/**
 * The python3 to run the wrapper with, or null (attempts then run unmeasured). Checked once by
 * running it (~10 ms): a Python too old for what the wrapper uses (3.8+) would fail every attempt.
 */
export function findUsagePython(): string | null {
  return PYTHON_CANDIDATES.find((path) => existsSync(path) && usable(path)) ?? null;
}

function usable(python: string): boolean {
  const probe = spawnSync(python, ["-I", "-S", "-c", "import os, signal; os.wait4; os.setsid; signal.valid_signals(); signal.pthread_sigmask"], {
    stdio: "ignore",
    timeout: 10_000,
  });
  return probe.status === 0;
}

// Line protocol on fd 3: "pid <pid>" once the command's process exists (its group can be signalled
// from then on; the command waits for the agent to be told before it execs, so none of its output
// can come first), "ok" once it was exec'ed, "err <ERRNO NAME>" when it could not be, and
// "usage <cpu ms> <max rss KiB>" once it ended. The command never sees fd 3 (close-on-exec). It gets
// default signal dispositions and an empty mask, as libuv gives a spawned process; until its exec,
// signals stay blocked, so one sent to its group meanwhile takes effect first thing.
const WRAPPER = `
import errno, os, signal, sys
argv = sys.argv[1:]
os.set_inheritable(3, False)
def say(text):
    try:
        os.write(3, text.encode())
    except OSError:
        pass
signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
r, w = os.pipe()
go_r, go_w = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        os.close(r)
        os.close(go_w)
        os.setsid()
        os.read(go_r, 1)
        os.close(go_r)
        for s in signal.valid_signals():
            if s not in (signal.SIGKILL, signal.SIGSTOP):
                try:
                    signal.signal(s, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(w, errno.errorcode.get(e.errno, "E%d" % e.errno).encode())
    os._exit(127)
os.close(w)
os.close(go_r)
say("pid %d\\n" % pid)
os.close(go_w)
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
os.dup2(null, 2)
signal.pthread_sigmask(signal.SIG_SETMASK, [])
failed = os.read(r, 64).decode()
if failed:
    say("err %s\\n" % failed)
    os.waitpid(pid, 0)
    os._exit(127)
say("ok\\n")
_, status, ru = os.wait4(pid, 0)
say("usage %d %d\\n" % (round((ru.ru_utime + ru.ru_stime) * 1000), ru.ru_maxrss))
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)
os._exit(os.WEXITSTATUS(status))
`;

/** The wrapper's argv (after the python path): it runs `command`. */
export function wrapperArgs(command: readonly string[]): string[] {
  // -I: no PYTHON* variables or user site (the task's env is the command's, not the wrapper's); -S: no site import (faster).
  return ["-I", "-S", "-c", WRAPPER, ...command];
}

export interface WrapperReports {
  /** The command's process exists (not yet exec'ed): the pid that leads its group. */
  forked(pid: number): void;
  /** The command was exec'ed: it runs from now on. */
  execed(): void;
  /** It could not be (ENOENT, EACCES, ...). */
  execFailed(code: string): void;
}

/** Reads the wrapper's fd 3: calls back on exec, keeps the usage once the command ended. */
export class WrapperReader {
  private pending = "";
  usage: AttemptUsage | null = null;

  constructor(private readonly reports: WrapperReports) {}

  push(chunk: Buffer): void {
    this.pending += chunk.toString("latin1");
    let newline = this.pending.indexOf("\n");
    while (newline >= 0) {
      this.line(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf("\n");
    }
  }

  private line(text: string): void {
    const [word, a, b] = text.split(" ");
    if (word === "pid" && Number.isSafeInteger(Number(a)) && Number(a) > 0) this.reports.forked(Number(a));
    else if (word === "ok") this.reports.execed();
    else if (word === "err") this.reports.execFailed(a || "EUNKNOWN");
    else if (word === "usage") {
      const cpuTimeMs = Number(a);
      const maxRssKib = Number(b);
      if (Number.isSafeInteger(cpuTimeMs) && Number.isSafeInteger(maxRssKib) && cpuTimeMs >= 0 && maxRssKib >= 0) this.usage = { cpuTimeMs, maxRssKib };
    }
  }
}
