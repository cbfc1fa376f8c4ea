// User options -> one fully-resolved config (Temporal style: every duration a `...Ms` number),
// validated at start with messages that name the key.
import { InvalidArgumentError } from "../src/core/errors.js";
import { createLogger, type Logger, type LogFormat, type LogLevel } from "./logger.js";
import { isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS } from "../src/telemetry/log-format.js";
import { systemClock, type Clock } from "./clock.js";
import { DEFAULT_FAILURE_POLICY, type FailurePolicy } from "../src/core/failure-accounting.js";
import type { TracingOptions } from "../src/telemetry/tracing.js";

export interface MasterOptions {
  /** host:port to listen on; default 127.0.0.1:50051 (port 0 picks a free one). */
  listen?: string;
  /** host:port for Prometheus /metrics; unset means off (the CLI defaults it to 127.0.0.1:9464). */
  metrics?: string;
  /** postgres://... ; unset means embedded PGlite under dataDir. */
  databaseUrl?: string;
  /** Embedded database directory; default ./.taskgrid */
  dataDir?: string;
  /** Postgres schema to use (tests isolate themselves with one). */
  schema?: string;
  weightsPath?: string;
  ordering?: "priority" | "fifo";
  /** "rts" (default; falls back to round-robin when it cannot decide) or "round_robin". */
  placement?: "rts" | "round_robin";
  /** Telemetry older than this is not fresh for RTS; default = suspectAfterMs. */
  telemetryMaxAgeMs?: number;
  /** mtime poll of the weights file (fs events are the fast path); <= 5000. */
  weightsPollMs?: number;
  slaMultiplier?: number;
  heartbeatIntervalMs?: number;
  suspectAfterMs?: number;
  offlineAfterMs?: number;
  livenessTickMs?: number;
  cancelGraceMs?: number;
  /** An attempt with a timeout gets no later than timeout + this to report before the master ends it as TIMEOUT; default 30 s. */
  staleMarginMs?: number;
  shutdownTimeoutMs?: number;
  /**
   * Lease an agent holds on its running attempts: it stops them itself when the master has answered
   * none of its heartbeats for this long; default offlineAfterMs / 2. With leaseGraceMs it must end
   * before offlineAfterMs, when the master may requeue the attempts elsewhere.
   */
  leaseMs?: number;
  /** SIGTERM -> SIGKILL grace of an agent whose lease expired; default offlineAfterMs / 4. */
  leaseGraceMs?: number;
  /** Requeues after infrastructure failures when a task does not set max_requeues; default 5. */
  defaultMaxRequeues?: number;
  /** Base of the retry backoff when a task does not set retry_backoff_ms; default 1000. */
  retryBackoffMs?: number;
  /** Upper bound of one retry backoff; default 5 minutes. */
  maxRetryBackoffMs?: number;
  /** Draws retry jitter in [0, 1); default Math.random (tests inject a seeded one). */
  random?: () => number;
  /**
   * Require a token on every call (DESIGN §10). Default off, and then `listen` must be a loopback
   * address unless `insecureAllowAnyone` is set.
   */
  auth?: boolean;
  /** Serve a non-loopback address without auth (logged as a warning every minute). */
  insecureAllowAnyone?: boolean;
  /**
   * With auth on and no admin token yet: the first admin token's secret is written here (mode 0600).
   * Unset: it is printed once to stderr.
   */
  bootstrapTokenFile?: string;
  /** How often cached tokens are re-read, so a revocation by another master ends streams; default 2000. */
  authRefreshMs?: number;
  /** TLS: server certificate chain and key (PEM files), and for mTLS the CA that signs client certificates. */
  tls?: TlsOptions;
  logLevel?: LogLevel;
  /** "text" or "json"; default: text when stderr is a terminal, JSON otherwise (JSON when `log` is set). */
  logFormat?: LogFormat;
  /** Receives each log line; default stderr. */
  log?: (line: string) => void;
  clock?: Clock;
  /**
   * Traces: on when `tracing.env` names an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT; the CLI passes
   * the process environment) or `tracing.exporter` is given. Unset: off.
   */
  tracing?: Partial<TracingOptions>;
}

export interface TlsOptions {
  certFile: string;
  keyFile: string;
  /** Set: clients must present a certificate signed by this CA (mTLS). */
  clientCaFile?: string;
}

export interface AuthConfig {
  enabled: boolean;
  insecureAllowAnyone: boolean;
  bootstrapTokenFile: string | null;
  refreshMs: number;
}

export interface MasterConfig {
  listen: string;
  metrics: string | null;
  databaseUrl: string | undefined;
  dataDir: string;
  schema: string | undefined;
  weightsPath: string;
  ordering: "priority" | "fifo";
  placement: "rts" | "round_robin";
  telemetryMaxAgeMs: number;
  weightsPollMs: number;
  slaMultiplier: number;
  heartbeatIntervalMs: number;
  suspectAfterMs: number;
  offlineAfterMs: number;
  livenessTickMs: number;
  cancelGraceMs: number;
  staleMarginMs: number;
  shutdownTimeoutMs: number;
  leaseMs: number;
  leaseGraceMs: number;
  failurePolicy: FailurePolicy;
  random: () => number;
  auth: AuthConfig;
  tls: TlsOptions | null;
  logger: Logger;
  clock: Clock;
  tracing: TracingOptions;
}

function positive(value: number, key: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(key, `must be a positive number (got ${value})`);
  return value;
}

function wholeNumber(value: number, key: string): number {
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(key, `must be a whole number >= 0 (got ${value})`);
  return value;
}

