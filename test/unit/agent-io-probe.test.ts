// IO pressure: PSI when the kernel has it, else the iowait share of CPU time between samples.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IoPressureProbe, iowaitShare, parseCpuTimes } from "../../agent/probes/io.js";

const stat = (iowait: number, idle: number) => `cpu  100 0 50 ${idle} ${iowait} 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n`;

test("parseCpuTimes reads the aggregate cpu line", () => {
  assert.equal(parseCpuTimes(stat(30, 820)), { total: 1000, iowait: 30 });
  assert.is(parseCpuTimes("garbage"), null);
});

test("iowaitShare is the iowait delta over the total delta", () => {
  assert.is(iowaitShare({ total: 1000, iowait: 30 }, { total: 1200, iowait: 80 }), 0.25);
  assert.is(iowaitShare({ total: 1000, iowait: 30 }, { total: 1000, iowait: 30 }), null);
});

test("the probe prefers PSI and falls back to iowait from /proc/stat", async () => {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-io-"));
  try {
    const psi = join(dir, "io");
    const procStat = join(dir, "stat");
    writeFileSync(psi, "some avg10=12.50 avg60=0 avg300=0 total=1\nfull avg10=0 avg60=0 avg300=0 total=0\n");
    assert.is(await new IoPressureProbe({ psi, stat: procStat }).sample(), 0.125);

    const fallback = new IoPressureProbe({ psi: join(dir, "missing"), stat: procStat });
    writeFileSync(procStat, stat(30, 820));
    assert.is(await fallback.sample(), 0, "the first sample has nothing to compare with");
    writeFileSync(procStat, stat(80, 970)); // +50 iowait of +200 total
    assert.is(await fallback.sample(), 0.25);

    assert.is(await new IoPressureProbe({ psi: join(dir, "missing"), stat: join(dir, "missing") }).sample(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
