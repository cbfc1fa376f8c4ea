import { test } from "uvu";
import * as assert from "uvu/assert";
import { fifoOrdering, orderingByName, priorityOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { uuidv7 } from "../../src/core/ids.js";
import { task } from "../helpers/domain.js";

test("priority ordering: class, then priority, then FIFO", () => {
  const q = new PendingQueue(priorityOrdering);
  const batchHigh = task({ queueClass: "BATCH", priority: "HIGH" });
  const defLow = task({ priority: "LOW" });
  const defNormal1 = task();
  const live = task({ queueClass: "LIVE", priority: "LOW" });
  const defNormal2 = task();
  const defHigh = task({ priority: "HIGH" });
  for (const t of [batchHigh, defLow, defNormal1, live, defNormal2, defHigh]) q.push(t);
  assert.equal(
    [...q.inOrder()].map((t) => t.id),
    [live, defHigh, defNormal1, defNormal2, defLow, batchHigh].map((t) => t.id),
  );
});

test("fifo ordering ignores class and priority", () => {
  const q = new PendingQueue(fifoOrdering);
  const a = task({ queueClass: "BATCH" });
  const b = task({ queueClass: "LIVE", priority: "HIGH" });
  q.push(a);
  q.push(b);
  assert.equal(
    [...q.inOrder()].map((t) => t.id),
    [a.id, b.id],
  );
});

test("remove and re-push; size tracks membership", () => {
  const q = new PendingQueue(priorityOrdering);
  const a = task();
  const b = task();
  q.push(a);
  q.push(b);
  assert.ok(q.remove(a.id));
  assert.not.ok(q.remove(a.id));
  assert.is(q.size, 1);
  q.push(a); // a requeued task goes to the back of its bucket
  assert.equal(
    [...q.inOrder()].map((t) => t.id),
    [b.id, a.id],
  );
  q.push(a); // pushing twice does not duplicate
  assert.is(q.size, 2);
});

test("orderingByName rejects unknown names", () => {
  assert.is(orderingByName("fifo"), fifoOrdering);
  assert.throws(() => orderingByName("lottery"), /unknown ordering policy/);
});

test("uuidv7 is time-ordered, version 7, variant 10", () => {
  let n = 0;
  const rnd = (len: number) => Uint8Array.from({ length: len }, () => (n++ * 37) % 256);
  const a = uuidv7(1_700_000_000_000, rnd);
  const b = uuidv7(1_700_000_000_001, rnd);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  assert.is(a.slice(0, 13).replace("-", ""), (1_700_000_000_000).toString(16).padStart(12, "0"));
});

test("uuidv7 spells the timestamp and random bytes as RFC 9562 lays them out", () => {
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
  const given = () => bytes;
  // 48-bit ms 0x0123_4567_89ab; version nibble over byte 6, variant bits over byte 8; bytes 9-15 as they are.
  assert.is(uuidv7(0x0123_4567_89ab, given), "01234567-89ab-76f7-b8f9-fafbfcfdfeff");
  assert.is(uuidv7(0, given), "00000000-0000-76f7-b8f9-fafbfcfdfeff");
  assert.is(bytes[6], 0xf6, "the random bytes are only read");
});

test.run();
