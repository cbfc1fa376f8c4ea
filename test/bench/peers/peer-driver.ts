// What a peer job queue (pg-boss, graphile-worker) must offer the peer benchmarks: the same three
// kinds of work Taskgrid's submit, e2e and latency benches do, expressed in the peer's own API.
// Every job carries its sequence number so a handler can say which submit it belongs to.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface PeerDriver {
  /** "pg-boss" or "graphile-worker". */
  readonly name: string;
  /** The installed package version (from its package.json). */
  readonly version: string;
  /** The settings used, for the report. */
  readonly settings: string;
  /** One job, one call (the peer's counterpart of a unary SubmitTask); resolves once committed. */
  submitOne(seq: number, latencyQueue?: boolean): Promise<void>;
  /** `count` jobs in one batched call (seq firstSeq..firstSeq+count-1); resolves once committed. */
  submitBatch(firstSeq: number, count: number): Promise<void>;
  /** Starts the workers; `onStart(seq)` runs as each job's handler starts (the handler does nothing else). */
  startWorkers(onStart: (seq: number) => void, latencyQueue?: boolean): Promise<void>;
  /** Stops the workers after they finish what they hold. */
  stopWorkers(): Promise<void>;
  /** Jobs in the database not yet completed (queued, active, or completed but not yet recorded). */
  unfinished(latencyQueue?: boolean): Promise<number>;
  /** Empties the peer's job tables and runs VACUUM ANALYZE (autovacuum may be off here). */
  reset(): Promise<void>;
  /** Stops everything and drops the peer's database. */
  close(): Promise<void>;
}

/** The version in node_modules/<pkg>/package.json (the pinned devDependency). */
export function installedVersion(pkg: string): string {
  const file = fileURLToPath(new URL(`../../../node_modules/${pkg}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}
