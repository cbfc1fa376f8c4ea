// UUIDv7 (RFC 9562): 48-bit millisecond timestamp + random bits, so ids sort by creation time.
// Time and randomness are injected, keeping the core deterministic under test and simulation.

export type RandomBytes = (length: number) => Uint8Array;

export function uuidv7(nowMs: number, randomBytes: RandomBytes): string {
  const bytes = randomBytes(16);
  let ms = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
