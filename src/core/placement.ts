// Which worker (DESIGN §3, question 2). A placement strategy picks one of the feasible candidates
// and explains its choice. RTS (weighted scoring) arrives in its own module; round-robin is the
// always-available fallback.
import type { PlacementDecision } from "./types.js";
import type { Task } from "./types.js";
import type { WorkerSlot } from "./worker-slot.js";

export interface Candidate {
  slot: WorkerSlot;
  gpuIndexes: number[];
}

export interface PlacementChoice {
  candidate: Candidate;
  decision: PlacementDecision;
}

export interface PlacementStrategy {
  readonly name: string;
  /** `candidates` is non-empty and every candidate is feasible. */
  choose(task: Task, candidates: Candidate[], nowMs: number): PlacementChoice;
}

/**
 * Round-robin over feasible workers by worker id: the next id after the one chosen last, wrapping.
 * Deterministic for the same sequence of inputs.
 */
export class RoundRobinPlacement implements PlacementStrategy {
  readonly name = "round_robin";
  private lastWorkerId = "";

  choose(_task: Task, candidates: Candidate[], _nowMs: number, fallbackReason = ""): PlacementChoice {
    let next: Candidate | null = null;
    let lowest: Candidate = candidates[0];
    for (const c of candidates) {
      const id = c.slot.worker.id;
      if (id < lowest.slot.worker.id) lowest = c;
      if (id > this.lastWorkerId && (next === null || id < next.slot.worker.id)) next = c;
    }
    const chosen = next ?? lowest;
    this.lastWorkerId = chosen.slot.worker.id;
    return {
      candidate: chosen,
      decision: {
        strategy: "round_robin",
        fallbackReason,
        feasibleWorkers: candidates.length,
        chosen: null,
        runnerUp: null,
        weightsVersion: "",
      },
    };
  }
}
