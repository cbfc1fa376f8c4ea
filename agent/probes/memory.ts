// Memory in MiB from /proc/meminfo. "Used" is MemTotal - MemAvailable (page cache the kernel can
// drop is not used memory); os.totalmem/freemem is the fallback where /proc is missing.
import { readFile } from "node:fs/promises";
import { freemem, totalmem } from "node:os";

export interface MemorySample {
  totalMib: number;
  usedMib: number;
}

/** Parses /proc/meminfo text; null when MemTotal or MemAvailable is missing. */
export function parseMeminfo(text: string): MemorySample | null {
  const kib = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, "m").exec(text);
    return m ? Number(m[1]) : null;
  };
  const total = kib("MemTotal");
  const available = kib("MemAvailable");
  if (total === null || available === null) return null;
  return { totalMib: Math.floor(total / 1024), usedMib: Math.max(0, Math.floor((total - available) / 1024)) };
}

export async function readMemory(meminfoPath = "/proc/meminfo"): Promise<MemorySample> {
  const text = await readFile(meminfoPath, "utf8").catch(() => "");
  return parseMeminfo(text) ?? osMemory();
}

export function osMemory(): MemorySample {
  const total = totalmem();
  return { totalMib: Math.floor(total / 2 ** 20), usedMib: Math.max(0, Math.floor((total - freemem()) / 2 ** 20)) };
}
