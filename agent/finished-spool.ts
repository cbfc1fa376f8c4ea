// `finished` reports the master has not acknowledged, kept on disk under the agent's state dir so
// that they survive an agent restart: a task whose command exited 0 must be recorded SUCCEEDED even
// if the agent is killed between the exit and the master's commit. One small file per attempt,
// written whole (temp file + rename, so a crash never leaves half a report) and removed on ack.
// Without a state dir the spool is off (reports still survive reconnects, in memory).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentMessage } from "../src/gen/taskgrid/v1/worker_service.js";

export interface SpooledFinish {
  attemptId: string;
  taskId: string;
  startedAt: Date;
  message: AgentMessage;
}

interface SpoolFile {
  attemptId: string;
  taskId: string;
  startedAtMs: number;
  message: unknown;
}

export class FinishedSpool {
  private readonly dir: string | null;

  constructor(stateDir: string | null) {
    this.dir = stateDir === null ? null : join(stateDir, "finished");
    if (this.dir) mkdirSync(this.dir, { recursive: true });
  }

  save(entry: SpooledFinish): void {
    if (!this.dir) return;
    const file: SpoolFile = {
      attemptId: entry.attemptId,
      taskId: entry.taskId,
      startedAtMs: entry.startedAt.getTime(),
      message: AgentMessage.toJSON(entry.message),
    };
    const path = this.pathOf(entry.attemptId);
    writeFileSync(`${path}.tmp`, JSON.stringify(file));
    renameSync(`${path}.tmp`, path);
  }

  remove(attemptId: string): void {
    if (!this.dir) return;
    // unlink, not rmSync: rmSync's removal walks (lstat, then unlink) in JS, on every ack.
    try {
      unlinkSync(this.pathOf(attemptId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /** Every spooled report (a file that cannot be read is skipped and removed: it can never be sent). */
  loadAll(): SpooledFinish[] {
    if (!this.dir) return [];
    const out: SpooledFinish[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      const path = join(this.dir, name);
      if (!name.endsWith(".json")) {
        rmSync(path, { force: true }); // a temp file from a crash mid-write
        continue;
      }
      try {
        const file = JSON.parse(readFileSync(path, "utf8")) as SpoolFile;
        out.push({ attemptId: file.attemptId, taskId: file.taskId, startedAt: new Date(file.startedAtMs), message: restored(file.message) });
      } catch {
        rmSync(path, { force: true });
      }
    }
    return out;
  }

  private pathOf(attemptId: string): string {
    return join(this.dir!, `${attemptId.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
  }
}

/**
 * A spooled message as it was saved: fromJSON sets each absent optional field of the result
 * (log_location, cpu_time_ms, max_rss_kib) to undefined; drop those, so it equals what was sent.
 */
function restored(json: unknown): AgentMessage {
  const message = AgentMessage.fromJSON(json);
  const result = (message.body?.$case === "finished" ? message.body.value.result : undefined) as Record<string, unknown> | undefined;
  if (result) for (const key of Object.keys(result)) if (result[key] === undefined) delete result[key];
  return message;
}
