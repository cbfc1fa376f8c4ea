// The worker object (master/worker.ts) through its registry, with fake sessions and a fake store:
// the link's lifecycle (a late close of a replaced stream changes nothing), who may take a worker
// over, an operator's drain (committed, then applied; kept by registrations and restarts) and an
// agent's own drain (its process only), and liveness.
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { MasterState } from "../../master/state.js";
import type { WorkerSession } from "../../master/worker.js";
import type { AgentRegistration } from "../../master/convert/registration.js";
import { WorkerRegistry } from "../../master/worker-registry.js";
import { OPEN_ACCESS } from "../../src/core/access.js";
import { WorkerConnectedError } from "../../src/core/errors.js";
import { orderingByName } from "../../src/core/ordering.js";
import { allocate } from "../../src/core/worker-slot.js";
import type { Store, StoreWrite } from "../../src/store/store-types.js";

interface FakeSession extends WorkerSession {
  sent: string[];
  closedWith: Array<{ code: grpc.status; details: string } | null>;
  open: boolean;
}

function session(tokenId: string | null = null): FakeSession {
  const s: FakeSession = {
    caller: { ...OPEN_ACCESS, tokenId },
    peer: "ipv4:127.0.0.1:1",
    open: true,
    sent: [],
    closedWith: [],
    send: (m) => (s.sent.push(m.body?.$case ?? ""), s.open),
    close: (error) => {
      s.open = false;
      s.closedWith.push(error);
    },
  };
  return s;
}

function setup() {
  let now = 1000;
  const state = new MasterState(orderingByName("priority"), () => now);
  const writes: StoreWrite[] = [];
  let failNext = false;
  const store = {
    write: async (w: StoreWrite[]) => {
      if (failNext) {
        failNext = false;
        throw new Error("connection terminated");
      }
      writes.push(...w);
    },
  } as unknown as Store;
  const registry = new WorkerRegistry({
    state,
    store,
    clock: { now: () => now },
    log: { info() {}, warn() {}, error() {}, debug() {} } as never,
    suspectAfterMs: 10_000,
    offlineAfterMs: 20_000,
    onCapacityChange: () => {},
  });
  const reg = (instanceId: string, running: string[] = []): AgentRegistration => ({
    workerId: "w1",
    hostname: "h",
    tags: ["a"],
    agentVersion: "t",
    runningAttemptIds: running,
    instanceId,
    capacity: { cpuMillis: 1000, memoryMib: 1024, maxTasks: 2, gpus: [] },
  });
  return {
    state,
    registry,
    writes,
    reg,
    failNextWrite: () => (failNext = true),
    advance: (ms: number) => (now += ms),
    settle: () => new Promise<void>((r) => setImmediate(r)),
  };
}

test("a reconnect of the same agent process replaces its stream; the replaced stream's late close changes nothing", async () => {
  const t = setup();
  const s1 = session();
  const first = await t.registry.register(s1, t.reg("i1"));
  const s2 = session();
  const second = await t.registry.register(s2, t.reg("i1"));
  assert.is(second.worker, first.worker);
  assert.equal(s1.closedWith, [{ code: grpc.status.ABORTED, details: "replaced by a newer session of the same worker" }]);
  first.worker.sessionClosed(s1); // the replaced stream's close, arriving late
  assert.is(first.worker.record.status, "ONLINE");
  assert.is(first.worker.link.kind, "connected");
  assert.is(second.epoch, 2);

  first.worker.sessionClosed(s2);
  assert.is(first.worker.record.status, "SUSPECT", "SUSPECT at once when the linked stream closes");
  const link = first.worker.link;
  assert.ok(link.kind === "disconnected" && link.epoch === 2 && link.instanceId === "i1");
  assert.is(first.worker.send({ body: { $case: "drain", value: { reason: "x" } } }), false, "nothing reaches a disconnected worker");
});

test("another agent process, another token or no instance id cannot take a live session over", async () => {
  const t = setup();
  const owner = session("tok-a");
  await t.registry.register(owner, t.reg("i1"));
  for (const [who, instanceId] of [
    [session("tok-a"), "i2"],
    [session("tok-b"), "i1"],
  ] as const) {
    const refused = await t.registry.register(who, t.reg(instanceId)).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance(refused, WorkerConnectedError);
  }
  assert.equal(owner.closedWith, [], "the first session is untouched");
  assert.equal(t.writes.length, 1, "a refused registration writes nothing");

  const t2 = setup();
  await t2.registry.register(session(), t2.reg(""));
  const refused = await t2.registry.register(session(), t2.reg("")).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(refused, WorkerConnectedError, "without an instance id nothing proves it is the same process");
});

