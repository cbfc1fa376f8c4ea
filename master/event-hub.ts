// Fan-out of committed task events to WatchTasks streams. Events are published only after the
// change they describe is committed, so a watcher never sees a state the database could lose.
import type { TaskEvent } from "../src/core/types.js";

export interface TaskWatcher {
  /** Task ids of interest, or null for every task (optionally filtered by project). */
  taskIds: ReadonlySet<string> | null;
  project: string;
  push(event: TaskEvent, project: string): void;
}

export class EventHub {
  private readonly byTask = new Map<string, Set<TaskWatcher>>();
  private readonly global = new Set<TaskWatcher>();

  subscribe(watcher: TaskWatcher): () => void {
    if (watcher.taskIds === null) {
      this.global.add(watcher);
      return () => this.global.delete(watcher);
    }
    for (const id of watcher.taskIds) {
      let set = this.byTask.get(id);
      if (!set) this.byTask.set(id, (set = new Set()));
      set.add(watcher);
    }
    return () => {
      for (const id of watcher.taskIds ?? []) {
        const set = this.byTask.get(id);
        set?.delete(watcher);
        if (set?.size === 0) this.byTask.delete(id);
      }
    };
  }

  publish(event: TaskEvent, project: string): void {
    for (const w of this.byTask.get(event.taskId) ?? []) w.push(event, project);
    for (const w of this.global) if (!w.project || w.project === project) w.push(event, project);
  }

  get watcherCount(): number {
    return this.global.size + this.byTask.size;
  }
}
