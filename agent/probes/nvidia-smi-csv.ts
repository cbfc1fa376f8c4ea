// Parser for `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu[,pci.bus_id]
// --format=csv,noheader,nounits`. Fields a driver cannot read come back as "[N/A]" or
// "[Not Supported]" (MIG GPUs, consumer cards); they count as 0 rather than failing the probe.
import type { Gpu, GpuTelemetry } from "../../src/gen/taskgrid/v1/types.js";

export interface ParsedGpu {
  gpu: Gpu;
  telemetry: GpuTelemetry;
  /** PCI bus id as nvidia-smi prints it ("00000000:18:00.0"), when queried. */
  pciBusId: string;
}

export type ParseResult = { ok: true; gpus: ParsedGpu[] } | { ok: false; error: string };

export function parseNvidiaSmiCsv(text: string): ParseResult {
  const gpus: ParsedGpu[] = [];
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  for (const line of lines) {
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length !== 6 && fields.length !== 7) return bad(line);
    const [indexText, uuid, model, totalText, usedText, utilText, pciBusId = ""] = fields;
    const index = Number(indexText);
    const memoryMib = optionalNumber(totalText);
    const usedMib = optionalNumber(usedText);
    const utilization = optionalNumber(utilText);
    if (!/^\d+$/.test(indexText) || uuid === "" || memoryMib === null || usedMib === null || utilization === null) return bad(line);
    gpus.push({
      gpu: { index, uuid, model, memoryMib: Math.round(memoryMib), numaNode: -1 },
      telemetry: { index, utilizationPercent: Math.min(100, Math.max(0, utilization)), memoryUsedMib: Math.round(usedMib) },
      pciBusId: notAvailable(pciBusId) ? "" : pciBusId,
    });
  }
  return { ok: true, gpus };
}

/** A number, 0 for a field the driver does not report, null for anything else. */
function optionalNumber(text: string): number | null {
  if (notAvailable(text)) return 0;
  if (!/^-?\d+(\.\d+)?$/.test(text)) return null;
  return Number(text);
}

function notAvailable(text: string): boolean {
  return /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]?$/i.test(text);
}

function bad(line: string): ParseResult {
  return { ok: false, error: `nvidia-smi: unexpected output line ${JSON.stringify(line.slice(0, 120))}` };
}

/** sysfs name of a PCI device: nvidia-smi prints an 8-digit domain, sysfs uses 4, lower case. */
export function sysfsPciName(busId: string): string | null {
  const m = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-9a-f])$/i.exec(busId);
  if (!m) return null;
  return `${m[1].slice(-4)}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}
