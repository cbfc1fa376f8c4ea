// Child processes for end-to-end tests: spawn the real `taskgrid` bin, wait for a line of its
// output (an event, not a sleep), and make sure it is gone at the end.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = `${ROOT}bin/taskgrid.js`;

/** The node flags on the bin's shebang line (`#!/usr/bin/env -S node FLAGS`): what an installed `taskgrid` runs with. */
export function binNodeFlags(): string[] {
  const shebang = readFileSync(BIN, "utf8").split("\n", 1)[0];
  const match = /^#!\/usr\/bin\/env -S node(?<flags>( \S+)*)$/.exec(shebang);
  if (!match) throw new Error(`unexpected shebang in ${BIN}: ${shebang}`);
  return match.groups!.flags.split(" ").filter((f) => f !== "");
}

export class Proc {
  readonly child: ChildProcess;
  output = "";
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  /** Runs the taskgrid bin with `args`, or another program when `program` (argv prefix) is given. */
  constructor(args: string[], env: Record<string, string> = {}, program: string[] = [process.execPath, BIN]) {
    const [file, ...prefix] = program;
    if (program[1] === BIN) args = withAgentStateDir(args);
    this.child = spawn(file, [...prefix, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const onData = (d: Buffer) => {
      this.output += d.toString();
      const w = this.waiters;
      this.waiters = [];
      w.forEach((f) => f());
    };
    this.child.stdout!.on("data", onData);
    this.child.stderr!.on("data", onData);
    // Wake waiters on exit too, so waitFor reports a process that died without printing more.
    this.exited = new Promise((resolve) => this.child.on("close", (code) => (resolve(code), onData(Buffer.alloc(0)))));
  }

  /** Resolves when the combined output matches `pattern` (checked again on every chunk). */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`process exited before printing ${pattern}:\n${this.output}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Runs the bin to completion. */
export async function runBin(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}

/**
 * An agent started by a test keeps its state (unacknowledged results, lease file) under the
 * system temp dir rather than the repository's .taskgrid/: one dir per test process and worker id,
 * so an agent restarted by the same test finds its predecessor's state.
 */
function withAgentStateDir(args: string[]): string[] {
  if (args[0] !== "agent" || args.includes("--state-dir")) return args;
  const i = args.indexOf("--id");
  const id = i >= 0 ? args[i + 1] : "default";
  return [...args, "--state-dir", join(tmpdir(), `taskgrid-test-agents-${process.pid}`, id)];
}
