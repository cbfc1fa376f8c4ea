// The dispatch pass's view of quotas (QuotaGate in dispatch-plan.ts) over a QuotaLedger holding
// what every project runs now: a task may start when its project's check passes; a placement adds
// its demand, so later tasks in the same pass see it.
import type { QuotaGate } from "../dispatch-plan.js";
import type { Task } from "../types.js";
import type { WorkerSlot } from "../worker-slot.js";
import { gpuModelsOf, taskDemand } from "./demand.js";
import type { QuotaCheck, QuotaLedger } from "./quota-ledger.js";

export function quotaGate(ledger: QuotaLedger): QuotaGate {
  // The last task refuse() admitted, with its demand and verdict: a task without GPUs is placed
  // with exactly that demand (no models to add), so placed() need not check it again.
  let admitted: { task: Task; demand: Record<string, number>; borrowing: boolean } | null = null;
  // refuseOn's verdicts for the task being placed, by the models of the GPUs it would get: the
  // ledger does not change while one task's candidates are visited (placed() comes after), and
  // most candidates offer the same model, so each model set is checked once per task, and the
  // chosen one's demand and verdict serve placed() too.
  let verdictsFor: Task | null = null;
  const verdicts = new Map<string, { demand: Record<string, number>; verdict: QuotaCheck }>();
  const onSlotChecked = (task: Task, slot: WorkerSlot, gpuIndexes: readonly number[]) => {
    if (verdictsFor !== task) {
      verdictsFor = task;
      verdicts.clear();
    }
    const models = gpuModelsOf(slot.worker.capacity.gpus, gpuIndexes);
    const key = models.join("\n");
    let checked = verdicts.get(key);
    if (checked === undefined) {
      const demand = taskDemand(task.spec.resources, models);
      checked = { demand, verdict: ledger.check(task.spec.project, demand) };
      verdicts.set(key, checked);
    }
    return checked;
  };
  return {
    refuse(task) {
      verdictsFor = null; // a task's visit starts here: what was checked before may have changed since
      // Everything but the per-model GPU quotas, which need the worker (refuseOn).
      const demand = taskDemand(task.spec.resources, []);
      const verdict = ledger.check(task.spec.project, demand);
      admitted = verdict.ok ? { task, demand, borrowing: verdict.borrowing } : null;
      return verdict.ok ? null : verdict.reason;
    },
    refuseOn(task, slot, gpuIndexes) {
      const { verdict } = onSlotChecked(task, slot, gpuIndexes);
      return verdict.ok ? null : verdict.reason;
    },
    placed(task, slot, gpuIndexes) {
      if (gpuIndexes.length === 0 && admitted?.task === task) {
        ledger.add(task.spec.project, admitted.demand);
        return admitted.borrowing;
      }
      const { demand, verdict } = onSlotChecked(task, slot, gpuIndexes);
      verdictsFor = null; // the ledger changes now
      ledger.add(task.spec.project, demand);
      return verdict.ok && verdict.borrowing;
    },
  };
}
