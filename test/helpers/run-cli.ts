// Runs the `taskgrid` CLI in-process with a captured terminal: what it printed and its exit code.
import type { Io } from "../../src/cli/command.js";
import { main } from "../../src/cli/main.js";

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** `env` is the whole environment the CLI sees (nothing of this process's); `now` its clock. */
export async function runCli(argv: readonly string[], env: Record<string, string | undefined> = {}, now: () => Date = () => new Date()): Promise<CliRun> {
  let out = "";
  let err = "";
  const io: Io = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    errIsTTY: false,
    env,
    now,
  };
  const code = await main(argv, io);
  return { code, out, err };
}
