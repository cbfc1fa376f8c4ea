// The frames between the agent and its launcher (launcher-source.ts says what each one means).
// Binary and length-prefixed both ways, so that neither side looks at output bytes one by one:
// u32 LE payload length, u8 type, u32 LE attempt handle, then the payload.
import type { AttemptEnv } from "../attempt-env.js";

export const HEADER_BYTES = 9;

/** Agent -> launcher. */
export const Request = { spawn: 1, pause: 2, resume: 3, release: 4 } as const;

/** Launcher -> agent. */
export const Reply = { ready: 0, started: 1, failed: 2, stdout: 3, stderr: 4, eof: 5, exit: 6, usage: 7 } as const;

/** Stream numbers in PAUSE, RESUME and EOF payloads. */
export const STREAM_CODES = { stdout: 1, stderr: 2 } as const;

/** A request or its payload cannot be sent (a NUL byte in an argument, as Node's spawn refuses). */
export class LaunchRequestError extends Error {
  override name = "LaunchRequestError";
}

export function encodeFrame(type: number, handle: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt32LE(handle, 5);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

export interface SpawnSpec {
  /** argv; argv[0] is looked up on the env's PATH. */
  argv: readonly string[];
  env: AttemptEnv;
  cwd: string;
}

/**
 * SPAWN's payload: cwd, argc, argv..., then "K=V"... (the agent's environment as encoded once, then
 * the attempt's own variables: the launcher lets a later one win), separated by NUL (none of them
 * can hold one).
 */
export function encodeSpawn(spec: SpawnSpec): Buffer {
  const fields = [spec.cwd, String(spec.argv.length), ...spec.argv];
  const argFields = fields.length;
  for (const key in spec.env.vars) fields.push(`${key}=${spec.env.vars[key]}`);
  for (let i = 0; i < fields.length; i++) {
    if (fields[i].includes("\0")) throw new LaunchRequestError(`${fieldName(i, spec.argv.length)} must be a string without null bytes`);
  }
  const head = Buffer.from(fields.slice(0, argFields).join("\0"));
  const own = Buffer.from(fields.slice(argFields).join("\0"));
  const parts: Buffer[] = [head];
  // No empty field between the parts: the launcher reads every field after argv as K=V.
  for (const part of [spec.env.agent.encoded, own]) if (part.length > 0) parts.push(NUL, part);
  return Buffer.concat(parts);
}

const NUL = Buffer.of(0);

function fieldName(index: number, argc: number): string {
  if (index === 0) return "the working directory";
  if (index < 2 + argc) return `argument ${index - 2} of the command`;
  return "an environment variable";
}

/** EXIT's payload. */
export interface ExitFigures {
  /** -1 when killed by a signal. */
  code: number;
  /** 0 when it exited. */
  signal: number;
  cpuTimeMs: number;
  maxRssKib: number;
}

export function decodeExit(payload: Buffer): ExitFigures {
  return {
    code: payload.readInt32LE(0),
    signal: payload.readUInt32LE(4),
    cpuTimeMs: Number(payload.readBigUInt64LE(8)),
    maxRssKib: Number(payload.readBigUInt64LE(16)),
  };
}

/** USAGE's payload: the attempt's figures again, grown by descendants reaped after its EXIT. */
export function decodeUsage(payload: Buffer): Pick<ExitFigures, "cpuTimeMs" | "maxRssKib"> {
  return { cpuTimeMs: Number(payload.readBigUInt64LE(0)), maxRssKib: Number(payload.readBigUInt64LE(8)) };
}

/** Cuts the launcher's output into frames; a frame split across reads waits for its rest. */
export class FrameReader {
  private pending: Buffer | null = null;

  constructor(private readonly onFrame: (type: number, handle: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= HEADER_BYTES) {
      const size = buf.readUInt32LE(off);
      const end = off + HEADER_BYTES + size;
      if (end > buf.length) break;
      // A copy: output kept by the attempt (tail, log buffer) must not pin the whole read buffer.
      this.onFrame(buf[off + 4], buf.readUInt32LE(off + 5), Buffer.from(buf.subarray(off + HEADER_BYTES, end)));
      off = end;
    }
    this.pending = off === buf.length ? null : buf.subarray(off);
  }
}
