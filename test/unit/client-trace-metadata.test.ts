// The client's trace context without loading OpenTelemetry's API where nothing could use it (issue 17:
// the CLI starts faster): a fixed carrier is sent as is; with no propagator registered nothing is
// sent; once an application registers one, the active span's context goes with each call.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Metadata } from "@grpc/grpc-js";
import { context, propagation, ROOT_CONTEXT, type Context, type ContextManager } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { clientTraceMetadata, otelPropagatorRegistered } from "../../src/client/trace-metadata.js";
import { extractContext } from "../../src/telemetry/tracing.js";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

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

test("a fixed carrier is sent as is; without a registered propagator nothing is", () => {
  const fixed = clientTraceMetadata(new Metadata(), { traceparent: TRACEPARENT, tracestate: "vendor=1" });
  assert.equal(fixed.get("traceparent"), [TRACEPARENT]);
  assert.equal(fixed.get("tracestate"), ["vendor=1"]);
  assert.not.ok(otelPropagatorRegistered());
  assert.equal(clientTraceMetadata(new Metadata()).getMap(), {});
});

test("with an application's global propagator, the active span's context is sent", () => {
  context.setGlobalContextManager(new StackContextManager());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  try {
    assert.ok(otelPropagatorRegistered());
    const md = context.with(extractContext({ traceparent: TRACEPARENT }), () => clientTraceMetadata(new Metadata()));
    assert.equal(md.get("traceparent"), [TRACEPARENT]);
  } finally {
    propagation.disable();
    context.disable();
  }
  assert.not.ok(otelPropagatorRegistered(), "disabled: unregistered again");
});

test.run();
