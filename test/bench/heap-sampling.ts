// TASKGRID_BENCH_HEAP_PROFILE=DIR: a benchmark's master samples what it allocates (V8's sampling heap
// profiler, objects already collected included, so the profile shows the allocation rate that the
// garbage collector pays for rather than what is still alive) and writes DIR/master-PID.heapprofile
// when it stops; Chrome DevTools (Memory tab) opens it.
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/** One sample per this many bytes allocated, on average. */
const SAMPLING_INTERVAL_BYTES = 16_384;

/** Starts sampling when DIR is set; the returned function writes the profile (a no-op otherwise). */
export async function startHeapSampling(dir: string | undefined): Promise<() => Promise<void>> {
  if (!dir) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: SAMPLING_INTERVAL_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => {
    const { profile } = await session.post("HeapProfiler.stopSampling");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `master-${process.pid}.heapprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
