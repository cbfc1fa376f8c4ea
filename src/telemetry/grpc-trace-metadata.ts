// W3C trace context in gRPC metadata (the `traceparent` and `tracestate` keys, as the OTel gRPC
// instrumentations of every language send them), for the client side and the master side.
import { context, propagation } from "@opentelemetry/api";
import type { Metadata } from "@grpc/grpc-js";
import type { TraceCarrier } from "./tracing.js";

const setter = { set: (md: Metadata, key: string, value: string) => md.set(key, value) };

/**
 * Adds trace context to outgoing call metadata: `fixed` when given (a `TRACEPARENT` from the
 * environment, say), else whatever the application's global OTel propagator writes for the active
 * context (nothing when the application has no OTel SDK registered).
 */
export function injectTraceMetadata(md: Metadata, fixed?: TraceCarrier): Metadata {
  if (fixed?.traceparent) {
    md.set("traceparent", fixed.traceparent);
    if (fixed.tracestate) md.set("tracestate", fixed.tracestate);
  } else {
    propagation.inject(context.active(), md, setter);
  }
  return md;
}

/** The caller's trace context from incoming call metadata (fields absent when not sent). */
export function traceCarrierOf(md: Metadata): TraceCarrier {
  const carrier: TraceCarrier = {};
  const traceparent = md.get("traceparent")[0];
  if (typeof traceparent === "string") carrier.traceparent = traceparent;
  // tracestate may arrive split over several entries; W3C joins them with commas.
  const tracestate = md.get("tracestate").filter((v) => typeof v === "string");
  if (tracestate.length > 0) carrier.tracestate = tracestate.join(",");
  return carrier;
}
