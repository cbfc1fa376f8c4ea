// The open workers of one dispatch pass, arranged for bounded candidate scans: one ring of all
// open workers and, in a large cluster, one ring per tag and per GPU model, each with a cursor
// that moves on past the last worker visited (see planDispatch and docs/scheduling.md).
import { hasFreeSlot, type WorkerSlot } from "./worker-slot.js";

/** What of a task's requirements picks its ring. */
export interface RingShape {
  gpuCount: number;
  /** Lower-cased requested GPU model ("" = any). */
  gpuModel: string;
  requiredTags: readonly string[];
}

/** Below this many open workers every task just scans them all (no per-tag rings). */
export const RING_INDEX_MIN_WORKERS = 256;
/** Workers visited in a ring from a cursor that moves on past the last one visited. */
export interface Ring {
  slots: WorkerSlot[];
  cursor: number;
}

/** The open workers of one pass, and (in a large cluster) the same split by tag and by GPU model. */
export interface PassIndex {
  all: Ring;
  indexed: boolean;
  /** tag -> open workers that carry it. */
  byTag: Map<string, Ring>;
  /** lower-cased GPU model -> open workers with at least one GPU of exactly that model. */
  byGpuModel: Map<string, Ring>;
  /** Open workers with any GPU. */
  anyGpu: Ring;
  /** Requested model (substring) -> the ring to use, memoised. */
  forModel: Map<string, Ring>;
}

/** One loop over the workers at the start of a pass, so no single task pays for building an index. */
export function buildRings(slots: readonly WorkerSlot[]): PassIndex {
  const open: WorkerSlot[] = [];
  for (const s of slots) if (hasFreeSlot(s)) open.push(s);
  const index: PassIndex = {
    all: { slots: open, cursor: 0 },
    indexed: open.length >= RING_INDEX_MIN_WORKERS,
    byTag: new Map(),
    byGpuModel: new Map(),
    anyGpu: { slots: [], cursor: 0 },
    forModel: new Map(),
  };
  if (!index.indexed) return index;
  for (const s of open) {
    for (const tag of s.tagSet) {
      const ring = index.byTag.get(tag);
      if (ring) ring.slots.push(s);
      else index.byTag.set(tag, { slots: [s], cursor: 0 });
    }
    const gpus = s.worker.capacity.gpus;
    if (gpus.length > 0) {
      index.anyGpu.slots.push(s);
      let previous = "";
      for (const g of gpus) {
        if (g.model === previous) continue;
        previous = g.model;
        const model = g.model.toLowerCase();
        const ring = index.byGpuModel.get(model);
        if (ring === undefined) index.byGpuModel.set(model, { slots: [s], cursor: 0 });
        else if (ring.slots[ring.slots.length - 1] !== s) ring.slots.push(s);
      }
    }
  }
  return index;
}

const EMPTY_RING: Ring = { slots: [], cursor: 0 };

/**
 * The smallest ring that holds every open worker the shape could fit: the ring of one of its
 * required tags, or of its GPU model (when exactly one model of the fleet matches the requested
 * substring; else every GPU worker), or all open workers.
 */
export function narrowestRing(index: PassIndex, shape: RingShape): Ring {
  let ring = index.all;
  for (const tag of shape.requiredTags) {
    const r = index.byTag.get(tag) ?? EMPTY_RING;
    if (r.slots.length < ring.slots.length) ring = r;
  }
  if (shape.gpuCount > 0) {
    let r = index.forModel.get(shape.gpuModel);
    if (r === undefined) {
      let only: Ring | null = null;
      let matches = 0;
      for (const [model, modelRing] of index.byGpuModel) {
        if (model.includes(shape.gpuModel)) {
          matches++;
          only = modelRing;
        }
      }
      r = matches === 0 ? EMPTY_RING : matches === 1 && only ? only : index.anyGpu;
      index.forModel.set(shape.gpuModel, r);
    }
    if (r.slots.length < ring.slots.length) ring = r;
  }
  return ring;
}
