// Prometheus metrics through OpenTelemetry (DESIGN §7), served at GET /metrics by our own node:http
// server (the exporter's built-in server cannot bind port 0 and report the port, and sends no
// text-format version in its content type).
//
// Two kinds of input:
// - MetricsRecorder: methods the master calls as things happen. These are OTel SDK counters and
//   histograms on a private MeterProvider (never registered globally), read by a pull-only
//   PrometheusExporter and written by its PrometheusSerializer, configured so the names in
//   metric-names.ts come out exactly: instruments have no unit (no unit suffix), no otel_scope_*
//   labels, no target_info; counters are created without "_total" and the exporter appends it.
//   Process metrics (process-metrics.ts) are SDK observable instruments on the same provider.
// - MetricSources: plain callbacks over the master's in-memory state, each called exactly once per
//   scrape, at scrape time (no database access, no other work). They are rendered straight to the
//   text format by SourceGauges (source-gauges.ts; see there for why not through the SDK).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { emptyResource } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { DECISION_SECONDS_BUCKETS, KNOWN_LABEL_VALUES, TASK_SECONDS_BUCKETS } from "./metric-names.js";
import { finite, type MetricSources } from "./metric-sources.js";
import { registerProcessMetrics } from "./process-metrics.js";
import { SourceGauges } from "./source-gauges.js";

export type { MetricSources } from "./metric-sources.js";

/** Event-driven metrics; every method is cheap (an in-memory add) and never throws. */
export interface MetricsRecorder {
  /** `n` tasks were accepted (committed) by one Submit call. */
  taskSubmitted(n: number): void;
  /** A task reached a terminal state: SUCCEEDED, FAILED or CANCELED. */
  taskFinished(outcome: string): void;
  /** A QUEUED task got a placement after waiting `seconds`. */
  taskWaitSeconds(seconds: number): void;
  /** An attempt ran for `seconds` (agent-reported duration). */
  taskRunSeconds(seconds: number): void;
  /** One placement decision by `strategy` ("rts" or "round_robin") that took `seconds`. */
  decision(strategy: string, seconds: number): void;
  /** RTS fell back to round-robin for `reason`. */
  fallback(reason: string): void;
  /** A task finished after its deadline (once per task). */
  deadlineMiss(): void;
  /** A weights file reload was counted. */
  weightsReload(result: "success" | "failure"): void;
  /** A call was refused as UNAUTHENTICATED, by reason (missing, malformed, unknown, bad_secret, expired, revoked, rate_limited). */
  authFailure(reason: string): void;
  /** An agent's report was not applied: "stale" (attempt no longer live) or "foreign" (another worker's attempt). */
  reportRejected(reason: "stale" | "foreign"): void;
  /**
   * An attempt was told to stop for a higher-ranked task (reason: the preemptor outranks it by
   * "queue_class" or only by "priority"), or a preemption was held back ("rate_limited").
   */
  preemption(reason: "queue_class" | "priority" | "rate_limited"): void;
}

/** A recorder that does nothing: what the master uses when metrics are off. */
export const NOOP_RECORDER: MetricsRecorder = Object.freeze({
  taskSubmitted() {},
  taskFinished() {},
  taskWaitSeconds() {},
  taskRunSeconds() {},
  decision() {},
  fallback() {},
  deadlineMiss() {},
  weightsReload() {},
  authFailure() {},
  reportRejected() {},
  preemption() {},
});

export interface MetricsOptions {
  /** "host:port" ("[::1]:port" for IPv6, ":port" for every interface); port 0 picks a free port. */
  listen: string;
  sources: MetricSources;
  /** One line per notable event (server bound, a source callback failing). */
  log?: (line: string) => void;
}

export interface MetricsServer {
  /** "host:port" actually bound (the real port when 0 was asked for). */
  address: string;
  recorder: MetricsRecorder;
  stop(): Promise<void>;
}

export const METRICS_PATH = "/metrics";
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Splits "host:port", "[v6]:port" or ":port". */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`metrics listen address "${listen}" is not host:port`);
  const host = m[1] ?? m[2];
  return { host: host === "" ? undefined : host, port };
}

