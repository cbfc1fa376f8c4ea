// The dispatch pass's view of quotas (QuotaGate in dispatch-plan.ts) over a QuotaLedger holding
// what every project runs now: a task may start when its project's check passes; a placement adds
// its demand, so later tasks in the same pass see it.
import type { QuotaGate } from "../dispatch-plan.js";
import type { Task } from "../types.js";
import type { WorkerSlot } from "../worker-slot.js";
import { gpuModelsOf, taskDemand } from "./demand.js";
import type { QuotaLedger } from "./quota-ledger.js";

export function quotaGate(ledger: QuotaLedger): QuotaGate {
  const onSlot = (task: Task, slot: WorkerSlot, gpuIndexes: readonly number[]) =>
    taskDemand(task.spec.resources, gpuModelsOf(slot.worker.capacity.gpus, gpuIndexes));
  // The last task refuse() admitted, with its demand and verdict: a task without GPUs is placed
  // with exactly that demand (no models to add), so placed() need not check it again.
  let admitted: { task: Task; demand: Record<string, number>; borrowing: boolean } | null = null;
  return {
    refuse(task) {
      // Everything but the per-model GPU quotas, which need the worker (refuseOn).
      const demand = taskDemand(task.spec.resources, []);
      const verdict = ledger.check(task.spec.project, demand);
      admitted = verdict.ok ? { task, demand, borrowing: verdict.borrowing } : null;
      return verdict.ok ? null : verdict.reason;
    },
    refuseOn(task, slot, gpuIndexes) {
      const verdict = ledger.check(task.spec.project, onSlot(task, slot, gpuIndexes));
      return verdict.ok ? null : verdict.reason;
    },
    placed(task, slot, gpuIndexes) {
      if (gpuIndexes.length === 0 && admitted?.task === task) {
        ledger.add(task.spec.project, admitted.demand);
        return admitted.borrowing;
      }
      const demand = onSlot(task, slot, gpuIndexes);
      const verdict = ledger.check(task.spec.project, demand);
      ledger.add(task.spec.project, demand);
      return verdict.ok && verdict.borrowing;
    },
  };
}
