// Decayed usage per project (issue 15), as Slurm's PriorityDecayHalfLife: what a project consumed
// counts less the longer ago it was, so a burst last week does not starve it today. Pure arithmetic;
// the caller passes the times and persists the result with the time it is valid at.
import type { Amounts, BillingWeights } from "./types.js";

/** Usage as of `fromMs`, decayed to `toMs`: usage * 2^(-(to - from) / halfLife). */
export function decayUsage(usage: number, fromMs: number, toMs: number, halfLifeMs: number): number {
  checkHalfLife(halfLifeMs);
  if (!(toMs > fromMs)) return usage; // time never runs backwards for usage (clock steps, same tick)
  return usage * 2 ** (-(toMs - fromMs) / halfLifeMs);
}

/**
 * Usage as of `toMs`, given `usage` as of `fromMs` and a project that held `ratePerSecond` billing
 * units throughout, decaying meanwhile. This is the exact solution of dU/dt = r - U*ln2/h:
 *   U(dt) = U*2^(-dt/h) + r*(h/ln2)*(1 - 2^(-dt/h))   (dt, h in seconds)
 * rather than "decay, then add r*dt": exact, it does not depend on how the interval is cut, so a
 * master ticking every second, one ticking every minute and the simulator jumping from event to
 * event all arrive at the same usage (the additive form over-counts more the longer the tick).
 */
export function accrueUsage(usage: number, fromMs: number, toMs: number, ratePerSecond: number, halfLifeMs: number): number {
  checkHalfLife(halfLifeMs);
  if (!(ratePerSecond >= 0) || !Number.isFinite(ratePerSecond)) throw new RangeError(`billing rate must be a finite number >= 0, got ${ratePerSecond}`);
  if (!(toMs > fromMs)) return usage;
  const x = ((toMs - fromMs) / halfLifeMs) * Math.LN2; // dt/h * ln2, the same in ms or s
  // expm1 keeps 1 - 2^(-dt/h) accurate for intervals much shorter than the half-life.
  const remaining = Math.exp(-x);
  const gained = -Math.expm1(-x);
  return usage * remaining + ratePerSecond * (halfLifeMs / 1000 / Math.LN2) * gained;
}

/**
 * Billing units per second for holding `amounts` (Slurm's TRES billing): cpu cores, memory GiB and
 * GPUs, each times its weight. Per-model GPU keys ("gpu:h100") are already counted in "gpu", and
 * "tasks" is a count, not a resource, so neither is billed.
 */
export function billingRate(amounts: Amounts, weights: BillingWeights): number {
  return (amounts.cpu ?? 0) * weights.cpu + (amounts.memory ?? 0) * weights.memory + (amounts.gpu ?? 0) * weights.gpu;
}

// Zero would be "forget everything at once" and break the formula (division by zero); the config
// rejects it with a message for the operator, this is the last line.
function checkHalfLife(halfLifeMs: number): void {
  if (!(halfLifeMs > 0) || !Number.isFinite(halfLifeMs)) throw new RangeError(`half-life must be a finite number of milliseconds > 0, got ${halfLifeMs}`);
}
