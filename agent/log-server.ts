// The agent's open log reads, by request id: ReadLog starts one (log-reader.ts), LogReadCredit and
// CancelLogRead reach it, and a closed stream to the master cancels them all (the master ends its
// side of them too). Bounded: a master asking for more reads at once than MAX_LOG_READS is refused.
import type { CancelLogRead, LogChunk, LogReadCredit, MasterMessage, ReadLog } from "../src/gen/taskgrid/v1/worker_service.js";
import type { LogFiles } from "./log-files.js";
import { LogRead } from "./log-reader.js";

export const MAX_LOG_READS = 64;

export class LogServer {
  private readonly reads = new Map<string, LogRead>();

  constructor(
    private readonly files: LogFiles,
    private readonly onError: (message: string, error: unknown) => void,
    private readonly pollMs?: number,
  ) {}

  /** One of the master's log messages; a ReadLog's chunks go to `send` (the stream it was asked on). */
  handle(body: Extract<MasterMessage["body"], { $case: "readLog" | "cancelLogRead" | "logReadCredit" }>, send: (chunk: LogChunk) => void): void {
    if (body.$case === "readLog") this.read(body.value, send);
    else if (body.$case === "cancelLogRead") this.cancel(body.value);
    else this.credit(body.value);
  }

  /** Starts a read whose chunks go to `send` (the stream it was asked on). */
  read(request: ReadLog, send: (chunk: LogChunk) => void): void {
    this.reads.get(request.requestId)?.cancel();
    if (this.reads.size >= MAX_LOG_READS) {
      send({
        requestId: request.requestId,
        data: Buffer.alloc(0),
        stream: request.stream,
        eof: true,
        error: `this agent serves at most ${MAX_LOG_READS} log reads at once`,
        gone: false,
        offset: 0,
      });
      return;
    }
    const read = new LogRead(this.files, request, send, this.pollMs);
    this.reads.set(request.requestId, read);
    this.files
      .init()
      .then(() => read.run())
      .catch((err) => this.onError("log read failed", err))
      .finally(() => {
        if (this.reads.get(request.requestId) === read) this.reads.delete(request.requestId);
      });
  }

  credit(message: LogReadCredit): void {
    this.reads.get(message.requestId)?.granted(message.chunks);
  }

  cancel(message: CancelLogRead): void {
    const read = this.reads.get(message.requestId);
    read?.cancel();
    this.reads.delete(message.requestId);
  }

  /** The stream these reads answer on closed. */
  cancelAll(): void {
    for (const read of this.reads.values()) read.cancel();
    this.reads.clear();
  }

  get open(): number {
    return this.reads.size;
  }
}
