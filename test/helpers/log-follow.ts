// For tests of `taskgrid logs -f` (task-logs, across reconnects): a task that prints numbered lines one at a
// time, each after the test lets it (a FIFO gate, no sleeps on either side), and the CLI as a
// child process with stdout and stderr kept apart.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BIN, ROOT } from "./processes.js";

/** A FIFO the task blocks on (`read go < gate`) until the test writes a line: one line lets one read through. */
export interface Gate {
  path: string;
  /** Lets `n` reads through. */
  open(n?: number): void;
  close(): void;
}

export function gate(dir: string, name: string): Gate {
  const path = join(dir, name);
  execFileSync("mkfifo", [path]);
  // Held open read-write by the test: the task's open never blocks, nor does the test's write.
  const fd = openSync(path, constants.O_RDWR);
  return { path, open: (n = 1) => void writeSync(fd, "go\n".repeat(n)), close: () => closeSync(fd) };
}

/** argv of a task printing "line 1" .. "line N" on stdout, waiting at `gatePath` before each line after the first. */
export function numberedLines(count: number, gatePath: string): string[] {
  const script = 'i=1; while [ "$i" -le "$1" ]; do if [ "$i" -gt 1 ]; then read go < "$2"; fi; echo "line $i"; i=$((i+1)); done';
  return ["sh", "-c", script, "sh", String(count), gatePath];
}

/** What `numberedLines(count)` prints, each line once, in order. */
export function expectedLines(count: number): string {
  return Array.from({ length: count }, (_, i) => `line ${i + 1}\n`).join("");
}

/** A CLI process with stdout and stderr kept apart. */
export class Cli {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.on("data", (d: Buffer) => ((this.stdout += d.toString()), this.wake()));
    this.child.stderr!.on("data", (d: Buffer) => ((this.stderr += d.toString()), this.wake()));
    this.exited = new Promise((resolve) => this.child.on("close", (code) => (resolve(code), this.wake())));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once stdout matches `pattern`. */
  async stdoutMatches(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.stdout)) {
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before stdout matched ${pattern}:\n${this.stdout}\n${this.stderr}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Resolves once stdout has the whole line `line` (without its newline). */
  async stdoutHasLine(line: string): Promise<void> {
    while (!`\n${this.stdout}`.includes(`\n${line}\n`)) {
      if (this.child.exitCode !== null)
        throw new Error(`exited (${this.child.exitCode}) before printing ${JSON.stringify(line)}:\n${this.stdout}\n${this.stderr}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
    return this.exited;
  }
}
