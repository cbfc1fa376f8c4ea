// Progress reporting by tasks: a stdout line `::progress 42` or `::progress 42 some message`.
// Malformed lines are plain output. Percentages are clamped to 0..100. A NUL in the message is
// escaped as `\0` (the master stores it; see src/core/text-rules.ts).
import { escapeNul } from "../src/core/text-rules.js";

export interface ProgressUpdate {
  percent: number;
  message: string;
}

const PROGRESS_LINE = /^::progress[ \t]+([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[ \t]+(.*?))?[ \t]*$/;

/** Parses one line (without its newline); null when it is not a progress line. */
export function parseProgressLine(line: string): ProgressUpdate | null {
  const m = PROGRESS_LINE.exec(line.endsWith("\r") ? line.slice(0, -1) : line);
  if (!m) return null;
  return { percent: clampPercent(Number(m[1])), message: escapeNul(m[2] ?? "") };
}

/**
 * Contents of a TASKGRID_PROGRESS_FILE: "42" or "42 some message" (first line only).
 * Null when the file holds nothing usable.
 */
export function parseProgressFile(text: string): ProgressUpdate | null {
  const first = text.split("\n", 1)[0].trim();
  if (first === "") return null;
  return parseProgressLine(`::progress ${first}`);
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, value));
}

/** Longest line kept while waiting for its newline; longer ones are not progress lines anyway. */
const MAX_LINE_BYTES = 4096;

/**
 * Splits a byte stream into lines and calls `onProgress` for each progress line, in order.
 * Only stdout goes through here. Works on bytes so a chunk boundary inside a multi-byte
 * character cannot corrupt a message.
 */
export class ProgressLineReader {
  private partial: Buffer = Buffer.alloc(0);
  private overlong = false;

  constructor(private readonly onProgress: (update: ProgressUpdate) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const line = this.partial.length > 0 ? Buffer.concat([this.partial, piece]) : piece;
      if (!this.overlong) this.emit(line);
      this.partial = Buffer.alloc(0);
      this.overlong = false;
      start = nl + 1;
    }
    this.keepPartial(chunk.subarray(start));
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.partial.length > 0 && !this.overlong) this.emit(this.partial);
    this.partial = Buffer.alloc(0);
    this.overlong = false;
  }

  private keepPartial(rest: Buffer): void {
    if (rest.length === 0 || this.overlong) return;
    if (this.partial.length + rest.length > MAX_LINE_BYTES) {
      this.overlong = true;
      this.partial = Buffer.alloc(0);
      return;
    }
    this.partial = Buffer.concat([this.partial, rest]);
  }

  private emit(line: Buffer): void {
    // Cheap pre-check: most output lines are not progress lines. Overlong ones never count,
    // whether they arrived in one chunk or many.
    if (line.length < 11 || line.length > MAX_LINE_BYTES || line[0] !== 0x3a || line[1] !== 0x3a) return;
    const update = parseProgressLine(line.toString("utf8"));
    if (update) this.onProgress(update);
  }
}
