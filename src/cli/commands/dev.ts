// `taskgrid dev`: a master on the embedded database plus one local agent in this process, for a first try.
import type { Command } from "../command.js";
import { stringFlag } from "../args.js";
import { LOG_FLAGS, logOptions } from "../log-options.js";
import { parseAddress } from "../parse.js";
import { stopOnSignal } from "../shutdown.js";
import { UsageError } from "../usage-error.js";
import { AGENT_FLAGS, agentOptions, drainThenStop, DRAIN_BOUND_MS } from "./agent.js";
import { SHUTDOWN_BOUND_MS } from "./master.js";

export const devCommand: Command = {
  name: "dev",
  summary: "Run a master (embedded database) and one local agent, for a first try",
  usage: "dev [flags]",
  flags: {
    listen: { type: "string", value: "HOST:PORT", description: "gRPC address (default 127.0.0.1:50051)" },
    "data-dir": { type: "string", value: "DIR", description: "embedded database directory (default .taskgrid)" },
    metrics: { type: "string", value: "HOST:PORT", description: "Prometheus /metrics address (default 127.0.0.1:9464)" },
    weights: { type: "string", value: "FILE", description: "RTS weights file (default config/ga_output.json)" },
    ...AGENT_FLAGS,
    ...LOG_FLAGS,
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`dev takes no arguments (got "${args.positionals[0]}")`);
    const listen = stringFlag(args, "listen");
    const agentOpts = agentOptions(args);
    // One level and format for both halves: they share the terminal.
    const logOpts = logOptions(args, io.env);
    const { startMaster } = await import("../../../master/master.js");
    const { startAgent } = await import("../../../agent/agent.js");

    // Always the embedded database, even when TASKGRID_DATABASE_URL is set: dev must not touch a real one.
    const master = await startMaster({
      databaseUrl: undefined,
      dataDir: stringFlag(args, "data-dir") ?? ".taskgrid",
      ...logOpts,
      metrics: parseAddress(stringFlag(args, "metrics") ?? "127.0.0.1:9464", "metrics"),
      ...(listen === undefined ? {} : { listen: parseAddress(listen, "listen") }),
      ...(stringFlag(args, "weights") === undefined ? {} : { weightsPath: stringFlag(args, "weights") }),
      tracing: { env: io.env },
    });
    const dataDir = stringFlag(args, "data-dir") ?? ".taskgrid";
    const agent = startAgent({ master: master.address, stateDir: `${dataDir}/agent`, ...agentOpts, ...logOpts, tracing: { env: io.env } });
    const stopped = stopOnSignal(
      async () => {
        await drainThenStop(agent);
        await master.stop();
      },
      { timeoutMs: DRAIN_BOUND_MS + SHUTDOWN_BOUND_MS, log: (line) => io.err(line + "\n") },
    );
    const masterFlag = master.address === "127.0.0.1:50051" ? "" : ` --master ${master.address}`;
    io.err(`taskgrid dev: master listening on ${master.address}${master.metricsAddress ? `, metrics on http://${master.metricsAddress}/metrics` : ""}\n`);
    agent.ready.then(
      () =>
        io.err(
          `taskgrid dev: agent ${agent.workerId} connected\n` +
            `Submit a first task from another terminal:\n  npx taskgrid submit${masterFlag} --wait -- echo hello\n` +
            `Ctrl-C stops both.\n`,
        ),
      () => undefined,
    );
    return stopped;
  },
};