function formatAddress(info: AddressInfo): string {
  return info.family === "IPv6" || info.address.includes(":") ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

class Recorder implements MetricsRecorder {
  private readonly submitted: Counter;
  private readonly finished: Counter;
  private readonly waitSeconds: Histogram;
  private readonly runSeconds: Histogram;
  private readonly decisions: Counter;
  private readonly fallbacks: Counter;
  private readonly decisionSeconds: Histogram;
  private readonly deadlineMisses: Counter;
  private readonly weightsReloads: Counter;
  private readonly authFailures: Counter;
  private readonly reportsRejected: Counter;
  private readonly preemptions: Counter;
  /** Attribute objects reused per label value (the SDK hashes them on every add). */
  private readonly attrs = new Map<string, Attributes>();

  constructor(
    meter: Meter,
    private readonly finishedByOutcome: Map<string, number>,
  ) {
    this.submitted = meter.createCounter("taskgrid_tasks_submitted", { description: "Tasks accepted by Submit since the master started." });
    this.finished = meter.createCounter("taskgrid_tasks_finished", {
      description: "Tasks that reached a terminal state since the master started, by terminal state.",
    });
    this.waitSeconds = meter.createHistogram("taskgrid_task_wait_seconds", {
      description: "Time a task spent QUEUED before a placement decision.",
      advice: { explicitBucketBoundaries: [...TASK_SECONDS_BUCKETS] },
    });
    this.runSeconds = meter.createHistogram("taskgrid_task_run_seconds", {
      description: "Run time of each attempt that ran, as reported by the agent.",
      advice: { explicitBucketBoundaries: [...TASK_SECONDS_BUCKETS] },
    });
    this.decisions = meter.createCounter("taskgrid_scheduler_decisions", { description: "Placement decisions by strategy." });
    this.fallbacks = meter.createCounter("taskgrid_scheduler_fallbacks", { description: "Decisions where RTS fell back to round-robin, by reason." });
    this.decisionSeconds = meter.createHistogram("taskgrid_scheduler_decision_seconds", {
      description: "Time the placement strategy took for one decision.",
      advice: { explicitBucketBoundaries: [...DECISION_SECONDS_BUCKETS] },
    });
    this.deadlineMisses = meter.createCounter("taskgrid_deadline_misses", { description: "Tasks whose attempt finished after the task's effective deadline." });
    this.weightsReloads = meter.createCounter("taskgrid_weights_reloads", { description: "Weights file reload attempts by result." });
    this.authFailures = meter.createCounter("taskgrid_auth_failures", { description: "Calls refused as UNAUTHENTICATED, by reason." });
    this.reportsRejected = meter.createCounter("taskgrid_reports_rejected", { description: "Agent reports not applied, by reason." });
    this.preemptions = meter.createCounter("taskgrid_preemptions", { description: "Attempts preempted, by reason; rate_limited: preemptions held back." });

    // Series known up front exist from the first scrape (rate() and dashboards see a 0, not a gap).
    this.submitted.add(0);
    this.deadlineMisses.add(0);
    for (const v of KNOWN_LABEL_VALUES.outcome) this.finished.add(0, this.attr("outcome", v));
    for (const v of KNOWN_LABEL_VALUES.strategy) this.decisions.add(0, this.attr("strategy", v));
    for (const v of KNOWN_LABEL_VALUES.reason) this.fallbacks.add(0, this.attr("reason", v));
    for (const v of KNOWN_LABEL_VALUES.result) this.weightsReloads.add(0, this.attr("result", v));
    for (const v of KNOWN_LABEL_VALUES.authReason) this.authFailures.add(0, this.attr("reason", v));
    for (const v of KNOWN_LABEL_VALUES.rejectReason) this.reportsRejected.add(0, this.attr("reason", v));
    for (const v of KNOWN_LABEL_VALUES.preemptionReason) this.preemptions.add(0, this.attr("reason", v));
  }

  private attr(key: string, value: string): Attributes {
    const k = `${key}\u0000${value}`;
    let a = this.attrs.get(k);
    if (a === undefined) {
      a = { [key]: value };
      if (this.attrs.size < 10_000) this.attrs.set(k, a);
    }
    return a;
  }

  taskSubmitted(n: number): void {
    if (finite(n) && n > 0) this.submitted.add(n);
  }

  taskFinished(outcome: string): void {
    this.finished.add(1, this.attr("outcome", outcome));
    this.finishedByOutcome.set(outcome, (this.finishedByOutcome.get(outcome) ?? 0) + 1);
  }

  taskWaitSeconds(seconds: number): void {
    if (finite(seconds)) this.waitSeconds.record(Math.max(0, seconds));
  }

  taskRunSeconds(seconds: number): void {
    if (finite(seconds)) this.runSeconds.record(Math.max(0, seconds));
  }

  decision(strategy: string, seconds: number): void {
    this.decisions.add(1, this.attr("strategy", strategy));
    if (finite(seconds)) this.decisionSeconds.record(Math.max(0, seconds));
  }

  fallback(reason: string): void {
    this.fallbacks.add(1, this.attr("reason", reason));
  }

  deadlineMiss(): void {
    this.deadlineMisses.add(1);
  }

  weightsReload(result: "success" | "failure"): void {
    this.weightsReloads.add(1, this.attr("result", result));
  }

  authFailure(reason: string): void {
    this.authFailures.add(1, this.attr("reason", reason));
  }

  reportRejected(reason: "stale" | "foreign"): void {
    this.reportsRejected.add(1, this.attr("reason", reason));
  }

  preemption(reason: "queue_class" | "priority" | "rate_limited"): void {
    this.preemptions.add(1, this.attr("reason", reason));
  }
}

/**
 * Starts the metrics endpoint. Resolves once the HTTP server is bound (rejects if it cannot bind).
 * `stop()` closes the server and the meter provider; it is idempotent.
 */
export async function startMetrics(options: MetricsOptions): Promise<MetricsServer> {
  const log = options.log ?? (() => {});
  const { host, port } = parseListen(options.listen);

  // Terminal-state task counts, shared by the recorder (writes) and the taskgrid_tasks gauge (reads).
  const finishedByOutcome = new Map<string, number>();
  const sourceGauges = new SourceGauges(options.sources, finishedByOutcome, log);
  // Pull-only exporter (we serve HTTP ourselves); exact names: no scope labels, no target_info.
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true });
  const serializer = new PrometheusSerializer("", false, undefined, true, true);
  const provider = new MeterProvider({ resource: emptyResource(), readers: [exporter] });
  const meter = provider.getMeter("taskgrid");
  const recorder = new Recorder(meter, finishedByOutcome);
  const processMetrics = registerProcessMetrics(meter);

  let loggedCollectError = "";
  const scrape = async (res: ServerResponse, head: boolean) => {
    try {
      const { resourceMetrics, errors } = await exporter.collect();
      if (errors.length > 0) {
        const message = errors.map(String).join("; ");
        if (message !== loggedCollectError) log(`metrics: collection errors: ${message}`);
        loggedCollectError = message;
      }
      const body = `${serializer.serialize(resourceMetrics).trimEnd()}\n${sourceGauges.render()}`;
      res.writeHead(200, { "content-type": CONTENT_TYPE, "content-length": Buffer.byteLength(body) });
      res.end(head ? undefined : body);
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`# failed to collect metrics: ${String(err)}\n`);
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end(`not found; metrics are at ${METRICS_PATH}\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" });
      res.end();
      return;
    }
    void scrape(res, req.method === "HEAD");
  });
  server.keepAliveTimeout = 65_000; // longer than Prometheus' default scrape interval

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    processMetrics.stop();
    await provider.shutdown().catch(() => {});
    throw new Error(`metrics: cannot listen on ${options.listen}: ${String((err as Error).message ?? err)}`);
  }
  server.unref();
  const address = formatAddress(server.address() as AddressInfo);
  log(`metrics: serving http://${address}${METRICS_PATH}`);

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      processMetrics.stop();
      await provider.shutdown().catch(() => {});
    })());

  return { address, recorder, stop };
}
