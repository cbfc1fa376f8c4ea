// The last N bytes of an attempt's stdout and stderr, interleaved in arrival order. Memory stays
// bounded however much a task prints: whole chunks are dropped from the front once the rest
// already covers the limit, and the final cut happens once, when the text is taken.
//
// The text reported contains no NUL: each NUL byte becomes the two characters `\0` (backslash,
// zero; see src/core/text-rules.ts). Output may be binary, but the master stores the tail in
// Postgres, whose text and jsonb cannot hold NUL. The limit applies to the escaped text.
import { escapeNul } from "../src/core/text-rules.js";

/** Default bound, matching TaskResult.output_tail ("at most 64 KiB"). */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

export class OutputTail {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly limitBytes: number = OUTPUT_TAIL_BYTES) {}

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0].length >= this.limitBytes) {
      this.bytes -= this.chunks.shift()!.length;
    }
  }

  /**
   * The tail as UTF-8 text with NUL escaped, at most `limitBytes` bytes once escaped, never starting
   * inside a multi-byte character or an escape.
   */
  text(): string {
    let buf = Buffer.concat(this.chunks, this.bytes);
    const start = cutFor(buf, this.limitBytes);
    if (start > 0) {
      buf = buf.subarray(start);
      // A cut can land inside a UTF-8 sequence: skip its continuation bytes (10xxxxxx, at most 3)
      // so the text does not start with a replacement character.
      let skip = 0;
      while (skip < 3 && skip < buf.length && (buf[skip] & 0xc0) === 0x80) skip++;
      buf = buf.subarray(skip);
    }
    return escapeNul(buf.toString("utf8"));
  }
}

/** Where the kept bytes start so that, escaped (a NUL byte becomes 2 bytes), they fit in `limit`. */
function cutFor(buf: Buffer, limit: number): number {
  if (buf.length <= limit && !buf.includes(0)) return 0;
  let size = 0;
  let start = buf.length;
  while (start > 0) {
    const cost = buf[start - 1] === 0 ? 2 : 1;
    if (size + cost > limit) break;
    size += cost;
    start--;
  }
  return start;
}
