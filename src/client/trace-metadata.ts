// Trace context on the client's calls without loading OpenTelemetry's API where nothing could use it.
// The API (about 25 ms to load) only matters when the application registered a propagator; the CLI
// never does (it sends TRACEPARENT from its environment as a fixed carrier). The API keeps its
// registrations on globalThis under a well-known symbol, so the client looks there first and loads
// the API only when a propagator is registered (by then some copy of it is loaded anyway).
import { createRequire } from "node:module";
import type { Metadata } from "@grpc/grpc-js";
import type { TraceCarrier } from "../telemetry/tracing.js";

/** Where @opentelemetry/api 1.x registers its globals (api/src/internal/global-utils.ts). */
const OTEL_API_GLOBAL = Symbol.for("opentelemetry.js.api.1");

type OtelApi = typeof import("@opentelemetry/api");
let otelApi: OtelApi | undefined;
const setter = { set: (md: Metadata, key: string, value: string) => md.set(key, value) };

/** Whether the application registered a global OTel propagator (else injecting writes nothing). */
export function otelPropagatorRegistered(): boolean {
  const registry = (globalThis as Record<symbol, { propagation?: unknown } | undefined>)[OTEL_API_GLOBAL];
  return registry?.propagation !== undefined;
}

/**
 * Adds trace context to outgoing call metadata: `fixed` when given, else what the application's
 * global OTel propagator writes for the active context (nothing, and no API loaded, without one).
 * The same rule as src/telemetry/grpc-trace-metadata.ts injectTraceMetadata.
 */
export function clientTraceMetadata(md: Metadata, fixed?: TraceCarrier): Metadata {
  if (fixed?.traceparent) {
    md.set("traceparent", fixed.traceparent);
    if (fixed.tracestate) md.set("tracestate", fixed.tracestate);
  } else if (otelPropagatorRegistered()) {
    // Synchronous: metadata is built per call. The API is CommonJS, and already loaded by whoever registered.
    otelApi ??= createRequire(import.meta.url)("@opentelemetry/api") as OtelApi;
    otelApi.propagation.inject(otelApi.context.active(), md, setter);
  }
  return md;
}
