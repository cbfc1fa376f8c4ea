// End to end with tracing on everywhere, through the real `taskgrid` bin: `taskgrid submit --wait`
// with TRACEPARENT in its environment, a master exporting to a local OTLP collector, and a real
// agent process (its OTEL_EXPORTER_OTLP_ENDPOINT pointing there too) running a real command. The
// agent's execution span joins the task's trace as a child of the master's run span.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ATTR, EVENT_PROCESS_STARTED, SPAN } from "../../src/telemetry/trace-names.js";
import { OtlpCollector } from "../helpers/otlp-collector.js";
import { Proc, runBin } from "../helpers/processes.js";
import { startTestMaster } from "../helpers/test-master.js";

const CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN_ID = "00f067aa0ba902b7";

test("submit -> master -> agent process: one trace, the agent's execute span under the run span", async () => {
  const collector = await OtlpCollector.start();
  const m = await startTestMaster({ tracing: { env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } } });
  const agent = new Proc(["agent", "--master", m.address, "--id", "trace-agent", "--max-tasks", "1"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
  try {
    await agent.waitFor(/connected to/);
    const submitted = await runBin(["submit", "--master", m.address, "--wait", "--", "sh", "-c", "exit 3"], {
      TRACEPARENT: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`,
    });
    assert.is(submitted.code, 3, submitted.stderr);
    assert.is(await agent.stop(), 0); // drains and flushes its spans
    await m.stop();

    const submit = collector.one(SPAN.submit);
    assert.is(submit.parentSpanId, CLIENT_SPAN_ID, "the CLI sent TRACEPARENT as gRPC metadata");
    const run = collector.one(SPAN.run);
    const execute = collector.one(SPAN.execute);
    assert.ok(
      collector.spans.every((s) => s.traceId === CLIENT_TRACE_ID),
      "every span in the caller's trace",
    );
    assert.is(execute.service, "taskgrid-agent");
    assert.is(execute.parentSpanId, run.spanId);
    assert.is(execute.attributes[ATTR.workerId], "trace-agent");
    assert.is(execute.attributes[ATTR.attemptId], run.attributes[ATTR.attemptId]);
    assert.is(execute.attributes[ATTR.exitCode], 3);
    assert.is(execute.attributes[ATTR.outcome], "FAILED");
    assert.ok(Number(execute.attributes[ATTR.processPid]) > 0);
    assert.equal(
      execute.events.map((e) => e.name),
      [EVENT_PROCESS_STARTED],
    );
    assert.is(execute.statusCode, 2 /* ERROR */);
    assert.equal([run.attributes[ATTR.outcome], run.attributes[ATTR.exitCode], run.statusCode], ["FAILED", 3, 2]);
  } finally {
    await agent.stop();
    await m.cleanup();
    await collector.close();
  }
});

test.run();
