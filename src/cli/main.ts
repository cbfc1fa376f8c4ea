// The `taskgrid` command: picks the verb, parses its flags, runs it, and turns every failure into one
// `error: ...` line on stderr (exit 2 for usage mistakes, 1 otherwise) — never a stack trace.
import { pathToFileURL } from "node:url";
import { ClientError } from "../client/index.js";
import { helpText, parseCommandArgs, processIo, type Command, type Io } from "./command.js";
import { agentCommand } from "./commands/agent.js";
import { infoCommand, workersCommand } from "./commands/cluster.js";
import { cancelCommand, drainCommand, pauseCommand, resumeCommand, undrainCommand } from "./commands/control.js";
import { devCommand } from "./commands/dev.js";
import { clientErrorHint, clientErrorText } from "./error-text.js";
import { getCommand } from "./commands/get.js";
import { lsCommand } from "./commands/ls.js";
import { logsCommand } from "./commands/logs.js";
import { masterCommand } from "./commands/master.js";
import { quotaCommand } from "./commands/quota.js";
import { sharesCommand } from "./commands/shares.js";
import { simCommand } from "./commands/sim.js";
import { submitCommand } from "./commands/submit.js";
import { tokenCommand } from "./commands/token.js";
import { topCommand } from "./commands/top.js";
import { tuneCommand } from "./commands/tune.js";
import { watchCommand } from "./commands/watch.js";
import { UsageError } from "./usage-error.js";

export const COMMANDS: readonly Command[] = [
  devCommand,
  masterCommand,
  agentCommand,
  submitCommand,
  getCommand,
  lsCommand,
  watchCommand,
  logsCommand,
  cancelCommand,
  pauseCommand,
  resumeCommand,
  workersCommand,
  drainCommand,
  undrainCommand,
  infoCommand,
  topCommand,
  tokenCommand,
  quotaCommand,
  sharesCommand,
  simCommand,
  tuneCommand,
];

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const verbs = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n");
  return `taskgrid: cluster task scheduler for CPU and GPU machines

Usage: taskgrid <command> [flags] [args]

Commands:
${verbs}

Client commands talk to the master at --master or TASKGRID_MASTER (default 127.0.0.1:50051;
with several masters, comma-separated as a:50051,b:50051, calls follow the leader), present the
API token from --token, TASKGRID_TOKEN or ~/.config/taskgrid/credentials, and print JSON with
--json. Run 'taskgrid <command> --help' for its flags.
`;
}

/** Prints an error the way a user should read it and returns the exit code. */
export function reportError(err: unknown, io: Io, verb: string | undefined): number {
  if (err instanceof UsageError) {
    io.err(`error: ${err.message}\n(see 'taskgrid ${verb ? `${verb} ` : ""}--help')\n`);
    return 2;
  }
  if (err instanceof ClientError) {
    io.err(`error: ${clientErrorText(err)}\n`);
    const hint = clientErrorHint(err);
    if (hint) io.err(`${hint}\n`);
    return 1;
  }
  // Domain errors from an in-process master (bad config) carry a kind such as "invalid_argument".
  const kind = (err as { kind?: unknown } | null)?.kind;
  const message = err instanceof Error ? err.message : String(err);
  io.err(`error: ${typeof kind === "string" ? `${kind.toUpperCase()}: ` : ""}${message}\n`);
  if (io.env.TASKGRID_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
  return 1;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "help" || verb === "--help" || verb === "-h") {
    const target = verb === "help" && rest[0] ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(target ? helpText(target) : mainHelp());
    return 0;
  }
  if (verb === "--version" || verb === "version") {
    io.out(`taskgrid ${process.env.npm_package_version ?? "0.1.0"}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === verb);
  if (!command) {
    io.err(`error: unknown command "${verb}"\n(see 'taskgrid --help')\n`);
    return 2;
  }
  try {
    const args = parseCommandArgs(command, rest);
    if (args.flags.help === true) {
      io.out(helpText(command));
      return 0;
    }
    return await command.run(args, io);
  } catch (err) {
    return reportError(err, io, command.name);
  }
}

/**
 * Resolves once everything written to `stream` so far has been handed to the OS, or the stream
 * failed (EPIPE: the reader went away, as with `| head`; nothing more can be delivered then).
 * Writes are processed in order, so the callback of an empty write runs after all earlier ones.
 * For use just before exiting: the error listener stays, so a failed stream's later 'error' event
 * is not an uncaught exception with a stack trace.
 */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.on("error", () => resolve());
    if (stream.destroyed || stream.writableEnded) return resolve();
    stream.write("", () => resolve());
  });
}

/**
 * Runs main, waits for stdout and stderr to flush, then exits. The exit is explicit because
 * lingering handles (gRPC channels, timers) must not keep the CLI alive; the wait is needed because
 * process.exit drops what a pipe has not taken yet (`taskgrid ls --all --json | cat` lost all but
 * the first 64 KiB).
 */
export async function runCli(argv: readonly string[]): Promise<never> {
  const code = await main(argv);
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

// `tsx src/cli/main.ts dev` (npm start) runs this file directly.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runCli(process.argv.slice(2));
}
