// User options -> one fully-resolved config (Temporal style: every duration a `...Ms` number),
// validated at start with messages that name the key. The settings themselves (types, bounds,
// defaults) are MASTER_SETTINGS; this file adds the rules between them and the config's shape.
import type { ArrayPacing } from "../src/core/array-elements.js";
import { InvalidArgumentError } from "../src/core/errors.js";
import type { BillingWeights, DefaultQuota, MultifactorWeights } from "../src/core/fairshare/types.js";
import { validateDefaultQuota } from "../src/core/fairshare/demand.js";
import { BACKFILL_POLICIES, type BackfillPolicy } from "../src/core/backfill/reservations.js";
import type { PreemptionConfig } from "./preemptions.js";
import { createLogger, type Logger } from "./logger.js";
import { systemClock, type Clock } from "./clock.js";
import type { FailurePolicy } from "../src/core/failure-accounting.js";
import type { TracingOptions } from "../src/telemetry/tracing.js";
import { MASTER_SETTINGS, type MasterSettingKey } from "../src/config/master-settings.js";
import { bothNames, resolveSettings, type Resolved, type SettingsOptions } from "../src/config/schema.js";

/**
 * Options of startMaster: one optional field per setting of MASTER_SETTINGS (src/config/master-settings.ts,
 * where each default, bound and meaning is stated), plus what only code can pass.
 */
