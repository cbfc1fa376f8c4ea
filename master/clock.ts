// Time and randomness are injected everywhere (DESIGN §1) so tests and the simulator control them.
import { randomBytes } from "node:crypto";
import { uuidv7 } from "../src/core/ids.js";

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

// Random bytes for ids come from a pool refilled 4 KiB at a time: one randomBytes call per id
// costs several microseconds, a visible share of the master's CPU at thousands of ids per second.
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let poolOffset = 0;

function pooledRandomBytes(n: number): Uint8Array {
  if (poolOffset + n > pool.length) {
    const fresh = randomBytes(Math.max(POOL_BYTES, n));
    pool = new Uint8Array(fresh.buffer, fresh.byteOffset, fresh.length);
    poolOffset = 0;
  }
  // A view, not a copy: uuidv7 only reads the bytes, and pool bytes are never handed out twice.
  const bytes = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return bytes;
}

export function newId(clock: Clock): string {
  return uuidv7(clock.now(), pooledRandomBytes);
}
