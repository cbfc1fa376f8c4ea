// `taskgrid agent --master host:port`: runs an agent until SIGINT/SIGTERM, then drains (running
// tasks finish, bounded) and stops.
import { stringFlag, listFlag, type ParsedArgs } from "../args.js";
import { AUTH_CLIENT_FLAGS, clientCredentials, clientTls, resolveToken } from "../client-options.js";
import { masterAddress, MASTER_FLAG, type Command, type Io } from "../command.js";
import { LOG_FLAGS, logOptions } from "../log-options.js";
import { parseInteger, parseList } from "../parse.js";
import { stopOnSignal } from "../shutdown.js";
import { UsageError } from "../usage-error.js";
import type { ClientTlsOptions } from "../../client/index.js";

/** How long a stopping agent lets running tasks finish before it stops anyway. */
export const DRAIN_BOUND_MS = 30_000;

export const AGENT_FLAGS = {
  tags: { type: "string", value: "A,B", multiple: true, description: "tags this worker offers (e.g. gpu,ssd,zone=eu)" },
  "max-tasks": { type: "string", value: "N", description: "most tasks run at once (default: number of CPUs)" },
  id: { type: "string", value: "ID", description: "worker id (default: derived from the host name)" },
  "state-dir": { type: "string", value: "DIR", description: "where unacknowledged results survive a restart (default .taskgrid/agent-ID)" },
} as const;

export interface AgentCliOptions {
  workerId?: string;
  tags: string[];
  maxTasks?: number;
  stateDir?: string;
}

export function agentOptions(args: ParsedArgs): AgentCliOptions {
  const maxTasks = stringFlag(args, "max-tasks");
  const id = stringFlag(args, "id");
  return {
    tags: parseList(listFlag(args, "tags")),
    ...(maxTasks === undefined ? {} : { maxTasks: parseInteger(maxTasks, "max-tasks", 1, 100_000) }),
    ...(id === undefined ? {} : { workerId: id }),
    ...(stringFlag(args, "state-dir") === undefined ? {} : { stateDir: stringFlag(args, "state-dir") }),
  };
}

/**
 * Token and TLS of `taskgrid agent`, resolved like a client verb's (--token, TASKGRID_TOKEN, the
 * credentials file; --tls-*). The TLS files are checked here so a bad one is named by its flag.
 */
export function agentAuthOptions(args: ParsedArgs, env: Record<string, string | undefined>): { token?: string; tls?: ClientTlsOptions } {
  const token = resolveToken(args, env);
  const tls = clientTls(args, env);
  clientCredentials(tls);
  return { ...(token ? { token: token.token } : {}), ...(tls ? { tls } : {}) };
}

/** Drain with a bound, then stop: a task that never ends must not keep the agent alive forever. */
export async function drainThenStop(agent: { drain(timeoutMs?: number): Promise<void>; stop(): Promise<void> }): Promise<void> {
  await agent.drain(DRAIN_BOUND_MS);
  await agent.stop();
}

/** Reports the first registration; an agent stopped before registering rejects `ready`, which is fine. */
export function announceWhenReady(agent: { workerId: string; ready: Promise<void> }, master: string, io: Io): void {
  agent.ready.then(
    () => io.err(`taskgrid agent ${agent.workerId} connected to ${master}\n`),
    () => undefined,
  );
}

export const agentCommand: Command = {
  name: "agent",
  summary: "Run an agent that executes tasks on this machine",
  usage: "agent --master HOST:PORT [flags]",
  flags: { ...MASTER_FLAG, ...AGENT_FLAGS, ...AUTH_CLIENT_FLAGS, ...LOG_FLAGS },
  notes:
    "GPUs are detected with nvidia-smi when present. On SIGINT/SIGTERM the agent drains (running tasks finish) and stops.\n" +
    "A master with --auth needs an agent token (taskgrid token create --role agent --project P --worker 'gpu-*').\n" +
    "With OTEL_EXPORTER_OTLP_ENDPOINT set, each attempt is exported as a span of its task's trace.",
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`agent takes no arguments (got "${args.positionals[0]}")`);
    const options = { ...agentOptions(args), ...logOptions(args, io.env), ...agentAuthOptions(args, io.env) };
    const master = masterAddress(args, io);
    const { startAgent } = await import("../../../agent/agent.js");
    const { resolveAgentConfig } = await import("../../../agent/agent-config.js");
    const workerId = resolveAgentConfig({ master, ...options }).workerId;
    const agent = startAgent({ master, stateDir: `.taskgrid/agent-${workerId}`, ...options, tracing: { env: io.env } });
    // Signals are handled from the start: an agent still retrying an unreachable master must stop on Ctrl-C too.
    const stopped = stopOnSignal(() => drainThenStop(agent), { timeoutMs: DRAIN_BOUND_MS + 10_000, log: (line) => io.err(line + "\n") });
    io.err(`taskgrid agent ${agent.workerId} connecting to ${master}\n`);
    announceWhenReady(agent, master, io);
    return stopped;
  },
};