export interface MasterOptions extends SettingsOptions<typeof MASTER_SETTINGS> {
  /** Draws retry jitter in [0, 1); default Math.random (tests inject a seeded one). */
  random?: () => number;
  /** TLS: server certificate chain and key (PEM files), and for mTLS the CA that signs client certificates. */
  tls?: TlsOptions;
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

/** Quotas and fair share between projects (issue 15, docs/scheduling.md). */
export interface SharingConfig {
  halfLifeMs: number;
  billing: BillingWeights;
  weights: MultifactorWeights;
  maxAgeMs: number;
  provider: "local" | "file";
  /** The quota file (provider "file"); null otherwise. */
  quotaFile: string | null;
  /** The quota of a project without one; null: unlimited. */
  defaultQuota: DefaultQuota;
  usageTickMs: number;
}

export interface MasterConfig {
  listen: string;
  /** null: the address `listen` bound. */
  advertise: string | null;
  metrics: string | null;
  databaseUrl: string | undefined;
  dataDir: string;
  schema: string | undefined;
  weightsPath: string;
  ordering: Resolved<typeof MASTER_SETTINGS>["ordering"];
  placement: Resolved<typeof MASTER_SETTINGS>["placement"];
  /** Reservations and backfill: K blocked tasks reserved (0 none, 1 easy, Infinity conservative); the runtime of a task without an estimate. */
  backfill: { reservations: number; defaultRuntimeMs: number };
  /** Preemption (master/preemptions.ts); enabled false: none. */
  preemption: PreemptionConfig;
  /** Most indexes of one job array (src/core/arrays.ts). */
  maxArraySize: number;
  /** How job arrays' elements are created (src/core/array-elements.ts). */
  arrayPacing: ArrayPacing;
  /** Finished tasks older than this are deleted (history-retention.ts); 0: kept for ever. */
  historyRetentionMs: number;
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
  leaderLeaseMs: number;
  leaderOutageHoldMs: number;
  sharing: SharingConfig;
  failurePolicy: FailurePolicy;
  random: () => number;
  auth: AuthConfig;
  tls: TlsOptions | null;
  logger: Logger;
  clock: Clock;
  tracing: TracingOptions;
}

type Key = MasterSettingKey;

/** Messages to programmatic callers name both forms of a key: "sla_multiplier (slaMultiplier)". */
const name = (key: Key): string => bothNames(MASTER_SETTINGS, key);
const invalid = (key: Key, rule: string): InvalidArgumentError => new InvalidArgumentError(name(key), rule);

export function resolveMasterConfig(o: MasterOptions): MasterConfig {
  const s = resolveSettings(MASTER_SETTINGS, o, invalid, name);
  // Rules between settings (each setting's own type, bounds and default are in MASTER_SETTINGS).
  if (s.offlineAfterMs < s.suspectAfterMs)
    throw invalid("offlineAfterMs", `must be >= ${name("suspectAfterMs")} (got ${s.offlineAfterMs} < ${s.suspectAfterMs})`);
  if (s.leaseMs + s.leaseGraceMs >= s.offlineAfterMs) {
    throw invalid(
      "leaseMs",
      `must be < ${name("offlineAfterMs")} - ${name("leaseGraceMs")}, so an agent has stopped its attempts before they are requeued elsewhere (got ${s.leaseMs} + ${s.leaseGraceMs} >= ${s.offlineAfterMs})`,
    );
  }
  if (s.leaseMs < 2 * s.heartbeatIntervalMs)
    throw invalid("leaseMs", `must be >= 2 x ${name("heartbeatIntervalMs")} (got ${s.leaseMs}, heartbeat ${s.heartbeatIntervalMs})`);
  if (s.quotaProvider === "file" && !s.quotaFile) throw invalid("quotaFile", `is required with ${name("quotaProvider")} file`);
  if (!s.auth && !s.insecureAllowAnyone && !isLoopbackListen(s.listen)) {
    const { auth, insecureAllowAnyone: anyone } = MASTER_SETTINGS;
    throw invalid(
      "listen",
      `${s.listen} is reachable from other machines: turn on auth (--${auth.flag}), or pass --${anyone.flag} to let anyone who reaches it run commands on every agent`,
    );
  }
  return {
    listen: s.listen,
    advertise: s.advertise ?? null,
    metrics: s.metrics ?? null,
    databaseUrl: s.databaseUrl,
    dataDir: s.dataDir,
    schema: s.schema,
    weightsPath: s.weightsPath,
    ordering: s.ordering,
    placement: s.placement,
    backfill: { reservations: reservationsOf(s.backfill), defaultRuntimeMs: s.backfillDefaultRuntimeMs },
    preemption: { enabled: s.preemption, priorityMargin: s.preemptionPriorityMargin, perMinute: s.preemptionRateLimit },
    maxArraySize: s.maxArraySize,
    arrayPacing: { chunk: s.arrayElementsChunk, ahead: s.arrayElementsAhead },
    historyRetentionMs: s.historyRetentionDays * 24 * 3600 * 1000,
    telemetryMaxAgeMs: s.telemetryMaxAgeMs,
    weightsPollMs: s.weightsPollMs,
    slaMultiplier: s.slaMultiplier,
    heartbeatIntervalMs: s.heartbeatIntervalMs,
    suspectAfterMs: s.suspectAfterMs,
    offlineAfterMs: s.offlineAfterMs,
    livenessTickMs: s.livenessTickMs,
    cancelGraceMs: s.cancelGraceMs,
    staleMarginMs: s.staleMarginMs,
    shutdownTimeoutMs: s.shutdownTimeoutMs,
    leaseMs: s.leaseMs,
    leaseGraceMs: s.leaseGraceMs,
    leaderLeaseMs: s.leaderLeaseMs,
    leaderOutageHoldMs: s.leaderOutageHoldMs,
    sharing: {
      halfLifeMs: s.fairShareHalfLifeMs,
      billing: { cpu: s.billingCpu, memory: s.billingMemoryGib, gpu: s.billingGpu },
      weights: {
        queueClass: s.priorityWeightClass,
        priority: s.priorityWeightPriority,
        fairShare: s.priorityWeightFairShare,
        age: s.priorityWeightAge,
        size: s.priorityWeightSize,
      },
      maxAgeMs: s.priorityMaxAgeMs,
      provider: s.quotaProvider,
      quotaFile: s.quotaFile ?? null,
      defaultQuota: parseDefaultQuota(s.defaultQuota, name("defaultQuota")),
      usageTickMs: s.usageTickMs,
    },
    failurePolicy: { defaultMaxRequeues: s.defaultMaxRequeues, defaultRetryBackoffMs: s.retryBackoffMs, maxRetryBackoffMs: s.maxRetryBackoffMs },
    random: o.random ?? Math.random,
    auth: { enabled: s.auth, insecureAllowAnyone: s.insecureAllowAnyone, bootstrapTokenFile: s.bootstrapTokenFile ?? null, refreshMs: s.authRefreshMs },
    tls: o.tls ?? null,
    logger: createLogger({ level: s.logLevel, format: s.logFormat, write: o.log }),
    clock: o.clock ?? systemClock,
    tracing: { serviceName: "taskgrid-master", ...o.tracing },
  };
}

/** Whether `host:port` is reachable only from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackListen(listen: string): boolean {
  const host = listen
    .slice(0, listen.lastIndexOf(":"))
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The address to hand out for a bound `host:port`: a wildcard host (0.0.0.0, ::) means "every
 * interface", which no client can dial, so the machine's host name stands in for it.
 */
export function advertisedAddress(bound: string, hostname: string): string {
  const cut = bound.lastIndexOf(":");
  const host = bound.slice(0, cut).replace(/^\[(.*)\]$/, "$1");
  return host === "0.0.0.0" || host === "::" || host === "" ? `${hostname}${bound.slice(cut)}` : bound;
}

/** `["gpu=2", "tasks=100"]` as a nominal-only default quota; empty: unlimited (null). */
function parseDefaultQuota(entries: readonly string[], field: string): DefaultQuota {
  if (entries.length === 0) return null;
  const nominal: Record<string, unknown> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError(field, `entries are RESOURCE=AMOUNT (got ${JSON.stringify(entry)})`);
    const amount = entry.slice(eq + 1).trim();
    nominal[entry.slice(0, eq).trim()] = amount === "" ? Number.NaN : Number(amount);
  }
  return validateDefaultQuota({ nominal }, field);
}

/** `backfill` as the number of reservations K: a named policy, or K itself (the pattern has checked it). */
function reservationsOf(backfill: string): number {
  return backfill in BACKFILL_POLICIES ? BACKFILL_POLICIES[backfill as BackfillPolicy] : Number(backfill);
}
