// `taskgrid dev`: a master on the embedded database plus one local agent in this process, for a first try.
import { DEFAULT_MASTER_ADDRESS } from "../../client/index.js";
import type { Command } from "../command.js";
import { portIsFree } from "../port-free.js";
import { DEV_SETTINGS, devStateDir } from "../../config/dev-settings.js";
import { flagSpecs, readFlagsAndEnv, withCliDefaults } from "../setting-flags.js";
import { stopOnSignal } from "../shutdown.js";
import { UsageError } from "../usage-error.js";
import { drainThenStop, DRAIN_BOUND_MS } from "./agent.js";
import { SHUTDOWN_BOUND_MS } from "./master.js";

export const devCommand: Command = {
  name: "dev",
  summary: "Run a master (embedded database) and one local agent, for a first try",
  usage: "dev [flags]",
  flags: flagSpecs(DEV_SETTINGS),
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`dev takes no arguments (got "${args.positionals[0]}")`);
    const given = withCliDefaults(DEV_SETTINGS, readFlagsAndEnv(DEV_SETTINGS, args, io.env).values);
    const { listen, metrics, weightsPath, tags, maxTasks, workerId, stateDir, logLevel, logFormat } = given;
    const dataDir = given.dataDir ?? DEV_SETTINGS.dataDir.default;
    // A busy port is the usual mistake (a second dev); say so before the database is prepared.
    for (const [flag, address] of [
      ["listen", listen ?? DEV_SETTINGS.listen.default],
      ["metrics", metrics],
    ] as const) {
      if (address === undefined || (await portIsFree(address))) continue;
      io.err(`taskgrid dev: ${address} is in use (another master?); pick another with --${flag}\n`);
      return 1;
    }
    // One level and format for both halves: they share the terminal.
    const logOpts = { ...(logLevel === undefined ? {} : { logLevel }), ...(logFormat === undefined ? {} : { logFormat }) };
    const { startMaster } = await import("../../../master/master.js");
    const { startAgent } = await import("../../../agent/agent.js");

    // Always the embedded database, even when TASKGRID_DATABASE_URL is set: dev must not touch a real one.
    const master = await startMaster({ databaseUrl: undefined, dataDir, metrics, listen, weightsPath, ...logOpts, tracing: { env: io.env } });
    const agent = startAgent({
      master: master.address,
      stateDir: stateDir ?? devStateDir(dataDir),
      tags,
      maxTasks,
      workerId,
      ...logOpts,
      tracing: { env: io.env },
    });
    const stopped = stopOnSignal(
      async () => {
        await drainThenStop(agent);
        await master.stop();
      },
      { timeoutMs: DRAIN_BOUND_MS + SHUTDOWN_BOUND_MS, log: (line) => io.err(`${line}\n`) },
    );
    const masterFlag = master.address === DEFAULT_MASTER_ADDRESS ? "" : ` --master ${master.address}`;
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
