// `taskgrid master`: runs the master until SIGINT/SIGTERM, then stops it within a bounded time.
import { readFileSync } from "node:fs";
import type { Command } from "../command.js";
import { LOG_FLAGS } from "../log-options.js";
import { resolveMasterOptions } from "../master-options.js";
import { stopOnSignal } from "../shutdown.js";
import { UsageError } from "../usage-error.js";

export const SHUTDOWN_BOUND_MS = 10_000;

export const masterCommand: Command = {
  name: "master",
  summary: "Run the master (gRPC API, scheduler, agent streams)",
  usage: "master [flags]",
  flags: {
    listen: { type: "string", value: "HOST:PORT", description: "gRPC address (env TASKGRID_LISTEN, default 127.0.0.1:50051)" },
    metrics: { type: "string", value: "HOST:PORT", description: "Prometheus /metrics address (env TASKGRID_METRICS, default 127.0.0.1:9464)" },
    "database-url": { type: "string", value: "URL", description: "postgres://... (env TASKGRID_DATABASE_URL); unset: embedded database" },
    "data-dir": { type: "string", value: "DIR", description: "embedded database directory (env TASKGRID_DATA_DIR, default .taskgrid)" },
    weights: { type: "string", value: "FILE", description: "RTS weights file (env TASKGRID_WEIGHTS, default config/ga_output.json)" },
    config: { type: "string", value: "FILE", description: "config file, JSON or flat YAML (env TASKGRID_CONFIG); flags and env override it" },
    ...LOG_FLAGS,
  },
  notes:
    "Listening beyond loopback (e.g. --listen 0.0.0.0:50051) is an explicit choice: the API has no auth yet.\n" +
    "Traces (one per task) are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (see docs/operations.md, Tracing).",
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`master takes no arguments (got "${args.positionals[0]}")`);
    const options = resolveMasterOptions(args, io.env, (path) => readFileSync(path, "utf8"));
    options.metrics ??= "127.0.0.1:9464";
    // Imported lazily so client verbs never load the server, the store or the database driver.
    const { startMaster } = await import("../../../master/master.js");
    // Traces follow the standard OTEL_* variables (off unless an OTLP endpoint is set).
    const master = await startMaster({ ...options, tracing: { env: io.env } });
    io.err(`taskgrid master listening on ${master.address}${master.metricsAddress ? ` (metrics on http://${master.metricsAddress}/metrics)` : ""}\n`);
    return stopOnSignal(() => master.stop(), { timeoutMs: SHUTDOWN_BOUND_MS, log: (line) => io.err(line + "\n") });
  },
};
