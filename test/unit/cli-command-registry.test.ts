// The CLI's verb registry loads each verb's module only when that verb runs (issue 17: `taskgrid ls`
// must not load the simulator, the master or the agent). Its entries keep name and summary for the
// verb list; each must agree with the module it loads, and main.ts must import no verb module
// statically (a static import would load it at every start).
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { COMMANDS, loadCommand, mainHelp } from "../../src/cli/main.js";
import { runCli } from "../helpers/run-cli.js";

test("each entry loads the command of its name, whose summary is the entry's", async () => {
  const names = COMMANDS.map((c) => c.name);
  assert.is(new Set(names).size, names.length, "names are unique");
  for (const entry of COMMANDS) {
    const command = await entry.load();
    assert.is(command.name, entry.name);
    assert.is(command.summary, entry.summary, `${entry.name}: the registry's summary and the module's differ`);
  }
  assert.is(await loadCommand("no-such-verb"), undefined);
});

test("main.ts imports no verb module statically", () => {
  const source = readFileSync(new URL("../../src/cli/main.ts", import.meta.url), "utf8");
  assert.not.match(source, /^import[^;]*from "\.\/commands\//m);
});

test("the verb list comes from the registry; help VERB and VERB --help load the verb", async () => {
  const help = mainHelp();
  for (const entry of COMMANDS) assert.match(help, `  ${entry.name}`);
  const viaHelp = await runCli(["help", "cancel"]);
  assert.is(viaHelp.code, 0);
  assert.match(viaHelp.out, "Usage: taskgrid cancel");
  const viaFlag = await runCli(["cancel", "--help"]);
  assert.is(viaFlag.out, viaHelp.out);
  const unknown = await runCli(["nope"]);
  assert.is(unknown.code, 2);
  assert.match(unknown.err, 'unknown command "nope"');
});

test.run();
