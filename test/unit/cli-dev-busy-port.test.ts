// `taskgrid dev` next to a running master: a busy --listen or --metrics port is reported in one line
// before anything is prepared (no database directory is created), and the exit code is non-zero.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Io } from "../../src/cli/command.js";
import { main } from "../../src/cli/main.js";

async function busyPort(): Promise<{ server: Server; address: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

function captureIo(env: Record<string, string> = {}): Io & { errText: () => string } {
  let err = "";
  return { out: () => {}, err: (t) => void (err += t), errIsTTY: false, env, now: () => new Date(), errText: () => err };
}

test("a busy --listen port is named in one line before the database is prepared", async () => {
  const { server, address } = await busyPort();
  const dataDir = join(mkdtempSync(join(tmpdir(), "tg-dev-")), "data");
  try {
    const io = captureIo();
    assert.is(await main(["dev", "--listen", address, "--metrics", "127.0.0.1:0", "--data-dir", dataDir], io), 1);
    assert.is(io.errText(), `taskgrid dev: ${address} is in use (another master?); pick another with --listen\n`);
    assert.not.ok(existsSync(dataDir), "nothing was prepared");
  } finally {
    server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a busy metrics port given by TASKGRID_METRICS is named with its flag", async () => {
  const { server, address } = await busyPort();
  const dataDir = join(mkdtempSync(join(tmpdir(), "tg-dev-")), "data");
  try {
    const io = captureIo({ TASKGRID_METRICS: address, TASKGRID_DATA_DIR: dataDir });
    assert.is(await main(["dev", "--listen", "127.0.0.1:0"], io), 1);
    assert.is(io.errText(), `taskgrid dev: ${address} is in use (another master?); pick another with --metrics\n`);
    assert.not.ok(existsSync(dataDir), "nothing was prepared");
  } finally {
    server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
