// Shared by the CLI's token and TLS tests (cli-credentials, cli-master-auth, cli-tokens): tokens in
// the right format, a fixed clock, a temporary directory for credentials files, and an assertion
// on thrown errors.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as assert from "uvu/assert";

export const TOKEN = `tg1.0123456789abcdef.${"A".repeat(42)}x`;
export const TOKEN2 = `tg1.fedcba9876543210.${"b".repeat(43)}`;
export const now = new Date("2025-01-01T12:00:00Z");
export const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A fresh temporary directory and its removal (register it with the suite's after hook). */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-cli-tokens-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a file with the given mode (chmod after writing: the umask must not decide it). */
export function writeFile(path: string, text: string, mode: number): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

export function throwsWith(fn: () => unknown, type: new (...a: never[]) => Error, ...parts: string[]): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, type);
    const message = (err as Error).message;
    for (const p of parts) assert.ok(message.includes(p), `"${message}" should mention "${p}"`);
    return message;
  }
  return assert.unreachable(`expected a ${type.name} mentioning ${parts.join(", ")}`) as never;
}

/** An environment whose credentials file (in `dir`) does not exist, unless a test points somewhere else. */
export const noFileEnv = (dir: string) => ({ TASKGRID_CREDENTIALS: join(dir, "does-not-exist") });
