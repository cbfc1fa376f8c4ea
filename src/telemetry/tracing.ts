// Traces through OpenTelemetry (DESIGN §7): the SDK wiring shared by the master and the agent.
//
// Off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
// OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces") or an exporter is injected. Off means TRACING_OFF: the
// SDK and the exporter are not even loaded (they are imported lazily), nothing is registered
// globally, and callers check `enabled` so no span objects are created at all.
//
// On: a private BasicTracerProvider (never registered as the global one, like the metrics'
// MeterProvider, so embedding applications keep theirs) with a BatchSpanProcessor that exports
// OTLP/HTTP (JSON) in the background. Sampling is ParentBased(AlwaysOn) unless OTEL_TRACES_SAMPLER
// says otherwise, so a client's "not sampled" flag is honoured and a task is traced whole or not. Context crosses process boundaries as W3C `traceparent`/`tracestate` strings:
// gRPC metadata on calls, a field of the Assign message down an agent stream, a column of the task
// row across master restarts.
import { ProxyTracerProvider, ROOT_CONTEXT, trace, type Context, type Span, type SpanContext, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";

export interface TracingOptions {
  /** service.name of the spans; OTEL_SERVICE_NAME overrides it. */
  serviceName: string;
  /** Where OTEL_* settings are read from (the CLI passes process.env; tests pass their own). */
  env?: Record<string, string | undefined>;
  /** Exports here instead of OTLP, and turns tracing on regardless of `env` (tests, benchmarks). */
  exporter?: SpanExporter;
  /** BatchSpanProcessor delay between exports; default OTEL_BSP_SCHEDULE_DELAY, else 1000 ms (the SDK's 5 s is long for tasks). */
  scheduledDelayMs?: number;
}

/** W3C trace context as carried between processes. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Where spans go, for the start-up log: the OTLP URL, "injected exporter", or "" when off. */
  readonly exportsTo: string;
  readonly tracer: Tracer;
  /** The context a carrier describes; ROOT_CONTEXT when it is absent or malformed. */
  extract(carrier: TraceCarrier | undefined): Context;
  /** The span's context as a carrier; {} when the span is not valid (tracing off). */
  carrierOf(span: Span): TraceCarrier;
  /** Exports everything ended so far. */
  forceFlush(): Promise<void>;
  /** Flushes (for at most SHUTDOWN_FLUSH_MS: an unreachable collector must not hold up a stop) and stops exporting. */
  shutdown(): Promise<void>;
}

/** Bound on the final flush at shutdown. */
export const SHUTDOWN_FLUSH_MS = 3000;

const propagator = new W3CTraceContextPropagator();
const carrierGetter = {
  keys: (c: TraceCarrier) => Object.keys(c),
  get: (c: TraceCarrier, key: string) => (key === "traceparent" ? c.traceparent : key === "tracestate" ? c.tracestate : undefined),
};

/** The context holding the remote span a carrier names; ROOT_CONTEXT when absent or malformed. */
export function extractContext(carrier: TraceCarrier | undefined): Context {
  if (!carrier?.traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, carrier, carrierGetter);
}

/**
 * The carrier for a valid span context: W3C `traceparent` (version 00) and, when set,
 * `tracestate`. Formatted here rather than through the propagator: it runs once per task.
 */
export function carrierOfContext(sc: SpanContext): TraceCarrier {
  const traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
  const tracestate = sc.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** Tracing is off: a no-op tracer, nothing loaded, nothing exported. */
export const TRACING_OFF: Tracing = Object.freeze({
  enabled: false,
  exportsTo: "",
  // A proxy provider that is never given a delegate: a no-op tracer even if an application
  // registers a global provider later.
  tracer: new ProxyTracerProvider().getTracer("taskgrid"),
  extract: () => ROOT_CONTEXT,
  carrierOf: () => ({}),
  forceFlush: async () => {},
  shutdown: async () => {},
});

/**
 * The OTLP/HTTP traces URL the environment asks for, or null (tracing off). Follows the OTel spec:
 * the signal-specific variable is used as is, the generic one gets "/v1/traces" appended; either
 * may be switched off by OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 */
export function otlpTracesUrl(env: Record<string, string | undefined>): string | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return null;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return null;
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (signal) return signal;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return null;
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

/**
 * Batch processor settings where the OTel defaults do not fit a scheduler: exports every second (not
 * 5 s), and a queue that holds a few seconds of spans at DESIGN §8 rates (four spans per task at
 * 15,000 tasks/s would overflow the default 2,048 in a blink; a full queue drops spans). An
 * OTEL_BSP_* variable in the environment wins: the processor and the exporter read their usual
 * OTEL_* settings (headers, timeouts, queue sizes) from process.env themselves.
 */
function batchDefaults(options: TracingOptions) {
  const unlessSet = (name: string, value: number) => (process.env[name] ? undefined : value);
  return {
    scheduledDelayMillis: options.scheduledDelayMs ?? unlessSet("OTEL_BSP_SCHEDULE_DELAY", 1000),
    maxQueueSize: unlessSet("OTEL_BSP_MAX_QUEUE_SIZE", 32_768),
    maxExportBatchSize: unlessSet("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 2048),
  };
}

/** Starts tracing as `options` ask, or returns TRACING_OFF (loading nothing) when not asked to. */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  const env = options.env ?? {};
  const url = options.exporter ? null : otlpTracesUrl(env);
  if (!options.exporter && url === null) return TRACING_OFF;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/resources"),
  ]);
  const exporter = options.exporter ?? new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter({ url: url! });
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || options.serviceName;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, batchDefaults(options))],
  });
  let stopped: Promise<void> | null = null;
  return {
    enabled: true,
    exportsTo: url ?? "injected exporter",
    tracer: provider.getTracer("taskgrid"),
    extract: extractContext,
    // A sampled-out span still propagates (its flags tell the agent not to record either).
    carrierOf: (span) => (trace.isSpanContextValid(span.spanContext()) ? carrierOfContext(span.spanContext()) : {}),
    forceFlush: () => provider.forceFlush(),
    shutdown: () =>
      (stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS);
        timer.unref();
        provider.shutdown().then(
          () => (clearTimeout(timer), resolve()),
          () => (clearTimeout(timer), resolve()), // an export error at shutdown is not the caller's failure
        );
      })),
  };
}
