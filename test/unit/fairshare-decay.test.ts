import { test } from "uvu";
import * as assert from "uvu/assert";
import { accrueUsage, billingRate, decayUsage } from "../../src/core/fairshare/decay.js";
import { DEFAULT_BILLING_WEIGHTS } from "../../src/core/fairshare/types.js";

const HOUR = 3_600_000;
const close = (actual: number, expected: number, relative = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} != ${expected} (relative ${relative})`);

test("decay: one half-life halves, two quarter, none or backwards leaves it", () => {
  assert.is(decayUsage(800, 0, HOUR, HOUR), 400);
  assert.is(decayUsage(800, 5, 5 + 2 * HOUR, HOUR), 200);
  assert.is(decayUsage(800, HOUR, HOUR, HOUR), 800);
  assert.is(decayUsage(800, HOUR, 0, HOUR), 800);
});

test("accrue over one 60 s interval equals sixty 1 s intervals", () => {
  const h = 10 * 60_000;
  const once = accrueUsage(123, 0, 60_000, 2.5, h);
  let stepped = 123;
  for (let s = 0; s < 60; s++) stepped = accrueUsage(stepped, s * 1000, (s + 1) * 1000, 2.5, h);
  close(stepped, once);
  // And it is the integral, not "decay then add r*dt": less than 123 + 150 since early use decays.
  assert.ok(once < 123 + 150 && once > decayUsage(123, 0, 60_000, h) + 140);
});

test("accrue with zero rate is decay; a long run tends to r*h/ln2", () => {
  close(accrueUsage(500, 0, 90_000, 0, HOUR), decayUsage(500, 0, 90_000, HOUR), 1e-12);
  close(accrueUsage(0, 0, 200 * HOUR, 1, HOUR), 3600 / Math.LN2, 1e-12);
  assert.is(accrueUsage(7, 10, 10, 5, HOUR), 7);
  // Very short intervals keep their precision (expm1): about r*dt.
  close(accrueUsage(0, 0, 1, 1, 30 * 24 * HOUR), 0.001, 1e-6);
});

test("half-life of zero, negative or non-finite, and negative rates are rejected", () => {
  assert.throws(() => decayUsage(1, 0, 1, 0), RangeError);
  assert.throws(() => accrueUsage(1, 0, 1, 1, -5), RangeError);
  assert.throws(() => accrueUsage(1, 0, 1, 1, Number.NaN), RangeError);
  assert.throws(() => accrueUsage(1, 0, 1, 1, Number.POSITIVE_INFINITY), RangeError);
  assert.throws(() => accrueUsage(1, 0, 1, -1, HOUR), RangeError);
});

test("billing: default weights, 1 GPU = 1 unit, 32 cores = 1, 256 GiB = 1; model keys and tasks not billed", () => {
  assert.is(billingRate({ gpu: 1 }, DEFAULT_BILLING_WEIGHTS), 1);
  assert.is(billingRate({ cpu: 32, memory: 256 }, DEFAULT_BILLING_WEIGHTS), 2);
  assert.is(billingRate({ gpu: 2, "gpu:h100": 2, tasks: 5 }, DEFAULT_BILLING_WEIGHTS), 2);
  assert.is(billingRate({}, DEFAULT_BILLING_WEIGHTS), 0);
  assert.is(billingRate({ cpu: 4, memory: 10, gpu: 1 }, { cpu: 0.5, memory: 0.1, gpu: 3 }), 6);
});

test.run();
