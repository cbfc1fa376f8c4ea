// The tracing wiring without a master: when it is on or off, the OTLP URL it derives from the
// environment, service.name, and W3C trace context in and out of gRPC metadata.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Metadata } from "@grpc/grpc-js";
import { context, propagation, ROOT_CONTEXT, trace, type Context, type ContextManager } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { injectTraceMetadata, traceCarrierOf } from "../../src/telemetry/grpc-trace-metadata.js";
import { carrierOfContext, extractContext, otlpTracesUrl, startTracing, TRACING_OFF } from "../../src/telemetry/tracing.js";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

test("the OTLP traces URL follows the OTel environment variables", () => {
  assert.is(otlpTracesUrl({}), null);
  assert.is(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), "http://collector:4318/v1/traces");
  assert.is(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }), "http://collector:4318/v1/traces");
  assert.is(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b/traces" }), "http://b/traces");
  assert.is(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_SDK_DISABLED: "true" }), null);
  assert.is(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_TRACES_EXPORTER: "none" }), null);
  assert.is(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " }), null);
});

test("off without an endpoint: the shared no-op handle, whose spans record nothing", async () => {
  const off = await startTracing({ serviceName: "t", env: {} });
  assert.is(off, TRACING_OFF);
  assert.is(off.enabled, false);
  assert.is(await startTracing({ serviceName: "t", env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318", OTEL_SDK_DISABLED: "true" } }), TRACING_OFF);
  const span = off.tracer.startSpan("x");
  assert.is(span.isRecording(), false);
  assert.equal(off.carrierOf(span), {});
  assert.is(off.extract({ traceparent: TRACEPARENT }), ROOT_CONTEXT);
  // Nothing was registered globally either.
  assert.is(trace.getTracer("probe").startSpan("probe").isRecording(), false);
});

test("on with an injected exporter: service.name (OTEL_SERVICE_NAME wins), parent from a carrier", async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing({ serviceName: "default-name", env: { OTEL_SERVICE_NAME: "from-env" }, exporter });
  assert.is(tracing.enabled, true);
  const span = tracing.tracer.startSpan("child", {}, tracing.extract({ traceparent: TRACEPARENT }));
  const carrier = tracing.carrierOf(span);
  assert.match(carrier.traceparent!, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  span.end();
  await tracing.forceFlush(); // (shutdown would also clear the in-memory exporter)
  const [done] = exporter.getFinishedSpans();
  assert.is(done.resource.attributes["service.name"], "from-env");
  assert.is(done.parentSpanContext?.spanId, "b7ad6b7169203331");
  assert.is(done.spanContext().traceId, "0af7651916cd43dd8448eb211c80319c");
  await tracing.shutdown();
});

test("a malformed traceparent is ignored (the task starts its own trace)", () => {
  assert.is(extractContext({ traceparent: "not-a-traceparent" }), ROOT_CONTEXT);
  assert.is(trace.getSpanContext(extractContext({ traceparent: "00-00000000000000000000000000000000-b7ad6b7169203331-01" })), undefined);
  assert.is(trace.getSpanContext(extractContext({ traceparent: TRACEPARENT }))?.spanId, "b7ad6b7169203331");
});

test("a span context formats back into the carrier it came from (sampled or not, with tracestate)", () => {
  for (const carrier of [{ traceparent: TRACEPARENT }, { traceparent: TRACEPARENT.replace(/01$/, "00"), tracestate: "a=1,b=2" }]) {
    assert.equal(carrierOfContext(trace.getSpanContext(extractContext(carrier))!), carrier);
  }
});

test("metadata: a fixed carrier is sent as is; incoming traceparent/tracestate are read back", () => {
  const md = injectTraceMetadata(new Metadata(), { traceparent: TRACEPARENT, tracestate: "vendor=1" });
  assert.equal(md.get("traceparent"), [TRACEPARENT]);
  assert.equal(traceCarrierOf(md), { traceparent: TRACEPARENT, tracestate: "vendor=1" });
  assert.equal(traceCarrierOf(new Metadata()), {});
  // Without a global propagator (no OTel SDK in the application) nothing is added.
  assert.equal(injectTraceMetadata(new Metadata()).getMap(), {});
});

/** A synchronous context manager, enough for `context.with` around a synchronous call. */
class StackContextManager implements ContextManager {
  private stack: Context[] = [];
  active = () => this.stack[this.stack.length - 1] ?? ROOT_CONTEXT;
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    this.stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable = () => this;
  disable = () => this;
}

test("metadata: with an application's global propagator, the active span's context is sent", () => {
  context.setGlobalContextManager(new StackContextManager());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  try {
    const active = extractContext({ traceparent: TRACEPARENT });
    const md = context.with(active, () => injectTraceMetadata(new Metadata()));
    assert.equal(md.get("traceparent"), [TRACEPARENT]);
  } finally {
    propagation.disable();
    context.disable();
  }
});

test.run();
