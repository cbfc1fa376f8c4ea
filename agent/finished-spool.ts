// `finished` reports the master has not acknowledged, kept on disk under the agent's state dir so
// that they survive an agent restart: a task whose command exited 0 must be recorded SUCCEEDED even
// if the agent is killed between the exit and the master's commit. Without a state dir the spool is
// off (reports still survive reconnects, in memory).
//
// One append-only journal, <state dir>/finished/journal: a line per saved report and a line per
// acknowledgement, each written with one write(2) as it happens (the file is in the page cache
// when the report is sent, so it survives the agent process, as the file per report it replaces
// did). A file per report cost an inode's creation, a rename and an unlink per attempt, which on
// some file systems is most of what an agent spends on a short task. The journal is rewritten with
// just the unacknowledged reports (temp file + rename) when it is loaded and whenever acks make up
// most of it. Every line starts with a newline, so a line torn by a crash or a full disk never runs
// into the next; a line that does not parse is skipped.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { AgentMessage } from "../src/gen/taskgrid/v1/worker_service.js";

export interface SpooledFinish {
  attemptId: string;
  taskId: string;
  startedAt: Date;
  message: AgentMessage;
}

/** A saved report as stored (one journal line, or one file of an agent before the journal). */
interface SpoolRecord {
  attemptId: string;
  taskId: string;
  startedAtMs: number;
  message: unknown;
}

/** An acknowledgement line: the report of this attempt is no longer owed. */
interface AckRecord {
  acked: string;
}

const JOURNAL = "journal";
/** Ack lines tolerated before a rewrite (and at least as many as the reports still owed). */
const COMPACT_AFTER_ACKS = 1_000;

export class FinishedSpool {
  private readonly dir: string | null;
  /** Unacknowledged reports by attempt id, as their journal lines (what a rewrite keeps). */
  private readonly owed = new Map<string, string>();
  /** Ack lines in the journal since it was last rewritten. */
  private acksWritten = 0;
  private fd: number | null = null;

  constructor(stateDir: string | null) {
    this.dir = stateDir === null ? null : join(stateDir, "finished");
    if (this.dir) mkdirSync(this.dir, { recursive: true });
  }

  save(entry: SpooledFinish): void {
    if (!this.dir) return;
    const record: SpoolRecord = {
      attemptId: entry.attemptId,
      taskId: entry.taskId,
      startedAtMs: entry.startedAt.getTime(),
      message: AgentMessage.toJSON(entry.message),
    };
    const line = JSON.stringify(record);
    this.append(line);
    this.owed.set(entry.attemptId, line);
  }

  remove(attemptId: string): void {
    if (!this.dir || !this.owed.delete(attemptId)) return;
    this.append(JSON.stringify({ acked: attemptId } satisfies AckRecord));
    this.acksWritten++;
    if (this.acksWritten >= COMPACT_AFTER_ACKS && this.acksWritten >= this.owed.size) this.rewrite();
  }

  /**
   * Every report still owed, from the journal and from the files of an agent before the journal
   * (those are taken into the journal and removed). Lines and files that cannot be read are
   * skipped: they can never be sent.
   */
  loadAll(): SpooledFinish[] {
    if (!this.dir) return [];
    this.closeJournal();
    const { records, legacy } = readSpool(this.dir);
    this.owed.clear();
    for (const [id, record] of records) this.owed.set(id, JSON.stringify(record));
    this.rewrite();
    // Only once the journal holds them (a temp file of a rewrite cut short is among these too).
    for (const name of legacy) rmSync(join(this.dir, name), { force: true, recursive: true });
    return [...records.values()].map((r) => ({
      attemptId: r.attemptId,
      taskId: r.taskId,
      startedAt: new Date(r.startedAtMs),
      message: restored(r.message),
    }));
  }

  /** Closes the journal (a later save opens it again). */
  close(): void {
    this.closeJournal();
  }

  private append(line: string): void {
    this.fd ??= openSync(join(this.dir!, JOURNAL), "a");
    writeSync(this.fd, `\n${line}`);
  }

  /** The journal becomes the owed reports alone: written beside it, then renamed over it. */
  private rewrite(): void {
    this.closeJournal();
    const journal = join(this.dir!, JOURNAL);
    let text = "";
    for (const line of this.owed.values()) text += `\n${line}`;
    writeFileSync(`${journal}.tmp`, text);
    renameSync(`${journal}.tmp`, journal);
    this.acksWritten = 0;
  }

  private closeJournal(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }
}

/** The attempt ids whose reports a spool under this state dir still owes (reads, changes nothing). */
export function spooledAttemptIds(stateDir: string): string[] {
  return [...readSpool(join(stateDir, "finished")).records.keys()];
}

/** The owed reports in a spool directory: the journal's, then those of the files of an agent before the journal. */
function readSpool(dir: string): { records: Map<string, SpoolRecord>; legacy: string[] } {
  const records = new Map<string, SpoolRecord>();
  for (const line of readOrEmpty(join(dir, JOURNAL)).split("\n")) {
    const parsed = parseLine(line);
    if (parsed === null) continue;
    if ("acked" in parsed) records.delete(parsed.acked);
    else records.set(parsed.attemptId, parsed);
  }
  const legacy = readdirSync(dir).filter((name) => name !== JOURNAL);
  for (const name of legacy.sort()) {
    const parsed = name.endsWith(".json") ? parseLine(readOrEmpty(join(dir, name))) : null;
    if (parsed !== null && !("acked" in parsed)) records.set(parsed.attemptId, parsed);
  }
  return { records, legacy };
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function parseLine(line: string): SpoolRecord | AckRecord | null {
  if (line.trim() === "") return null;
  try {
    const value = JSON.parse(line) as Partial<SpoolRecord & AckRecord> | null;
    if (typeof value?.acked === "string") return { acked: value.acked };
    if (typeof value?.attemptId === "string" && typeof value.startedAtMs === "number" && value.message !== undefined) {
      return { attemptId: value.attemptId, taskId: String(value.taskId ?? ""), startedAtMs: value.startedAtMs, message: value.message };
    }
  } catch {
    // torn or foreign: skipped
  }
  return null;
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
