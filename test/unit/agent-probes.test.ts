// Agent probes: nvidia-smi parsing on the shared real-output fixtures, a fake nvidia-smi first on
// PATH (working, failing, absent), and the telemetry sampler's error handling.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GpuProbe } from "../../agent/probes/gpu.js";
import { parseIoPressure } from "../../agent/probes/io.js";
import { parseMeminfo, readMemory } from "../../agent/probes/memory.js";
import { parseNvidiaSmiCsv, sysfsPciName } from "../../agent/probes/nvidia-smi-csv.js";
import { defaultSources, TelemetrySampler } from "../../agent/probes/telemetry.js";

const FIXTURES = new URL("../fixtures/nvidia-smi", import.meta.url).pathname;
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

const tempDirs: string[] = [];
test.after(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A directory holding an executable `nvidia-smi` that prints `stdout` and exits with `code`. */
function fakeNvidiaSmi(stdout: string, code = 0): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "fake-nvidia-smi-"));
  tempDirs.push(dir);
  writeFileSync(join(dir, "output.txt"), stdout);
  const script = join(dir, "nvidia-smi");
  writeFileSync(script, `#!/bin/sh\ncat "${join(dir, "output.txt")}"\nexit ${code}\n`);
  chmodSync(script, 0o755);
  return { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, dir };
}

test("parses the 8 x H100 fixture", () => {
  const r = parseNvidiaSmiCsv(fixture("h100x8.csv"));
  if (!r.ok) throw new Error(r.error);
  assert.is(r.gpus.length, 8);
  assert.equal(
    r.gpus.map((g) => g.gpu.index),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.equal(r.gpus[0].gpu, { index: 0, uuid: "GPU-8d7f3e2a-1c4b-4e6f-9a0d-2b5c7e9f1a3d", model: "NVIDIA H100 80GB HBM3", memoryMib: 81559, numaNode: -1 });
  assert.equal(r.gpus[3].telemetry, { index: 3, utilizationPercent: 97, memoryUsedMib: 61234 });
  assert.equal(r.gpus[7].telemetry, { index: 7, utilizationPercent: 0, memoryUsedMib: 0 });
});

test("parses [N/A] and [Not Supported] fields of the mixed fixture as 0", () => {
  const r = parseNvidiaSmiCsv(fixture("mixed.csv"));
  if (!r.ok) throw new Error(r.error);
  assert.equal(
    r.gpus.map((g) => g.gpu.model),
    ["NVIDIA A100-PCIE-40GB", "Tesla T4", "NVIDIA GeForce RTX 3090"],
  );
  assert.equal(
    r.gpus.map((g) => g.gpu.memoryMib),
    [40960, 15360, 24576],
  );
  assert.equal(
    r.gpus.map((g) => g.telemetry.utilizationPercent),
    [0, 0, 0],
  );
  assert.equal(
    r.gpus.map((g) => g.telemetry.memoryUsedMib),
    [37, 5, 318],
  );
});

test("garbage and the driver-failure text are parse errors, empty output is no GPUs", () => {
  const failure = parseNvidiaSmiCsv(fixture("driver-failure.txt"));
  assert.not.ok(failure.ok);
  assert.not.ok(parseNvidiaSmiCsv("0, GPU-x, Name, lots, 0, 0").ok);
  assert.not.ok(parseNvidiaSmiCsv("x, GPU-x, Name, 100, 0, 0").ok);
  assert.equal(parseNvidiaSmiCsv("\n"), { ok: true, gpus: [] });
});

test("a 7th pci.bus_id column is parsed and mapped to its sysfs name", () => {
  const r = parseNvidiaSmiCsv("0, GPU-abc, NVIDIA H100 80GB HBM3, 81559, 1, 2, 00000000:1B:00.0\n");
  if (!r.ok) throw new Error(r.error);
  assert.is(r.gpus[0].pciBusId, "00000000:1B:00.0");
  assert.is(sysfsPciName(r.gpus[0].pciBusId), "0000:1b:00.0");
  assert.is(sysfsPciName("[N/A]"), null);
});

test("fake nvidia-smi on PATH: GPUs discovered, NUMA node read from sysfs", async () => {
  const { env, dir } = fakeNvidiaSmi(fixture("h100x8.csv").replace(/\n/g, ", 00000000:18:00.0\n"));
  const sysfs = join(dir, "sys");
  mkdirSync(join(sysfs, "0000:18:00.0"), { recursive: true });
  writeFileSync(join(sysfs, "0000:18:00.0", "numa_node"), "1\n");
  const sample = await new GpuProbe({ env, sysfsPciDevices: sysfs }).sample();
  assert.is(sample.error, null);
  assert.is(sample.gpus.length, 8);
  assert.ok(sample.gpus.every((g) => g.numaNode === 1));
  assert.is(sample.telemetry[3].utilizationPercent, 97);
});

test("fake nvidia-smi with the fixture's 6 columns: NUMA node unknown (-1)", async () => {
  const { env } = fakeNvidiaSmi(fixture("mixed.csv"));
  const sample = await new GpuProbe({ env }).sample();
  assert.is(sample.error, null);
  assert.equal(
    sample.gpus.map((g) => [g.index, g.numaNode]),
    [
      [0, -1],
      [1, -1],
      [2, -1],
    ],
  );
});

test("failing nvidia-smi (exit 9): probe error, no GPUs, no throw", async () => {
  const { env } = fakeNvidiaSmi(fixture("driver-failure.txt"), 9);
  const sample = await new GpuProbe({ env }).sample();
  assert.equal(sample.gpus, []);
  assert.match(sample.error ?? "", /^nvidia-smi: exit 9: NVIDIA-SMI has failed/);
});

test("garbled nvidia-smi output: probe error", async () => {
  const { env } = fakeNvidiaSmi("hello world\n");
  const sample = await new GpuProbe({ env }).sample();
  assert.equal(sample.gpus, []);
  assert.match(sample.error ?? "", /unexpected output line/);
});

test("hung nvidia-smi: killed after the timeout, probe error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fake-nvidia-smi-"));
  tempDirs.push(dir);
  writeFileSync(join(dir, "nvidia-smi"), "#!/bin/sh\nexec sleep 30\n");
  chmodSync(join(dir, "nvidia-smi"), 0o755);
  const sample = await new GpuProbe({ env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, timeoutMs: 50 }).sample();
  assert.match(sample.error ?? "", /timed out after 50 ms/);
});

