// --log-level / --log-format on master, agent and dev: flag > env > config file, bad values named.
import { type CliRun, runCli } from "../helpers/run-cli.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseArgs } from "../../src/cli/args.js";
import { LOG_FLAGS, logOptions } from "../../src/cli/log-options.js";
import { parseConfigFile, resolveMasterOptions } from "../../src/cli/master-options.js";
import { UsageError } from "../../src/cli/usage-error.js";
import { resolveMasterConfig } from "../../master/config.js";
import { resolveAgentConfig } from "../../agent/agent-config.js";

const args = (...argv: string[]) => parseArgs(argv, { ...LOG_FLAGS, config: { type: "string", description: "" } });
const noFile = () => {
  throw new Error("no config file in this test");
};

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, UsageError);
    return (err as Error).message;
  }
  return assert.unreachable("expected a UsageError") as never;
}

test("flag wins over env; unset stays unset", () => {
  assert.equal(logOptions(args("--log-level", "debug"), { TASKGRID_LOG_LEVEL: "error" }), { logLevel: "debug" });
  assert.equal(logOptions(args(), { TASKGRID_LOG_LEVEL: "warn", TASKGRID_LOG_FORMAT: "json" }), { logLevel: "warn", logFormat: "json" });
  assert.equal(logOptions(args("--log-format=text"), {}), { logFormat: "text" });
  assert.equal(logOptions(args(), {}), {});
});

test("a bad level or format is a usage error naming the flag or the variable", () => {
  assert.match(
    usageMessage(() => logOptions(args("--log-level", "verbose"), {})),
    /^--log-level: "verbose" is not one of debug, info, warn, error$/,
  );
  assert.match(
    usageMessage(() => logOptions(args(), { TASKGRID_LOG_LEVEL: "INFO" })),
    /^TASKGRID_LOG_LEVEL: "INFO"/,
  );
  assert.match(
    usageMessage(() => logOptions(args("--log-format", "xml"), {})),
    /^--log-format: "xml" is not one of json, text$/,
  );
  assert.match(
    usageMessage(() => logOptions(args(), { TASKGRID_LOG_FORMAT: "pretty" })),
    /^TASKGRID_LOG_FORMAT/,
  );
});

test("master options: config file key < env < flag; a bad file value names the file and the key", () => {
  const file = () => "log_level: warn\nlog_format: json\n";
  assert.equal(resolveMasterOptions(args("--config", "m.yaml"), {}, file), { logLevel: "warn", logFormat: "json" });
  assert.is(resolveMasterOptions(args("--config", "m.yaml"), { TASKGRID_LOG_LEVEL: "error" }, file).logLevel, "error");
  assert.is(resolveMasterOptions(args("--config", "m.yaml", "--log-level", "debug"), { TASKGRID_LOG_LEVEL: "error" }, file).logLevel, "debug");
  assert.is(resolveMasterOptions(args(), {}, noFile).logLevel, undefined);
  assert.match(
    usageMessage(() => parseConfigFile("log_level: loud\n", "m.yaml")),
    /^m\.yaml: log_level: "loud" is not one of/,
  );
  assert.match(
    usageMessage(() => parseConfigFile('{"logFormat": 3}', "m.json")),
    /^m\.json: logFormat: 3 is not one of json, text/,
  );
});

test("programmatic configs reject bad values naming the key", () => {
  assert.throws(() => resolveMasterConfig({ logLevel: "loud" as never }), /log_level/);
  assert.throws(() => resolveMasterConfig({ logFormat: "xml" as never }), /log_format/);
  assert.throws(() => resolveAgentConfig({ master: "127.0.0.1:1", logLevel: "loud" as never }), /logLevel/);
  assert.throws(() => resolveAgentConfig({ master: "127.0.0.1:1", logFormat: "xml" as never }), /logFormat/);
});

function run(argv: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(argv, env);
}

for (const verb of ["master", "agent", "dev"]) {
  test(`taskgrid ${verb} --log-level verbose exits 2 naming the flag, before starting anything`, async () => {
    const r = await run([verb, "--log-level", "verbose"]);
    assert.is(r.code, 2);
    assert.match(r.err, /^error: --log-level: "verbose" is not one of debug, info, warn, error\n/);
    assert.match(r.err, new RegExp(`see 'taskgrid ${verb} --help'`));
  });
  test(`taskgrid ${verb} with a bad TASKGRID_LOG_LEVEL exits 2 naming the variable`, async () => {
    const r = await run([verb], { TASKGRID_LOG_LEVEL: "trace", TASKGRID_MASTER: "127.0.0.1:1" });
    assert.is(r.code, 2);
    assert.match(r.err, /^error: TASKGRID_LOG_LEVEL: "trace"/);
  });
}

test.run();
