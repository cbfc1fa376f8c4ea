// `npm test`: runs every test file under test/unit, test/integration and test/e2e in its own
// process (one crashing file cannot hide the others' results), then prints the one summary line
// `N passed, M failed` and exits non-zero on any failure.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// `--chaos` runs the slower fault suite (test/chaos) instead: `npm run test:chaos`, also run by .ci/run.
const chaos = process.argv.includes("--chaos");
const dirs = chaos ? ["chaos"] : ["unit", "integration", "e2e"];
const only = process.argv.slice(2).filter((a) => a !== "--chaos");

function testFiles(): string[] {
  const files: string[] = [];
  for (const dir of dirs) {
    const abs = join(root, "test", dir);
    for (const name of readdirSync(abs).sort()) if (name.endsWith(".test.ts")) files.push(join(abs, name));
  }
  return only.length === 0 ? files : files.filter((f) => only.some((o) => f.includes(o)));
}

// Tests never pick up the credentials of whoever runs them (a token in TASKGRID_TOKEN or
// ~/.config/taskgrid/credentials would change what every CLI test sends).
const ISOLATED_CREDENTIALS = { TASKGRID_TOKEN: "", TASKGRID_CREDENTIALS: "/nonexistent/taskgrid-test-credentials" };
const FILE_TIMEOUT_MS = Number(process.env.TASKGRID_TEST_FILE_TIMEOUT_MS ?? 240_000);
const ANSI = /\u001b\[[0-9;]*m/g;

function runFile(file: string): Promise<{ passed: number; failed: number; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: "0", ...ISOLATED_CREDENTIALS },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    // A file that hangs must fail, not stall the whole run (CI has a time limit).
    const timer = setTimeout(() => {
      output += `\ntest file timed out after ${FILE_TIMEOUT_MS / 1000} s; killed\n`;
      child.kill("SIGKILL");
    }, FILE_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      const text = output.replace(ANSI, "");
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0);
      // uvu's Total counts the tests that ran (test.skip ones are only in Skipped).
      let failed = Number.isNaN(total) ? 1 : total - passed;
      if (code !== 0 && failed === 0) failed = 1; // crashed after (or without) the summary
      resolve({ passed, failed, output: text, ms: Date.now() - started });
    });
  });
}

let passed = 0;
let failed = 0;
for (const file of testFiles()) {
  const r = await runFile(file);
  passed += r.passed;
  failed += r.failed;
  const name = relative(root, file);
  process.stdout.write(`${r.failed === 0 ? "ok  " : "FAIL"} ${name} (${r.passed} passed, ${r.failed} failed, ${(r.ms / 1000).toFixed(1)}s)\n`);
  if (r.failed > 0)
    process.stdout.write(
      `${r.output
        .split("\n")
        .map((l) => `    ${l}`)
        .join("\n")}\n`,
    );
  // The fault suite's figures (executions per task, time to recovery) are its report: always shown.
  else if (chaos)
    process.stdout.write(
      r.output
        .split("\n")
        .filter((l) => /executions per task/.test(l))
        .map((l) => `    ${l.slice(Math.max(0, l.search(/\S+(?: \S+)*: \d+ tasks/)))}\n`)
        .join(""),
    );
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
