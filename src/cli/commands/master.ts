// `taskgrid master`: runs the master until SIGINT/SIGTERM, then stops it within a bounded time.
// SIGHUP re-reads the TLS certificate files.
import { readFileSync } from "node:fs";
import type { Command, Io } from "../command.js";
import { MASTER_SETTINGS } from "../../config/master-settings.js";
import { MASTER_FLAGS, resolveMasterOptions } from "../master-options.js";
import { withCliDefaults } from "../setting-flags.js";
import { stopOnSignal } from "../shutdown.js";
import { UsageError } from "../usage-error.js";

export const SHUTDOWN_BOUND_MS = 10_000;

/** What the master command prints after a SIGHUP-triggered TLS reload. */
export function tlsReloadMessage(outcome: boolean | Error): string {
  if (outcome instanceof Error) return `received SIGHUP; TLS reload failed: ${outcome.message}`;
  return outcome
    ? "received SIGHUP; TLS certificate files re-read (new connections use them)"
    : "received SIGHUP; TLS reload failed, keeping the previous certificates (the log says which file is unusable)";
}

/**
 * Calls `reload` on every SIGHUP and reports the outcome; returns the function that stops listening.
 * Installed only when TLS is on: otherwise there is nothing to re-read, and SIGHUP keeps its default
 * (a closed terminal still ends a master started from it).
 */
export function reloadTlsOnSighup(reload: () => Promise<boolean>, io: Pick<Io, "err">): () => void {
  const onHup = () => {
    reload().then(
      (ok) => io.err(`${tlsReloadMessage(ok)}\n`),
      (err: unknown) => io.err(`${tlsReloadMessage(err instanceof Error ? err : new Error(String(err)))}\n`),
    );
  };
  process.on("SIGHUP", onHup);
  return () => void process.off("SIGHUP", onHup);
}

export const masterCommand: Command = {
  name: "master",
  summary: "Run the master (gRPC API, scheduler, agent streams)",
  usage: "master [flags]",
  flags: MASTER_FLAGS,
  notes:
    "Listening beyond loopback (e.g. --listen 0.0.0.0:50051) needs --auth (clients present API tokens; see\n" +
    "'taskgrid token --help') or an explicit --insecure-allow-anyone. With --auth and no admin token yet, the\n" +
    "master creates one: written to --bootstrap-token-file, or printed once in the log.\n" +
    "With TLS, SIGHUP re-reads the certificate files (the master also notices when they change).\n" +
    "Traces (one per task) are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (see docs/operations.md, Tracing).",
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`master takes no arguments (got "${args.positionals[0]}")`);
    const options = withCliDefaults(
      MASTER_SETTINGS,
      resolveMasterOptions(args, io.env, (path) => readFileSync(path, "utf8")),
    );
    // Imported lazily so client verbs never load the server, the store or the database driver.
    const { startMaster } = await import("../../../master/master.js");
    // Traces follow the standard OTEL_* variables (off unless an OTLP endpoint is set).
    const master = await startMaster({ ...options, tracing: { env: io.env } });
    const stopReloading = options.tls ? reloadTlsOnSighup(() => master.reloadTls(), io) : () => undefined;
    const features = [options.tls ? (options.tls.clientCaFile ? "mTLS" : "TLS") : "", options.auth ? "auth on" : ""].filter(Boolean).join(", ");
    io.err(
      `taskgrid master listening on ${master.address}${features ? ` (${features})` : ""}` +
        `${master.metricsAddress ? ` (metrics on http://${master.metricsAddress}/metrics)` : ""}\n`,
    );
    return stopOnSignal(
      async () => {
        stopReloading();
        await master.stop();
      },
      { timeoutMs: SHUTDOWN_BOUND_MS, log: (line) => io.err(`${line}\n`) },
    );
  },
};
