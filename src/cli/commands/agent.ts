// `taskgrid agent --master host:port`: runs an agent until SIGINT/SIGTERM, then drains (running
// tasks finish, bounded) and stops.
import type { AgentOptions } from "../../../agent/agent-config.js";
import type { FlagSpecs, ParsedArgs } from "../args.js";
import { AUTH_CLIENT_FLAGS, clientCredentials, clientTls, resolveToken } from "../client-options.js";
import { masterAddress, MASTER_FLAG, type Command, type Io } from "../command.js";
import { AGENT_SETTINGS, agentStateDir } from "../../config/agent-settings.js";
import { LOG_FLAGS } from "../log-options.js";
import { flagSpecs, readFlagsAndEnv, toOptions } from "../setting-flags.js";
import { stopOnSignal } from "../shutdown.js";
import { UsageError } from "../usage-error.js";
import type { ClientTlsOptions } from "../../client/index.js";

/** How long a stopping agent lets running tasks finish before it stops anyway. */
export const DRAIN_BOUND_MS = 30_000;

const agentOnly = Object.entries(flagSpecs(AGENT_SETTINGS)).filter(([name]) => !Object.hasOwn(LOG_FLAGS, name));

/** Every flag of `taskgrid agent`: --master, the agent's settings, the client verbs' token and TLS flags, logging. */
export const AGENT_FLAGS: FlagSpecs = { ...MASTER_FLAG, ...Object.fromEntries(agentOnly), ...AUTH_CLIENT_FLAGS, ...LOG_FLAGS };

/** What the agent's flags and variables set (startAgent options), nothing else. */
export type AgentCliOptions = Omit<AgentOptions, "master">;

export function agentOptions(args: ParsedArgs, env: Record<string, string | undefined>): AgentCliOptions {
  return toOptions(AGENT_SETTINGS, readFlagsAndEnv(AGENT_SETTINGS, args, env).values) as AgentCliOptions;
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
  flags: AGENT_FLAGS,
  notes:
    "GPUs are detected with nvidia-smi when present. On SIGINT/SIGTERM the agent drains (running tasks finish) and stops.\n" +
    "A master with --auth needs an agent token (taskgrid token create --role agent --project P --worker 'gpu-*').\n" +
    "With OTEL_EXPORTER_OTLP_ENDPOINT set, each attempt is exported as a span of its task's trace.",
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`agent takes no arguments (got "${args.positionals[0]}")`);
    const options = { ...agentOptions(args, io.env), ...agentAuthOptions(args, io.env) };
    const master = masterAddress(args, io);
    const { startAgent } = await import("../../../agent/agent.js");
    const { resolveAgentConfig } = await import("../../../agent/agent-config.js");
    const workerId = resolveAgentConfig({ master, ...options }).workerId;
    const agent = startAgent({ master, stateDir: agentStateDir(workerId), ...options, tracing: { env: io.env } });
    // Signals are handled from the start: an agent still retrying an unreachable master must stop on Ctrl-C too.
    const stopped = stopOnSignal(() => drainThenStop(agent), { timeoutMs: DRAIN_BOUND_MS + 10_000, log: (line) => io.err(`${line}\n`) });
    io.err(`taskgrid agent ${agent.workerId} connecting to ${master}\n`);
    announceWhenReady(agent, master, io);
    return stopped;
  },
};
