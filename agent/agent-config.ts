// User options compiled once into a fully resolved config (every default applied, every
// duration a `...Ms` number), validated with messages that name the option. The settings
// themselves (types, bounds, defaults) are AGENT_SETTINGS.
import type { ChannelCredentials } from "@grpc/grpc-js";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { AGENT_SETTINGS, cpuCount } from "../src/config/agent-settings.js";
import { resolveSettings, type SettingsOptions } from "../src/config/schema.js";
import { parseToken } from "../src/core/token-format.js";
import { channelCredentials, TlsFileError, type ClientTlsOptions } from "../src/client/tls.js";
import { createLogger, type Logger } from "../src/telemetry/logger.js";
import type { TracingOptions } from "../src/telemetry/tracing.js";
import type { BackoffOptions } from "./backoff.js";
import { LEADER_HINT_DELAY_MS } from "./master-picker.js";
import type { GpuProbeOptions } from "./probes/gpu.js";

export type AgentPhase = "starting" | "connecting" | "registered" | "backoff" | "stopping" | "stopped";

/**
 * Options of startAgent: one optional field per setting of AGENT_SETTINGS (src/config/agent-settings.ts,
 * where each default, bound and meaning is stated), plus what only code can pass.
 */
export interface AgentOptions extends SettingsOptions<typeof AGENT_SETTINGS> {
  /**
   * Master address, host:port, or several separated by commas ("a:50051,b:50051"): the masters
   * of one HA cluster, tried in turn until the leader accepts the agent.
   */
  master: string;
  /** Default: the machine's host name. */
  hostname?: string;
  /** Receives one log line at a time (JSON unless logFormat says otherwise); default: stderr. */
  log?: (line: string) => void;
  /** How nvidia-smi is run (tests put a fake first on PATH). */
  gpuProbe?: GpuProbeOptions;
  backoff?: BackoffOptions;
  /** Delay before following a master's leader hint (default LEADER_HINT_DELAY_MS, 100 ms). */
  leaderHintDelayMs?: number;
  /** Observes lifecycle changes (tests wait on these). */
  onPhase?: (phase: AgentPhase) => void;
  now?: () => number;
  /** Traces: on when `tracing.env` names an OTLP endpoint (the CLI passes the process environment) or `tracing.exporter` is given. Unset: off. */
  tracing?: Partial<TracingOptions>;
  /**
   * TLS to the master: its CA (caFile) and, for mTLS, this agent's certificate and key. Unset:
   * plaintext. The files are read again for every new stream (a rotated client certificate is
   * picked up on the next reconnect; unusable files then keep the previous ones).
   */
  tls?: ClientTlsOptions;
  /** API token ("tg1.<id>.<secret>") sent as `authorization: Bearer <token>` on the stream. */
  token?: string;
}

export interface AgentConfig {
  /** The option as given (for logs). */
  master: string;
  /** The master addresses to try, in order (at least one). */
  masters: string[];
  workerId: string;
  hostname: string;
  tags: string[];
  maxTasks: number;
  cpuMillis: number;
  /** The same logger as the master's; every entry carries this worker's id. */
  logger: Logger;
  heartbeatIntervalMs: number;
  gpuProbe: GpuProbeOptions;
  backoff: BackoffOptions;
  leaderHintDelayMs: number;
  stopGraceMs: number;
  drainTimeoutMs: number;
  registerTimeoutMs: number;
  maxBufferedReports: number;
  stateDir: string | null;
  /** Parent of each task's TASKGRID_CHECKPOINT_DIR; null: the executor's default (under the OS temp dir). */
  checkpointDir: string | null;
  leaseCheckMs: number;
  stopAckWaitMs: number;
  /** Parent of the attempts' log directories (<stateDir>/logs); null: the executor's default (under the OS temp dir). */
  logRoot: string | null;
  taskLogMaxBytes: number;
  taskLogTotalBytes: number;
  onPhase: (phase: AgentPhase) => void;
  now: () => number;
  tracing: TracingOptions;
  tls: ClientTlsOptions | null;
  /** Credentials built from `tls` at start (plaintext when it is null): unusable files fail here. */
  credentials: ChannelCredentials;
  token: string | null;
}

