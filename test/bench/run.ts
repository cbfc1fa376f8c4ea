// `npm run bench` (tsx test/bench/run.ts [name ...]): runs the benchmark modules in turn, prints
// each one's table, and rewrites its own section of docs/benchmarks.md (other sections are kept).
// To add a benchmark: write a module exporting a BenchModule and list it in `benches` below.
import { cpus, platform, release, totalmem } from "node:os";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { placementBench } from "./placement.bench.js";
import { submitBench } from "./submit.bench.js";
import { e2eBench } from "./e2e.bench.js";
import { latencyBench } from "./latency.bench.js";
import { processesBench } from "./processes.bench.js";
import { agentsBench } from "./agents.bench.js";
import { sigkillBench } from "./sigkill.bench.js";
import { tracingOverheadBench } from "./tracing-overhead.bench.js";
import { authOverheadBench } from "./auth-overhead.bench.js";
import { failoverBench } from "./failover.bench.js";
import { coldStartBench } from "./cold-start.bench.js";
import { peersBench } from "./peers/peers.bench.js";
import { writePathBench } from "./write-path.bench.js";
import type { BenchEnv, BenchModule } from "./bench-module.js";

export type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const benches: BenchModule[] = [
  placementBench,
  submitBench,
  e2eBench,
  latencyBench,
  processesBench,
  agentsBench,
  sigkillBench,
  tracingOverheadBench,
  authOverheadBench,
  failoverBench,
  coldStartBench,
  peersBench,
  writePathBench,
];

const docPath = fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url));
const HEADER = `# Benchmarks

Produced by \`npm run bench\` (test/bench/run.ts); each section is rewritten by its own benchmark
module and the others are left as they are. Targets are DESIGN §8's.
`;

/** Replaces (or appends) the "## title" section of a markdown document. */
export function replaceSection(doc: string, title: string, body: string): string {
  const heading = `## ${title}`;
  const block = `${heading}\n\n${body.trim()}\n`;
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return `${doc.trimEnd()}\n\n${block}`;
  let end = start + 1;
  while (end < lines.length && !lines[end].startsWith("## ")) end++;
  const before = lines.slice(0, start).join("\n").trimEnd();
  const after = lines.slice(end).join("\n").trim();
  return `${before}\n\n${block}${after ? `\n${after}\n` : ""}`;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const selected = only.length === 0 ? benches : benches.filter((b) => only.includes(b.name));
  if (selected.length === 0) throw new Error(`no benchmark named ${only.join(", ")} (have: ${benches.map((b) => b.name).join(", ")})`);
  const cpu = cpus();
  const env: BenchEnv = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, node ${process.version}`,
  };
  for (const bench of selected) {
    process.stdout.write(`== ${bench.section} ==\n`);
    const result = await bench.run(env);
    process.stdout.write(`${result.text}\n`);
    // Read now, not before the run: a bench takes minutes, and another run may have rewritten other sections meanwhile.
    const doc = replaceSection(existsSync(docPath) ? readFileSync(docPath, "utf8") : HEADER, bench.section, result.markdown);
    writeFileSync(docPath, doc.endsWith("\n") ? doc : `${doc}\n`);
  }
  process.stdout.write(`wrote ${docPath}\n`);
}

if (process.argv[1] && resolve(fileURLToPath(import.meta.url)) === resolve(process.argv[1])) await main();
