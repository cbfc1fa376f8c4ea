// Child-process entry for benchmarks: one master (startMaster; compiled, see compiled-master.ts) in
// its own process, as in production, so the load generator in the parent does not share its event
// loop. Options arrive as JSON in argv[2]; the parent talks to it over IPC (see master-process.ts).
import type { MasterOptions } from "../../master/master.js";
import type { TaskgridStore } from "../../src/store/store.js";
import { startHeapSampling } from "./heap-sampling.js";

export type ToChild = { type: "stats" } | { type: "stop" };
export type FromChild =
  | { type: "ready"; address: string; metricsAddress: string | null }
  | {
      type: "stats";
      rssBytes: number;
      heapUsedBytes: number;
      workers: number;
      workersOnline: number;
      activeTasks: number;
      queued: number;
      transactions: number;
      commitJobs: number;
      largestBatch: number;
    };

// The compiled master when the parent built it (compiled-master.ts), else the sources.
const { startMaster } = (await import(process.env.TASKGRID_BENCH_MASTER_MODULE ?? "../../master/master.js")) as typeof import("../../master/master.js");
const options = JSON.parse(process.argv[2] ?? "{}") as MasterOptions;
const master = await startMaster({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
const writeHeapProfile = await startHeapSampling(process.env.TASKGRID_BENCH_HEAP_PROFILE);
const send = (m: FromChild) => process.send!(m);
send({ type: "ready", address: master.address, metricsAddress: master.metricsAddress });

process.on("message", async (m: ToChild) => {
  if (m.type === "stats") {
    const mem = process.memoryUsage();
    const commit = (master.store as TaskgridStore).stats();
    let online = 0;
    for (const slot of master.state.slots.values()) if (slot.worker.status === "ONLINE") online++;
    send({
      type: "stats",
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      workers: master.state.slots.size,
      workersOnline: online,
      activeTasks: master.state.activeTasks.size,
      queued: master.state.queue.size,
      transactions: commit.transactions,
      commitJobs: commit.jobs,
      largestBatch: commit.largestBatch,
    });
  } else if (m.type === "stop") {
    await master.stop();
    await writeHeapProfile();
    process.exit(0); // Normal exit: --cpu-prof writes its profile now.
  }
});
