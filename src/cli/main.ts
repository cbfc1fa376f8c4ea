// The `taskgrid` command: picks the verb, parses its flags, runs it, and turns every failure into one
// `error: ...` line on stderr (exit 2 for usage mistakes, 1 otherwise) — never a stack trace.
import { pathToFileURL } from "node:url";
import { ClientError } from "../client/index.js";
import { helpText, parseCommandArgs, processIo, type Command, type Io } from "./command.js";
import { clientErrorHint, clientErrorText } from "./error-text.js";
import { UsageError } from "./usage-error.js";

/**
 * A verb as the registry knows it before it runs: its name and summary (enough for the verb list),
 * and how to load its module. Modules are imported only when their verb runs, so `taskgrid ls` does
 * not load the simulator, the master or the agent (issue 17: start under 200 ms).
 */
export interface CommandEntry {
  name: string;
  /** One line for the verb list; the same as the module's Command.summary (a unit test checks). */
  summary: string;
  load(): Promise<Command>;
}

// One line per verb, in the order of the verb list (kept so by hand: a verb is added or moved as one line).
// biome-ignore format: one verb per line
export const COMMANDS: readonly CommandEntry[] = [
  { name: "dev", summary: "Run a master (embedded database) and one local agent, for a first try", load: async () => (await import("./commands/dev.js")).devCommand },
  { name: "master", summary: "Run the master (gRPC API, scheduler, agent streams)", load: async () => (await import("./commands/master.js")).masterCommand },
  { name: "agent", summary: "Run an agent that executes tasks on this machine", load: async () => (await import("./commands/agent.js")).agentCommand },
  { name: "submit", summary: "Submit a task; prints its id (with --wait: runs it to the end and exits with its exit code)", load: async () => (await import("./commands/submit.js")).submitCommand },
  { name: "sbatch", summary: "Submit a Slurm batch script unchanged (#SBATCH lines, sbatch's options); prints its job id", load: async () => (await import("./commands/sbatch.js")).sbatchCommand },
  { name: "get", summary: "Show a task: state, spec, attempts, result, placement decision and history", load: async () => (await import("./commands/get.js")).getCommand },
  { name: "ls", summary: "List tasks, newest first", load: async () => (await import("./commands/ls.js")).lsCommand },
  { name: "watch", summary: "Stream task events until the given tasks have ended", load: async () => (await import("./commands/watch.js")).watchCommand },
  { name: "logs", summary: "Print a task's output (stdout by default); -f follows it while the task runs", load: async () => (await import("./commands/logs.js")).logsCommand },
  { name: "history", summary: "Finished tasks with their accounting (like sacct): wait, run and CPU time, max RSS, GPU-seconds", load: async () => (await import("./commands/history.js")).historyCommand },
  { name: "cancel", summary: "Cancel tasks by id (or every element of a job array), or every task matching filters", load: async () => (await import("./commands/control.js")).cancelCommand },
  { name: "hold", summary: "Keep queued tasks (or a job array's elements) from starting until released", load: async () => (await import("./commands/hold.js")).holdCommand },
  { name: "release", summary: "Let held tasks start (submit --hold, sbatch --hold, taskgrid hold)", load: async () => (await import("./commands/hold.js")).releaseCommand },
  { name: "pause", summary: "Pause a running task (SIGSTOP)", load: async () => (await import("./commands/control.js")).pauseCommand },
  { name: "resume", summary: "Resume a paused task (SIGCONT)", load: async () => (await import("./commands/control.js")).resumeCommand },
  { name: "workers", summary: "List workers (or show one in detail)", load: async () => (await import("./commands/cluster.js")).workersCommand },
  { name: "drain", summary: "Stop placing new work on a worker; its running work finishes", load: async () => (await import("./commands/control.js")).drainCommand },
  { name: "undrain", summary: "Place work on a drained worker again", load: async () => (await import("./commands/control.js")).undrainCommand },
  { name: "info", summary: "Show the scheduler: ordering, placement, weights, decisions, fallbacks, queues, workers", load: async () => (await import("./commands/cluster.js")).infoCommand },
  { name: "top", summary: "Live view of workers, queues and the scheduler, refreshing in the terminal", load: async () => (await import("./commands/top.js")).topCommand },
  { name: "token", summary: "API tokens: create, ls, revoke, whoami", load: async () => (await import("./commands/token.js")).tokenCommand },
  { name: "quota", summary: "Projects' quotas and fair-share shares: set, ls, rm", load: async () => (await import("./commands/quota.js")).quotaCommand },
  { name: "shares", summary: "Fair share per project (like sshare): shares, decayed usage, fair-share factor, running, queued", load: async () => (await import("./commands/shares.js")).sharesCommand },
  { name: "sim", summary: "Simulate scheduling offline (deterministic, seeded) with the real scheduling core", load: async () => (await import("./commands/sim.js")).simCommand },
  { name: "tune", summary: "Tune the RTS weights offline with a genetic algorithm over simulator runs", load: async () => (await import("./commands/tune.js")).tuneCommand },
];

/** The verb's full definition (flags, run), loading its module; undefined for an unknown verb. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  return COMMANDS.find((c) => c.name === name)?.load();
}

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
    const target = verb === "help" && rest[0] ? await loadCommand(rest[0]) : undefined;
    io.out(target ? helpText(target) : mainHelp());
    return 0;
  }
  if (verb === "--version" || verb === "version") {
    io.out(`taskgrid ${process.env.npm_package_version ?? "0.1.0"}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === verb);
  if (!entry) {
    io.err(`error: unknown command "${verb}"\n(see 'taskgrid --help')\n`);
    return 2;
  }
  try {
    const command = await entry.load();
    const args = parseCommandArgs(command, rest);
    if (args.flags.help === true) {
      io.out(helpText(command));
      return 0;
    }
    return await command.run(args, io);
  } catch (err) {
    return reportError(err, io, entry.name);
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
