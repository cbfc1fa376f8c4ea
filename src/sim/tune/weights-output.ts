// Writing the tuned weights file the way the master's hot reload expects (master/weights-watcher.ts):
// the full text goes to a temp file in the SAME directory (rename is only atomic within one
// filesystem), is fsynced, then renamed over the target, and the directory is fsynced so the rename
// survives a crash. A reader (the master) sees the old file or the new one, never a partial file.
// The temp name starts with "." and differs from the target, so the watcher (filtered to the
// target's name) ignores it.
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { formatWeightsFile } from "../../core/rts/weights-file.js";
import type { Weights } from "../../core/rts/weights.js";

/** Atomically replaces `path` with `text` (temp file + fsync + rename + directory fsync). */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const abs = resolve(path);
  const dir = dirname(abs);
  const tmp = join(dir, `.${basename(abs)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, "wx", 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, abs);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // Best effort: some filesystems refuse to open or fsync a directory; the rename already happened.
  try {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* not supported here */
  }
}

/** Formats (validating: throws RangeError on weights the master would reject) and writes atomically. */
export async function writeWeightsFile(path: string, weights: Weights, metadata: Record<string, string>): Promise<string> {
  const text = formatWeightsFile(weights, metadata);
  await writeFileAtomic(path, text);
  return text;
}
