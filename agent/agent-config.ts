// User options compiled once into a fully resolved config (every default applied, every
// duration a `...Ms` number), validated with messages that name the option.
import type { ChannelCredentials } from "@grpc/grpc-js";
import { availableParallelism, hostname as osHostname } from "node:os";
import { parseToken } from "../src/core/token-format.js";
import { channelCredentials, TlsFileError, type ClientTlsOptions } from "../src/client/tls.js";
import { createLogger, isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger, type LogLevel } from "../src/telemetry/logger.js";
import type { TracingOptions } from "../src/telemetry/tracing.js";
import type { BackoffOptions } from "./backoff.js";
import type { GpuProbeOptions } from "./probes/gpu.js";

export type AgentPhase = "starting" | "connecting" | "registered" | "backoff" | "stopping" | "stopped";

export interface AgentOptions {
  /** Master address, host:port. */
  master: string;
  /** Stable worker id; default: the host name, sanitised to [A-Za-z0-9._-]. */
  workerId?: string;
  tags?: string[];
  /** Attempts run at once; default: the number of CPUs. */
  maxTasks?: number;
  hostname?: string;
  /** Receives one log line at a time (JSON unless logFormat says otherwise); default: stderr. */
  log?: (line: string) => void;
  /** Lowest level logged; default "info". */
  logLevel?: LogLevel;
  /** "text" or "json"; default: text when stderr is a terminal, JSON otherwise. */
  logFormat?: LogFormat;
  /** Heartbeat period when the master does not set one in `registered`; default 3000. */
  heartbeatIntervalMs?: number;
  /** How nvidia-smi is run (tests put a fake first on PATH). */
  gpuProbe?: GpuProbeOptions;
  backoff?: BackoffOptions;
  /** SIGTERM -> SIGKILL grace for attempts killed by stop() or the master's kill list; default 5000. */
  stopGraceMs?: number;
  /** Upper bound of drain(); default 10 minutes. */
  drainTimeoutMs?: number;
  /** Close the stream when `registered` does not come within this; default 30000. */
  registerTimeoutMs?: number;
  maxBufferedReports?: number;
  /**
   * Directory for what must survive an agent restart (finished reports the master has not
   * acknowledged). Unset: kept in memory only. The CLI defaults it to .taskgrid/agent-<worker id>.
   */
  stateDir?: string;
  /** How often the lease on running attempts is checked; default 250. */
  leaseCheckMs?: number;
  /** On stop, how long to wait for the master to acknowledge finished reports; default 2000. */
  stopAckWaitMs?: number;
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
  master: string;
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
  stopGraceMs: number;
  drainTimeoutMs: number;
  registerTimeoutMs: number;
  maxBufferedReports: number;
  stateDir: string | null;
  leaseCheckMs: number;
  stopAckWaitMs: number;
  onPhase: (phase: AgentPhase) => void;
  now: () => number;
  tracing: TracingOptions;
  tls: ClientTlsOptions | null;
  /** Credentials built from `tls` at start (plaintext when it is null): unusable files fail here. */
  credentials: ChannelCredentials;
  token: string | null;
}

export class AgentConfigError extends Error {
  constructor(readonly option: string, reason: string) {
    super(`agent option ${option} ${reason}`);
    this.name = "AgentConfigError";
  }
}

/** Makes any string a valid worker id: 1..128 characters of [A-Za-z0-9._-]. */
export function sanitizeWorkerId(raw: string): string {
  const id = raw.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 128);
  return id === "" ? "worker" : id;
}

export function resolveAgentConfig(o: AgentOptions): AgentConfig {
  if (typeof o.master !== "string" || o.master.trim() === "") throw new AgentConfigError("master", "is required (host:port)");
  const cpus = Math.max(1, availableParallelism());
  const maxTasks = o.maxTasks ?? cpus;
  if (!Number.isInteger(maxTasks) || maxTasks < 0 || maxTasks > 100_000) throw new AgentConfigError("maxTasks", "must be an integer 0..100000");
  if (o.workerId !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(o.workerId)) {
    throw new AgentConfigError("workerId", "must be 1..128 characters of [A-Za-z0-9._-]");
  }
  const hostname = o.hostname ?? osHostname();
  if (o.logLevel !== undefined && !isLogLevel(o.logLevel)) throw new AgentConfigError("logLevel", `must be one of ${LOG_LEVELS.join(", ")}`);
  if (o.logFormat !== undefined && !isLogFormat(o.logFormat)) throw new AgentConfigError("logFormat", `must be one of ${LOG_FORMATS.join(", ")}`);
  const workerId = o.workerId ?? sanitizeWorkerId(hostname);
  const now = o.now ?? Date.now;
  if (o.token !== undefined) {
    try {
      parseToken(o.token);
    } catch {
      throw new AgentConfigError("token", 'must be a Taskgrid API token ("tg1.<id>.<secret>")');
    }
  }
  return {
    master: o.master,
    workerId,
    hostname,
    tags: [...new Set((o.tags ?? []).map((t) => t.trim()).filter((t) => t !== ""))],
    maxTasks,
    cpuMillis: cpus * 1000,
    logger: createLogger({ level: o.logLevel, format: o.logFormat, write: o.log, now, fields: { worker: workerId } }),
    heartbeatIntervalMs: positive(o.heartbeatIntervalMs ?? 3_000, "heartbeatIntervalMs"),
    gpuProbe: o.gpuProbe ?? {},
    backoff: o.backoff ?? {},
    stopGraceMs: nonNegative(o.stopGraceMs ?? 5_000, "stopGraceMs"),
    drainTimeoutMs: nonNegative(o.drainTimeoutMs ?? 600_000, "drainTimeoutMs"),
    registerTimeoutMs: positive(o.registerTimeoutMs ?? 30_000, "registerTimeoutMs"),
    maxBufferedReports: positive(o.maxBufferedReports ?? 10_000, "maxBufferedReports"),
    stateDir: o.stateDir ?? null,
    leaseCheckMs: positive(o.leaseCheckMs ?? 250, "leaseCheckMs"),
    stopAckWaitMs: nonNegative(o.stopAckWaitMs ?? 2_000, "stopAckWaitMs"),
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

function positive(v: number, name: string): number {
  if (!(Number.isFinite(v) && v > 0)) throw new AgentConfigError(name, "must be > 0");
  return v;
}

function nonNegative(v: number, name: string): number {
  if (!(Number.isFinite(v) && v >= 0)) throw new AgentConfigError(name, "must be >= 0");
  return v;
}
