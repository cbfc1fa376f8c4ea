// The --backfill choices of the batch protocol and what each one means to the loops.
// - none, rlscheduler, committed-head: the committed-head loop of RLScheduler's code (the head,
//   once picked, waits until it fits). "committed-head" is what this simulator called "easy"
//   before classic EASY existed: EASY's shadow/extra-nodes test, but only while the head is
//   committed, so it is kept under its own name to reproduce earlier numbers.
// - easy, conservative, K=<n>, relaxed[=<f>]: the re-planning loop (replan.ts). Nothing is
//   committed; at every event the queue is re-ranked and the first `reservations` blocked jobs
//   get reservations. easy = 1, conservative = all, relaxed = 1 reservation that a backfilled job
//   may delay by at most f x the reserved job's wait so far.

export type BackfillName = "none" | "rlscheduler" | "committed-head" | "easy" | "conservative" | "relaxed" | `relaxed=${number}` | `K=${number}`;

export type BackfillSpec = { kind: "none" | "rlscheduler" | "committed-head" } | { kind: "reservations"; reservations: number; relax: number };

/** The relaxed factor when `relaxed` is given without one: 10% of the head's wait so far. */
export const DEFAULT_RELAX = 0.1;

export const BACKFILL_SYNTAX = "none|rlscheduler|committed-head|easy|conservative|K=<n>|relaxed[=<factor>]";

/** Parses a --backfill value; throws an Error saying what is wrong. */
export function parseBackfill(name: string): BackfillSpec {
  switch (name) {
    case "none":
    case "rlscheduler":
    case "committed-head":
      return { kind: name };
    case "easy":
      return { kind: "reservations", reservations: 1, relax: 0 };
    case "conservative":
      return { kind: "reservations", reservations: Number.POSITIVE_INFINITY, relax: 0 };
    case "relaxed":
      return { kind: "reservations", reservations: 1, relax: DEFAULT_RELAX };
  }
  const k = /^K=(\d+)$/.exec(name);
  if (k !== null) {
    const n = Number(k[1]);
    if (n < 1) throw new Error(`"${name}": K must be at least 1`);
    return { kind: "reservations", reservations: n, relax: 0 };
  }
  const r = /^relaxed=(\d+(?:\.\d+)?)$/.exec(name);
  if (r !== null) return { kind: "reservations", reservations: 1, relax: Number(r[1]) };
  throw new Error(`"${name}" is not one of ${BACKFILL_SYNTAX}`);
}