export function resolveMasterConfig(o: MasterOptions): MasterConfig {
  const listen = o.listen ?? "127.0.0.1:50051";
  if (!/^.+:\d+$/.test(listen)) throw new InvalidArgumentError("listen", `must be host:port (got ${JSON.stringify(listen)})`);
  const ordering = o.ordering ?? "priority";
  if (ordering !== "priority" && ordering !== "fifo") throw new InvalidArgumentError("ordering", 'must be "priority" or "fifo"');
  const placement = o.placement ?? "rts";
  if (placement !== "rts" && placement !== "round_robin") throw new InvalidArgumentError("placement", 'must be "rts" or "round_robin"');
  const weightsPollMs = positive(o.weightsPollMs ?? 1000, "weights_poll_ms");
  if (weightsPollMs > 5000) throw new InvalidArgumentError("weights_poll_ms", "must be <= 5000 (changes must show within 5 s)");
  const heartbeatIntervalMs = positive(o.heartbeatIntervalMs ?? 3000, "heartbeat_interval_ms");
  const suspectAfterMs = positive(o.suspectAfterMs ?? 10_000, "suspect_after_ms");
  const offlineAfterMs = positive(o.offlineAfterMs ?? 20_000, "offline_after_ms");
  if (offlineAfterMs < suspectAfterMs) throw new InvalidArgumentError("offline_after_ms", "must be >= suspect_after_ms");
  const leaseMs = positive(o.leaseMs ?? offlineAfterMs / 2, "lease_ms");
  const leaseGraceMs = positive(o.leaseGraceMs ?? offlineAfterMs / 4, "lease_grace_ms");
  if (leaseMs + leaseGraceMs >= offlineAfterMs) {
    throw new InvalidArgumentError("lease_ms", `lease_ms + lease_grace_ms must be < offline_after_ms, so an agent has stopped its attempts before they are requeued elsewhere (got ${leaseMs} + ${leaseGraceMs} >= ${offlineAfterMs})`);
  }
  if (leaseMs < 2 * heartbeatIntervalMs) throw new InvalidArgumentError("lease_ms", `must be >= 2 x heartbeat_interval_ms (got ${leaseMs}, heartbeat ${heartbeatIntervalMs})`);
  const failurePolicy: FailurePolicy = {
    defaultMaxRequeues: wholeNumber(o.defaultMaxRequeues ?? DEFAULT_FAILURE_POLICY.defaultMaxRequeues, "default_max_requeues"),
    defaultRetryBackoffMs: wholeNumber(o.retryBackoffMs ?? DEFAULT_FAILURE_POLICY.defaultRetryBackoffMs, "retry_backoff_ms"),
    maxRetryBackoffMs: wholeNumber(o.maxRetryBackoffMs ?? DEFAULT_FAILURE_POLICY.maxRetryBackoffMs, "max_retry_backoff_ms"),
  };
  const slaMultiplier = positive(o.slaMultiplier ?? 2.0, "sla_multiplier");
  if (slaMultiplier < 1) throw new InvalidArgumentError("sla_multiplier", "must be >= 1");
  const logLevel = o.logLevel ?? "info";
  if (!isLogLevel(logLevel)) throw new InvalidArgumentError("log_level", `must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(logLevel)})`);
  const auth: AuthConfig = {
    enabled: o.auth ?? false,
    insecureAllowAnyone: o.insecureAllowAnyone ?? false,
    bootstrapTokenFile: o.bootstrapTokenFile || null,
    refreshMs: positive(o.authRefreshMs ?? 2000, "auth_refresh_ms"),
  };
  if (!auth.enabled && !auth.insecureAllowAnyone && !isLoopbackListen(listen)) {
    throw new InvalidArgumentError("listen", `${listen} is reachable from other machines: turn on auth (--auth), or pass --insecure-allow-anyone to let anyone who reaches it run commands on every agent`);
  }
  if (o.tls && (!o.tls.certFile || !o.tls.keyFile)) throw new InvalidArgumentError("tls", "cert_file and key_file are both required");
  if (o.logFormat !== undefined && !isLogFormat(o.logFormat)) throw new InvalidArgumentError("log_format", `must be one of ${LOG_FORMATS.join(", ")} (got ${JSON.stringify(o.logFormat)})`);
  return {
    listen,
    metrics: o.metrics || null,
    databaseUrl: o.databaseUrl || undefined,
    dataDir: o.dataDir ?? ".taskgrid",
    schema: o.schema,
    weightsPath: o.weightsPath ?? "config/ga_output.json",
    ordering,
    placement,
    telemetryMaxAgeMs: positive(o.telemetryMaxAgeMs ?? suspectAfterMs, "telemetry_max_age_ms"),
    weightsPollMs,
    slaMultiplier,
    heartbeatIntervalMs,
    suspectAfterMs,
    offlineAfterMs,
    livenessTickMs: positive(o.livenessTickMs ?? 1000, "liveness_tick_ms"),
    cancelGraceMs: positive(o.cancelGraceMs ?? 10_000, "cancel_grace_ms"),
    staleMarginMs: positive(o.staleMarginMs ?? 30_000, "stale_margin_ms"),
    shutdownTimeoutMs: positive(o.shutdownTimeoutMs ?? 10_000, "shutdown_timeout_ms"),
    leaseMs,
    leaseGraceMs,
    failurePolicy,
    random: o.random ?? Math.random,
    auth,
    tls: o.tls ?? null,
    logger: createLogger({ level: logLevel, format: o.logFormat, write: o.log }),
    clock: o.clock ?? systemClock,
    tracing: { serviceName: "taskgrid-master", ...o.tracing },
  };
}

/** Whether `host:port` is reachable only from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackListen(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
