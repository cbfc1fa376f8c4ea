// Shared by the /metrics tests: a metrics server per test (stopped after it), scraping and
// reading samples.
import type { test } from "uvu";
import * as assert from "uvu/assert";
import { startMetrics, type MetricSources, type MetricsServer } from "../../src/telemetry/metrics.js";
import { parsePrometheusText, type Exposition, type Sample } from "./prom-text.js";

const servers: MetricsServer[] = [];
/** Call once per test file: stops every server a test started. */
export function stopServersAfterEach(t: typeof test): void {
  t.after.each(async () => {
    while (servers.length) await servers.pop()!.stop();
  });
}

export async function start(sources: MetricSources, log?: (line: string) => void): Promise<MetricsServer> {
  const m = await startMetrics({ listen: "127.0.0.1:0", sources, log });
  servers.push(m);
  return m;
}

export async function scrapeText(m: MetricsServer): Promise<{ text: string; contentType: string }> {
  const res = await fetch(`http://${m.address}/metrics`);
  assert.is(res.status, 200);
  return { text: await res.text(), contentType: res.headers.get("content-type") ?? "" };
}

export async function scrape(m: MetricsServer): Promise<Exposition> {
  return parsePrometheusText((await scrapeText(m)).text);
}

export function samplesOf(e: Exposition, name: string): Sample[] {
  return e.samples.filter((s) => s.name === name);
}

export function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = e.samples.find(
    (x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length,
  );
  return s?.value;
}

export const SOURCE_KEYS = [
  "tasksByState",
  "queueLengths",
  "workersByStatus",
  "workerCpuLoad",
  "workerGpuUtilization",
  "weightsVersion",
  "leadership",
  "projects",
] as const;

/** Fake sources behind a Proxy that records every property read and every call. */
export function countingSources(overrides: Partial<MetricSources> = {}) {
  const base: MetricSources = {
    tasksByState: () => ({ QUEUED: 5, ASSIGNED: 1, RUNNING: 2, PAUSED: 0 }),
    queueLengths: () => [
      { queue: "LIVE", priority: "HIGH", length: 2 },
      { queue: "BATCH", priority: "LOW", length: 3 },
    ],
    workersByStatus: () => ({ ONLINE: 2, SUSPECT: 1 }),
    workerCpuLoad: () => [
      { worker: "w1", load: 0.25 },
      { worker: "w2", load: 1.5 },
    ],
    workerGpuUtilization: () => [
      { worker: "w1", gpu: 0, utilization: 0.9 },
      { worker: "w1", gpu: 1, utilization: 0.1 },
    ],
    weightsVersion: () => "0123456789ab",
    leadership: () => ({ leader: true, epoch: 3, failovers: 1 }),
    projects: () => ({
      usage: [
        { project: "vision", resource: "gpu", value: 8 },
        { project: "vision", resource: "gpu:h100", value: 8 },
      ],
      quota: [
        { project: "vision", resource: "gpu", kind: "nominal", value: 8 },
        { project: "vision", resource: "gpu", kind: "borrowing_limit", value: 4 },
      ],
      fairShare: [{ project: "vision", value: 0.25 }],
    }),
    ...overrides,
  };
  const reads: string[] = [];
  const calls = new Map<string, number>();
  const proxy = new Proxy(base, {
    get(target, prop, receiver) {
      reads.push(String(prop));
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { sources: proxy, reads, calls };
}

/** Drives every recorder method at least once. */
export function driveRecorder(m: MetricsServer): void {
  const r = m.recorder;
  r.taskSubmitted(3);
  r.taskSubmitted(2);
  r.taskFinished("SUCCEEDED");
  r.taskFinished("SUCCEEDED");
  r.taskFinished("FAILED");
  r.taskWaitSeconds(0.004);
  r.taskWaitSeconds(42);
  r.taskRunSeconds(1.5);
  r.decision("rts", 0.00002);
  r.decision("round_robin", 0.000003);
  r.fallback("no_fresh_telemetry");
  r.deadlineMiss();
  r.weightsReload("success");
  r.weightsReload("failure");
}

/** Checks one documented metric in the exposition: type, series names and label names. */
