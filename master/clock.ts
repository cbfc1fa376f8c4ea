// Time and randomness are injected everywhere (DESIGN §1) so tests and the simulator control them.
import { randomBytes } from "node:crypto";
import { uuidv7 } from "../src/core/ids.js";

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function newId(clock: Clock): string {
  return uuidv7(clock.now(), (n) => randomBytes(n));
}