test("an operator's drain is committed, then applied; registrations and restarts keep it", async () => {
  const t = setup();
  const s1 = session();
  const { worker } = await t.registry.register(s1, t.reg("i1"));
  t.failNextWrite();
  const failed = await t.registry.drain("w1", "disk swap").then(
    () => null,
    (e: Error) => e,
  );
  assert.match(failed?.message ?? "", /connection terminated/);
  assert.is(worker.record.status, "ONLINE", "a failed commit leaves memory as it was");
  assert.is(worker.record.drain, undefined);
  assert.equal(s1.sent, [], "nor is the agent told");

  t.advance(5);
  await t.registry.drain("w1", "disk swap");
  assert.is(worker.record.status, "DRAINING");
  assert.equal(worker.record.drain, { atMs: 1005, reason: "disk swap" });
  const [drainWrite, statusWrite] = t.writes.slice(-2);
  assert.ok(drainWrite.kind === "upsert_worker" && drainWrite.worker.drain?.reason === "disk swap", "the drain is in the worker's row");
  assert.ok(statusWrite.kind === "update_worker_status" && statusWrite.status === "DRAINING");
  assert.equal(s1.sent, ["drain"], "the agent is told");

  // A new agent process on the drained worker: still DRAINING, and its row keeps the drain.
  worker.sessionClosed(s1);
  await t.registry.register(session(), t.reg("i2"));
  assert.is(worker.record.status, "DRAINING");
  const upsert = t.writes.at(-1)!;
  assert.ok(upsert.kind === "upsert_worker" && upsert.worker.drain?.atMs === 1005);

  // After a master restart the row comes back SUSPECT and drained; its agent registers DRAINING.
  const restarted = setup();
  const restored = restarted.registry.restore({ ...worker.record }, 2000);
  assert.is(restored.record.status, "SUSPECT");
  assert.is(restarted.state.slots.get("w1"), restored.slot);
  await restarted.registry.register(session(), restarted.reg("i3"));
  assert.is(restored.record.status, "DRAINING");
});

test("an agent's own drain holds across its process's reconnects, not for a new process", async () => {
  const t = setup();
  const { worker } = await t.registry.register(session(), t.reg("i1"));
  await worker.agentDrains();
  assert.is(worker.record.status, "DRAINING");
  await t.registry.register(session(), t.reg("i1"));
  assert.is(worker.record.status, "DRAINING", "the same process reconnected");
  worker.sessionClosed((worker.link as { session: WorkerSession }).session);
  await t.registry.register(session(), t.reg("i2"));
  assert.is(worker.record.status, "ONLINE", "a new agent process");
});

test("a registration whose stream closed while it committed is not linked: the worker is SUSPECT", async () => {
  const t = setup();
  const s1 = session();
  const registering = t.registry.register(s1, t.reg("i1"));
  s1.open = false;
  const { worker } = await registering;
  assert.is(worker.link.kind, "disconnected");
  await t.settle();
  assert.is(worker.record.status, "SUSPECT");
});

test("liveness: SUSPECT after the silence threshold, OFFLINE later (stream ended, attempts returned as lost)", async () => {
  const t = setup();
  const s1 = session();
  const { worker } = await t.registry.register(s1, t.reg("i1"));
  allocate(worker.slot, "att-1", { cpuMillis: 100, memoryMib: 10, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 }, []);
  t.advance(10_000);
  assert.equal(await t.registry.tick(), []);
  assert.is(worker.record.status, "SUSPECT");
  worker.heartbeat(null);
  await t.settle();
  assert.is(worker.record.status, "ONLINE", "a message brings it back");
  t.advance(20_000);
  assert.equal(await t.registry.tick(), [{ workerId: "w1", attemptIds: ["att-1"] }]);
  assert.is(worker.record.status, "OFFLINE");
  assert.equal(s1.closedWith, [{ code: grpc.status.UNAVAILABLE, details: "no heartbeat: worker is OFFLINE" }]);
  assert.equal(await t.registry.tick(), [], "OFFLINE once");
});

test.run();