test("no nvidia-smi on PATH: no GPUs and no error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "empty-path-"));
  tempDirs.push(dir);
  const sample = await new GpuProbe({ env: { PATH: dir } }).sample();
  assert.equal(sample, { gpus: [], telemetry: [], error: null });
});

test("a missing nvidia-smi is looked for again only after absentRecheckMs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "late-nvidia-smi-"));
  tempDirs.push(dir);
  let nowMs = 1_000;
  const probe = new GpuProbe({ env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, absentRecheckMs: 60_000, now: () => nowMs });
  assert.equal((await probe.sample()).gpus, [], "none installed yet");
  // The driver is installed while the agent runs; the script counts its runs.
  writeFileSync(join(dir, "output.txt"), fixture("h100x8.csv"));
  writeFileSync(join(dir, "nvidia-smi"), `#!/bin/sh\necho run >> "${join(dir, "runs")}"\ncat "${join(dir, "output.txt")}"\n`);
  chmodSync(join(dir, "nvidia-smi"), 0o755);
  nowMs += 59_999;
  assert.equal((await probe.sample()).gpus, [], "not looked for again within the interval");
  assert.not.ok(existsSync(join(dir, "runs")), "nvidia-smi was not started");
  nowMs += 1;
  assert.is((await probe.sample()).gpus.length, 8, "found once the interval passed");
  assert.is((await probe.sample()).gpus.length, 8, "and run on every sample from then on");
  assert.is(readFileSync(join(dir, "runs"), "utf8"), "run\nrun\n");
});

test("meminfo and PSI parsing", async () => {
  assert.equal(parseMeminfo("MemTotal:       16384000 kB\nMemFree: 1 kB\nMemAvailable:    4096000 kB\n"), { totalMib: 16000, usedMib: 12000 });
  assert.is(parseMeminfo("garbage"), null);
  const fallback = await readMemory("/nonexistent/meminfo");
  assert.ok(fallback.totalMib > 0);
  assert.is(parseIoPressure("some avg10=2.18 avg60=0.53 avg300=0.16 total=5898828\nfull avg10=1.88 avg60=0.45 avg300=0.13 total=1\n"), 0.0218);
  assert.is(parseIoPressure(""), null);
});

test("telemetry sampler: a failing probe lands in probe_errors, the sample still completes", async () => {
  const { env } = fakeNvidiaSmi(fixture("driver-failure.txt"), 9);
  const sources = { ...defaultSources(new GpuProbe({ env })), ioPressure: () => Promise.reject(new Error("psi broke")) };
  const sampler = new TelemetrySampler(sources, () => 1_700_000_000_000);
  assert.is(sampler.latest(), null);
  const first = sampler.tick();
  assert.is(sampler.tick(), first, "one sample in flight at a time");
  const t = await first;
  assert.is(sampler.latest(), t);
  assert.equal(t.sampledAt, new Date(1_700_000_000_000));
  assert.ok(t.memoryTotalMib > 0);
  assert.is(t.ioPressure, 0);
  assert.equal(t.gpus, []);
  assert.is(t.probeErrors.length, 2);
  assert.ok(t.probeErrors.some((e) => e === "io: psi broke"));
  assert.ok(t.probeErrors.some((e) => e.startsWith("nvidia-smi: exit 9")));
});

test("telemetry sampler: GPU inventory and utilisation from a working nvidia-smi", async () => {
  const { env } = fakeNvidiaSmi(fixture("h100x8.csv"));
  const sampler = new TelemetrySampler(defaultSources(new GpuProbe({ env })));
  const t = await sampler.tick();
  assert.equal(t.probeErrors, []);
  assert.is(t.gpus.length, 8);
  assert.is(sampler.gpus().length, 8);
});

test.run();
