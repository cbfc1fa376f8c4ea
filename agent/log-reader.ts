// Serves one ReadLog from an attempt's log files (log-files.ts): from an offset (one per file when
// a read resumes), or the last bytes or lines, of stdout, stderr or both, in chunks of at most 64 KiB. With `follow` it keeps polling
// the files' sizes and sends what is added until the attempt's log has ended and every byte was
// sent, then the last chunk (eof). The first chunk goes at once (empty when there is nothing yet):
// the master learns that this agent serves logs. At most WINDOW chunks go beyond the master's
// credit (LogReadCredit), so a slow reader at the far end holds this read back, not memory.
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { LogStream } from "../src/gen/taskgrid/v1/logs.js";
import type { LogChunk, ReadLog } from "../src/gen/taskgrid/v1/worker_service.js";
import type { LogFiles, LogStreamName } from "./log-files.js";

export const LOG_CHUNK_BYTES = 64 * 1024;
/** Chunks a read may send ahead of the master's credit (ReadLog in worker_service.proto says 16). */
export const LOG_READ_WINDOW = 16;
/** How often a follow looks for new output. */
export const LOG_FOLLOW_POLL_MS = 150;

const STREAM_ENUM: Record<LogStreamName, LogStream> = { stdout: LogStream.LOG_STREAM_STDOUT, stderr: LogStream.LOG_STREAM_STDERR };

function streamsOf(stream: LogStream): LogStreamName[] {
  if (stream === LogStream.LOG_STREAM_STDERR) return ["stderr"];
  if (stream === LogStream.LOG_STREAM_BOTH) return ["stdout", "stderr"];
  return ["stdout"];
}

interface OpenFile {
  name: LogStreamName;
  path: string;
  /** null until the file exists: an attempt's files are made at their first byte (log-files.ts). */
  handle: FileHandle | null;
  position: number;
}

export class LogRead {
  private credit = LOG_READ_WINDOW;
  private canceled = false;
  /** Wakes a read waiting for credit or for its next poll. */
  private wake: (() => void) | null = null;

  constructor(
    private readonly files: LogFiles,
    private readonly req: ReadLog,
    private readonly send: (chunk: LogChunk) => void,
    private readonly pollMs = LOG_FOLLOW_POLL_MS,
  ) {}

  get requestId(): string {
    return this.req.requestId;
  }

  granted(chunks: number): void {
    this.credit += chunks;
    this.wake?.();
  }

  /** Sends nothing more (not even eof). */
  cancel(): void {
    this.canceled = true;
    this.wake?.();
  }

  /** Runs the read to its last chunk (or its cancel). Never rejects: failures become an error chunk. */
  async run(): Promise<void> {
    const opened: OpenFile[] = [];
    try {
      const refusal = this.refusal();
      if (refusal !== null) return this.last(refusal, true);
      const dir = this.files.dirOf(this.req.attemptId);
      for (const name of streamsOf(this.req.stream)) {
        const path = join(dir, name);
        opened.push({ name, path, handle: await openIfMade(path), position: 0 });
      }
      // One empty chunk per file first: where each starts (a tail's start is known only here), and
      // the master learns at once that this agent serves logs.
      for (const f of opened) {
        f.position = await this.startOf(f);
        this.chunk(STREAM_ENUM[f.name], Buffer.alloc(0), f.position);
      }
      for (;;) {
        // Whether the log had ended before this pass: then this pass reads everything there is.
        const endedBefore = this.files.state(this.req.attemptId) !== "writing";
        let sent = false;
        for (const f of opened) sent = (await this.drain(f)) || sent;
        if (this.canceled) return;
        if (!this.req.follow || endedBefore) return this.last("", false);
        if (!sent) await this.pause(this.pollMs);
        if (this.canceled) return;
      }
    } catch (err) {
      if (this.canceled) return;
      const code = (err as NodeJS.ErrnoException).code;
      // Removed between the check and the open (the per-agent cap): say so, like refusal() does.
      if (code === "ENOENT") this.last(this.refusal() ?? `the log of attempt ${this.req.attemptId} is gone`, true);
      else this.last(`reading the log failed: ${(err as Error).message}`, false);
    } finally {
      await Promise.all(opened.map((f) => f.handle?.close().catch(() => {})));
    }
  }

  /** Why this read cannot be served, or null. */
  private refusal(): string | null {
    const id = this.req.attemptId;
    switch (this.files.state(id)) {
      case "purged":
        return `the log of attempt ${id} was removed: this agent keeps at most ${this.files.maxTotalBytes} bytes of logs (logMaxTotalBytes) and removes the oldest attempts' first`;
      case "unknown":
        return `this agent has no log of attempt ${id}`;
      default:
        return null;
    }
  }

  /** Where reading starts in a file: the start of its last lines or bytes, its own offset (a resumed read), or the request's offset. */
  private async startOf(f: OpenFile): Promise<number> {
    const size = f.handle ? (await f.handle.stat()).size : 0;
    if (this.req.tailLines > 0) return f.handle ? tailLinesStart(f.handle, size, this.req.tailLines) : 0;
    if (this.req.tailBytes > 0) return Math.max(0, size - this.req.tailBytes);
    if (this.req.offsets) return Math.max(0, this.req.offsets[f.name]);
    return Math.max(0, this.req.offset);
  }

  /** Sends what the file has beyond its position; true when anything was sent. */
  private async drain(f: OpenFile): Promise<boolean> {
    f.handle ??= await openIfMade(f.path);
    const handle = f.handle;
    if (handle === null) return false;
    let sent = false;
    const buffer = Buffer.alloc(LOG_CHUNK_BYTES);
    for (;;) {
      if (!(await this.creditAvailable())) return sent;
      const { bytesRead } = await handle.read(buffer, 0, LOG_CHUNK_BYTES, f.position);
      if (bytesRead === 0 || this.canceled) return sent;
      this.chunk(STREAM_ENUM[f.name], Buffer.from(buffer.subarray(0, bytesRead)), f.position);
      f.position += bytesRead;
      sent = true;
    }
  }

  /** `offset`: where `data` starts in its file. */
  private chunk(stream: LogStream, data: Buffer, offset: number): void {
    this.credit--;
    this.send({ requestId: this.req.requestId, data, stream, eof: false, error: "", gone: false, offset });
  }

  /** The eof chunk goes without credit: it is small and the last. */
  private last(error: string, gone: boolean): void {
    if (this.canceled) return;
    this.send({ requestId: this.req.requestId, data: Buffer.alloc(0), stream: this.req.stream, eof: true, error, gone, offset: 0 });
  }

  /** Waits until a chunk may be sent; false when canceled meanwhile. */
  private async creditAvailable(): Promise<boolean> {
    while (this.credit <= 0 && !this.canceled) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = null;
    return !this.canceled;
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (this.wake = null));
  }
}

/** The file open for reading, or null when it does not exist (yet). */
async function openIfMade(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * The offset where the last `lines` lines of a file start: scans back from the end in chunks. A
 * newline that ends the file ends its last line (it does not start another one).
 */
export async function tailLinesStart(handle: FileHandle, size: number, lines: number): Promise<number> {
  const buffer = Buffer.alloc(LOG_CHUNK_BYTES);
  let end = size;
  let newlines = 0;
  while (end > 0) {
    const start = Math.max(0, end - LOG_CHUNK_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buffer[i] !== 0x0a) continue;
      if (start + i === size - 1) continue; // The file's final newline.
      if (++newlines === lines) return start + i + 1;
    }
    end = start;
  }
  return 0;
}
