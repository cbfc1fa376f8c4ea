// PreemptionRateLimiter (src/core/preemption/rate-limit.ts): a token bucket on injected time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PreemptionRateLimiter } from "../../src/core/preemption/rate-limit.js";

const T0 = 1_700_000_000_000;

test("N per minute: a burst of N, then one more each 60/N seconds", () => {
  const r = new PreemptionRateLimiter({ limit: 3 });
  assert.equal([r.allow(T0), r.allow(T0), r.allow(T0), r.allow(T0)], [true, true, true, false]);
  assert.not.ok(r.allow(T0 + 19_999));
  assert.ok(r.allow(T0 + 20_000), "exactly one token after 20 s, no float drift");
  assert.not.ok(r.allow(T0 + 20_000));
  assert.is(r.available(T0 + 80_000), 3, "refills up to the burst, not beyond");
  assert.is(r.available(T0 + 10 * 60_000), 3);
});

test("the long-run rate holds over many windows", () => {
  const r = new PreemptionRateLimiter({ limit: 5, burst: 1 });
  let allowed = 0;
  for (let t = 0; t < 10 * 60_000; t += 1_000) if (r.allow(T0 + t)) allowed++;
  assert.is(allowed, 50);
});

test("custom window and burst", () => {
  const r = new PreemptionRateLimiter({ limit: 2, windowMs: 10_000, burst: 1 });
  assert.ok(r.allow(T0));
  assert.not.ok(r.allow(T0 + 4_999));
  assert.ok(r.allow(T0 + 5_000));
});

test("limit 0 allows nothing; a clock stepping back refills nothing", () => {
  const none = new PreemptionRateLimiter({ limit: 0 });
  assert.not.ok(none.allow(T0));
  assert.not.ok(none.allow(T0 + 3_600_000));
  const r = new PreemptionRateLimiter({ limit: 1 });
  assert.ok(r.allow(T0 + 60_000));
  assert.not.ok(r.allow(T0), "time went back");
  assert.not.ok(r.allow(T0 + 60_000), "and coming forward again to where it was earns nothing twice");
  assert.ok(r.allow(T0 + 120_000));
});

test("bad settings are refused", () => {
  assert.throws(() => new PreemptionRateLimiter({ limit: -1 }), RangeError);
  assert.throws(() => new PreemptionRateLimiter({ limit: Number.NaN }), RangeError);
  assert.throws(() => new PreemptionRateLimiter({ limit: 1, windowMs: 0 }), RangeError);
  assert.throws(() => new PreemptionRateLimiter({ limit: 1, burst: 0 }), RangeError);
});

test.run();
