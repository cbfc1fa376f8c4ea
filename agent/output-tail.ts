// The last N bytes of an attempt's stdout and stderr, interleaved in arrival order. Memory stays
// bounded however much a task prints: whole chunks are dropped from the front once the rest
// already covers the limit, and the final cut happens once, when the text is taken.

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

  /** The tail as UTF-8 text, at most `limitBytes` bytes, never starting inside a multi-byte character. */
  text(): string {
    let buf = Buffer.concat(this.chunks, this.bytes);
    if (buf.length > this.limitBytes) {
      buf = buf.subarray(buf.length - this.limitBytes);
      // A cut can land inside a UTF-8 sequence: skip its continuation bytes (10xxxxxx, at most 3)
      // so the text does not start with a replacement character.
      let skip = 0;
      while (skip < 3 && skip < buf.length && (buf[skip] & 0xc0) === 0x80) skip++;
      buf = buf.subarray(skip);
    }
    return buf.toString("utf8");
  }
}
