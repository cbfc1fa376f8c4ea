// A registration is committed before the worker becomes schedulable: when the upsert fails (a
// database blip), memory is as it was, so the dispatcher never assigns to a worker that has no
// session (that once failed 200 queued tasks in a tight loop). The agent's next try succeeds.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { orderingByName } from "../../src/core/ordering.js";
import type { Store, StoreWrite } from "../../src/store/store-types.js";
import { MasterState } from "../../master/state.js";
import type { WorkerSession } from "../../master/worker.js";
import { WorkerRegistry } from "../../master/worker-registry.js";
import { OPEN_ACCESS } from "../../src/core/access.js";

test("a failed upsert leaves no worker behind; the next registration makes it ONLINE", async () => {
  const state = new MasterState(orderingByName("priority"), () => 1000);
  let failNext = true;
  const writes: StoreWrite[][] = [];
  const store = {
    write: async (w: StoreWrite[]) => {
      if (failNext) {
        failNext = false;
        throw new Error("connection terminated");
      }
      writes.push(w);
    },
  } as unknown as Store;
  let kicks = 0;
  const registry = new WorkerRegistry({
    state,
    store,
    clock: { now: () => 1000 },
    log: { info() {}, warn() {}, error() {}, debug() {} } as never,
    suspectAfterMs: 10_000,
    offlineAfterMs: 20_000,
    onCapacityChange: () => kicks++,
  });
  const session = (): WorkerSession => ({ caller: OPEN_ACCESS, peer: "test", open: true, send: () => true, close() {} });
  const registration = {
    workerId: "w1",
    hostname: "h",
    tags: [],
    agentVersion: "t",
    runningAttemptIds: [],
    instanceId: "",
    capacity: { cpuMillis: 1000, memoryMib: 1024, maxTasks: 1, gpus: [] },
  };
  const failed = await registry.register(session(), registration).then(
    () => null,
    (e: Error) => e,
  );
  assert.match(failed?.message ?? "", /connection terminated/);
  assert.is(state.slots.size, 0, "nothing schedulable after a failed commit");

  const ok = await registry.register(session(), registration);
  assert.is(state.slots.get("w1")?.worker.status, "ONLINE");
  assert.is(ok.worker.slot, state.slots.get("w1"), "the worker object owns the slot the dispatcher plans over");
  assert.is(ok.epoch, 1, "the failed try did not count as a registration");
  assert.equal(
    writes.map((w) => w[0].kind),
    ["upsert_worker"],
  );
  assert.is(kicks, 1);
});

test.run();
