// The dispatch pass's quota gate (src/core/fairshare/quota-gate.ts): per-model GPU quotas checked
// per candidate worker, each model set once per task, and never a verdict from before the ledger
// changed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { quotaGate } from "../../src/core/fairshare/quota-gate.js";
import { QuotaLedger } from "../../src/core/fairshare/quota-ledger.js";
import type { Amounts } from "../../src/core/fairshare/types.js";
import { gpus, slot, task } from "../helpers/domain.js";

const H100 = "NVIDIA H100 80GB HBM3";
const A100 = "NVIDIA A100-SXM4-40GB";
const box = (id: string, model: string) => slot(id, { capacity: { cpuMillis: 64_000, memoryMib: 1 << 18, maxTasks: 16, gpus: gpus(4, model) } });
const gpuTask = (project: string) => task({ project, resources: { cpuMillis: 1000, memoryMib: 1024, gpuCount: 1, gpuModel: "", gpuMemoryMib: 0 } });

/** A ledger that counts its checks. */
function countingLedger(quotas: Array<{ project: string; nominal: Amounts }>): { ledger: QuotaLedger; checks: () => number } {
  const ledger = new QuotaLedger(
    quotas.map((q) => ({ ...q, borrowingLimit: {}, lendingLimit: {} })),
    null,
  );
  let checks = 0;
  const check = ledger.check.bind(ledger);
  ledger.check = (project, demand) => {
    checks++;
    return check(project, demand);
  };
  return { ledger, checks: () => checks };
}

test("a per-model GPU quota refuses one model's workers and admits another's; each model is checked once per task", () => {
  const { ledger, checks } = countingLedger([{ project: "vision", nominal: { "gpu:h100": 1, gpu: 8 } }]);
  const gate = quotaGate(ledger);
  const h = [box("h1", H100), box("h2", H100), box("h3", H100)];
  const a = box("a1", A100);

  const first = gpuTask("vision");
  assert.is(gate.refuse(first), null);
  const before = checks();
  for (const s of h) assert.is(gate.refuseOn(first, s, [0]), null, "within the one H100 of its quota");
  assert.is(checks() - before, 1, "three H100 workers, one check");
  assert.is(gate.placed(first, h[0], [0]), false);
  assert.is(checks() - before, 1, "placed() reuses the chosen worker's check");
  assert.equal(ledger.usage("vision")["gpu:nvidia-h100-80gb-hbm3"], 1);

  const second = gpuTask("vision");
  assert.is(gate.refuse(second), null);
  for (const s of h) assert.match(gate.refuseOn(second, s, [1]) ?? "", /^quota: project vision uses 1\/1 gpu:h100/, "the first one's H100 counts now");
  assert.is(gate.refuseOn(second, a, [0]), null, "an A100 is not an H100");
  gate.placed(second, a, [0]);
  assert.equal(ledger.usage("vision").gpu, 2);
});

test("a verdict is not reused once the ledger changed: the next visit of the same task checks again", () => {
  const { ledger } = countingLedger([{ project: "vision", nominal: { "gpu:h100": 1 } }]);
  const gate = quotaGate(ledger);
  const h = box("h1", H100);
  const running = gpuTask("vision");
  gate.refuse(running);
  gate.placed(running, h, [0]);

  const waiting = gpuTask("vision");
  gate.refuse(waiting);
  assert.ok(gate.refuseOn(waiting, h, [1]) !== null, "over its H100 quota");
  // Between passes the running attempt ends; the same task object is looked at again.
  ledger.remove("vision", ledger.usage("vision"));
  assert.is(gate.refuse(waiting), null);
  assert.is(gate.refuseOn(waiting, h, [1]), null, "room again");
});

test.run();
