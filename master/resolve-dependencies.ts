// A submission's dependency references become ids: "#N" the Nth spec of the request (its task or
// array id), "ID[N]" that element of an array, anything else a task or array id that must exist in
// the spec's own project. Unknown and other projects' ids get the same answer ("unknown task"), so a
// dependency never reveals another project's work.
import { parseElementRef } from "../src/core/arrays.js";
import { batchReference, DEPENDENCY_FIELDS, DEPENDENCY_KINDS } from "../src/core/dependencies.js";
import { InvalidArgumentError } from "../src/core/errors.js";
import type { TaskSpec } from "../src/core/types.js";
import type { Store } from "../src/store/store-types.js";
import type { DependencyGate } from "./dependency-gate.js";
import type { MasterState } from "./state.js";
import { notCreatedElement } from "./services/array-refs.js";

export interface ResolveDeps {
  state: MasterState;
  store: Pick<Store, "getArrayElement" | "getArrayRecord" | "getDependencyTargets">;
  gate?: Pick<DependencyGate, "liveArray">;
}

interface Pending {
  spec: number;
  kind: (typeof DEPENDENCY_KINDS)[number];
  index: number;
  ref: string;
}

/** The specs with every reference replaced by the id it names (duplicates dropped). */
export async function resolveDependencies(
  specs: readonly TaskSpec[],
  refIds: readonly string[],
  field: (i: number) => string,
  deps: ResolveDeps,
): Promise<TaskSpec[]> {
  const { state, store, gate } = deps;
  const resolved = specs.map((spec) => ({ after: [] as string[], afterAny: [] as string[], afterFail: [] as string[], spec }));
  const fromStore: Pending[] = [];
  const unknown = (p: Pending) => new InvalidArgumentError(`${field(p.spec)}.${DEPENDENCY_FIELDS[p.kind]}[${p.index}]`, `unknown task ${p.ref}`);
  for (let i = 0; i < specs.length; i++) {
    const project = specs[i].project;
    for (const kind of DEPENDENCY_KINDS) {
      const refs = specs[i][kind] ?? [];
      for (let j = 0; j < refs.length; j++) {
        const p: Pending = { spec: i, kind, index: j, ref: refs[j] };
        const n = batchReference(p.ref);
        if (n !== null) {
          resolved[i][kind].push(refIds[n]); // checkBatchDag has checked the range
          continue;
        }
        const element = parseElementRef(p.ref);
        if (element !== null) {
          const task = await store.getArrayElement(element.arrayId, element.index);
          if (task === null) {
            // An element not created yet has no id to wait on: its array has (and is known to exist).
            const notCreated = await notCreatedElement(store, p.ref);
            if (notCreated !== null && notCreated.spec.project === project)
              throw new InvalidArgumentError(
                `${field(p.spec)}.${DEPENDENCY_FIELDS[p.kind]}[${p.index}]`,
                `element ${p.ref} has not been created yet (an array creates its elements as earlier ones end): depend on the array ${element.arrayId}`,
              );
          }
          if (task === null || task.spec.project !== project) throw unknown(p);
          resolved[i][kind].push(task.id);
          continue;
        }
        const live = state.activeTasks.get(p.ref)?.spec.project ?? gate?.liveArray(p.ref)?.project;
        if (live === undefined) fromStore.push(p);
        else if (live !== project) throw unknown(p);
        else resolved[i][kind].push(p.ref);
      }
    }
  }
  if (fromStore.length > 0) {
    const rows = await store.getDependencyTargets([...new Set(fromStore.map((p) => p.ref))]);
    const projectOf = new Map(rows.map((r) => [r.id, r.project]));
    for (const p of fromStore) {
      if (projectOf.get(p.ref) !== specs[p.spec].project) throw unknown(p);
      resolved[p.spec][p.kind].push(p.ref);
    }
  }
  return resolved.map(({ spec, ...lists }) => {
    const out: TaskSpec = { ...spec };
    for (const kind of DEPENDENCY_KINDS) {
      if (lists[kind].length > 0) out[kind] = [...new Set(lists[kind])];
      else delete out[kind];
    }
    return out;
  });
}
