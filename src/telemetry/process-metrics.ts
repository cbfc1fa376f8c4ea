// Process metrics with prom-client's names, read at scrape time from process.* and perf_hooks
// (no extra dependency). Event-loop delay statistics cover the time since the previous scrape and
// are the delay beyond the monitor's 10 ms sampling interval (0 on an idle loop).
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Meter } from "@opentelemetry/api";

const NS_PER_S = 1e9;
/** Sampling interval of the event-loop delay monitor; Node's samples include it, so it is subtracted. */
const LOOP_RESOLUTION_MS = 10;
const lagSeconds = (ns: number) => Math.max(0, ns / NS_PER_S - LOOP_RESOLUTION_MS / 1000);

export function registerProcessMetrics(meter: Meter): { stop(): void } {
  const startTimeSeconds = Math.round((Date.now() - process.uptime() * 1000) / 10) / 100;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();

  const cpuUser = meter.createObservableCounter("process_cpu_user_seconds", { description: "User CPU time spent by the process in seconds." });
  const cpuSystem = meter.createObservableCounter("process_cpu_system_seconds", { description: "System CPU time spent by the process in seconds." });
  const cpuTotal = meter.createObservableCounter("process_cpu_seconds", { description: "User and system CPU time spent by the process in seconds." });
  const startTime = meter.createObservableGauge("process_start_time_seconds", { description: "Start time of the process since the Unix epoch in seconds." });
  const rss = meter.createObservableGauge("process_resident_memory_bytes", { description: "Resident memory size in bytes." });
  const heapTotal = meter.createObservableGauge("nodejs_heap_size_total_bytes", { description: "V8 heap size in bytes." });
  const heapUsed = meter.createObservableGauge("nodejs_heap_size_used_bytes", { description: "V8 heap used in bytes." });
  const external = meter.createObservableGauge("nodejs_external_memory_bytes", { description: "Memory of C++ objects bound to JavaScript objects in bytes." });
  const lagMean = meter.createObservableGauge("nodejs_eventloop_lag_seconds", { description: "Mean event-loop delay since the previous scrape in seconds." });
  const lagP99 = meter.createObservableGauge("nodejs_eventloop_lag_p99_seconds", {
    description: "99th percentile event-loop delay since the previous scrape in seconds.",
  });
  const lagMax = meter.createObservableGauge("nodejs_eventloop_lag_max_seconds", {
    description: "Largest event-loop delay since the previous scrape in seconds.",
  });

  // One batch callback: memoryUsage() and cpuUsage() are read once per scrape.
  meter.addBatchObservableCallback(
    (r) => {
      const cpu = process.cpuUsage();
      r.observe(cpuUser, cpu.user / 1e6);
      r.observe(cpuSystem, cpu.system / 1e6);
      r.observe(cpuTotal, (cpu.user + cpu.system) / 1e6);
      r.observe(startTime, startTimeSeconds);
      const mem = process.memoryUsage();
      r.observe(rss, mem.rss);
      r.observe(heapTotal, mem.heapTotal);
      r.observe(heapUsed, mem.heapUsed);
      r.observe(external, mem.external);
      // The histogram is empty (NaN mean) until the first sample: report 0 then.
      const hasSamples = loopDelay.count > 0;
      r.observe(lagMean, hasSamples ? lagSeconds(loopDelay.mean) : 0);
      r.observe(lagP99, hasSamples ? lagSeconds(loopDelay.percentile(99)) : 0);
      r.observe(lagMax, hasSamples ? lagSeconds(loopDelay.max) : 0);
      loopDelay.reset();
    },
    [cpuUser, cpuSystem, cpuTotal, startTime, rss, heapTotal, heapUsed, external, lagMean, lagP99, lagMax],
  );

  return { stop: () => loopDelay.disable() };
}