export class AgentConfigError extends Error {
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`agent option ${option} ${reason}`);
    this.name = "AgentConfigError";
  }
}

/**
 * Splits "a:1,b:2" into its addresses (spaces around each trimmed). An empty list or an empty
 * element ("a:1,,b:2", a trailing comma) is a mistake worth failing on, not skipping silently.
 */
export function parseMasterList(master: unknown): string[] {
  if (typeof master !== "string" || master.trim() === "") throw new AgentConfigError("master", "is required (host:port, or several separated by commas)");
  const addresses = master.split(",").map((a) => a.trim());
  if (addresses.some((a) => a === "")) throw new AgentConfigError("master", `has an empty address in "${master}" (expected host:port,host:port,...)`);
  return [...new Set(addresses)];
}

/** Makes any string a valid worker id: 1..128 characters of [A-Za-z0-9._-]. */
export function sanitizeWorkerId(raw: string): string {
  const id = raw.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 128);
  return id === "" ? "worker" : id;
}

export function resolveAgentConfig(o: AgentOptions): AgentConfig {
  const masters = parseMasterList(o.master);
  const s = resolveSettings(
    AGENT_SETTINGS,
    o,
    (key, rule) => new AgentConfigError(key, rule),
    (key) => key,
  );
  const hostname = o.hostname ?? osHostname();
  const workerId = s.workerId ?? sanitizeWorkerId(hostname);
  const now = o.now ?? Date.now;
  if (o.token !== undefined) {
    try {
      parseToken(o.token);
    } catch {
      throw new AgentConfigError("token", 'must be a Taskgrid API token ("tg1.<id>.<secret>")');
    }
  }
  return {
    master: masters.join(","),
    masters,
    workerId,
    hostname,
    tags: [...new Set(s.tags.map((t) => t.trim()).filter((t) => t !== ""))],
    maxTasks: s.maxTasks,
    cpuMillis: cpuCount() * 1000,
    logger: createLogger({ level: s.logLevel, format: s.logFormat, write: o.log, now, fields: { worker: workerId } }),
    heartbeatIntervalMs: s.heartbeatIntervalMs,
    gpuProbe: o.gpuProbe ?? {},
    backoff: o.backoff ?? {},
    leaderHintDelayMs: o.leaderHintDelayMs ?? LEADER_HINT_DELAY_MS,
    stopGraceMs: s.stopGraceMs,
    drainTimeoutMs: s.drainTimeoutMs,
    registerTimeoutMs: s.registerTimeoutMs,
    maxBufferedReports: s.maxBufferedReports,
    stateDir: s.stateDir ?? null,
    checkpointDir: s.checkpointDir ?? (s.stateDir ? join(s.stateDir, "checkpoints") : null),
    leaseCheckMs: s.leaseCheckMs,
    stopAckWaitMs: s.stopAckWaitMs,
    logRoot: s.stateDir ? join(s.stateDir, "logs") : null,
    taskLogMaxBytes: s.taskLogMaxBytes,
    taskLogTotalBytes: s.taskLogTotalBytes,
    onPhase: o.onPhase ?? (() => {}),
    tracing: { serviceName: "taskgrid-agent", ...o.tracing },
    now,
    tls: o.tls ?? null,
    credentials: agentCredentials(o.tls),
    token: o.token ?? null,
  };
}

const TLS_OPTION_NAMES: Record<string, string> = { tls_ca: "tls.caFile", tls_cert: "tls.certFile", tls_key: "tls.keyFile" };

/** Channel credentials for the master, or an AgentConfigError naming the option and the file. */
export function agentCredentials(tls: ClientTlsOptions | undefined): ChannelCredentials {
  try {
    return channelCredentials(tls);
  } catch (err) {
    if (err instanceof TlsFileError) throw new AgentConfigError(TLS_OPTION_NAMES[err.option] ?? err.option, `${err.file}: ${err.reason}`);
    throw err;
  }
}
