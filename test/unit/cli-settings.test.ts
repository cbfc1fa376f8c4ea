// The settings tables (src/config/*-settings.ts) are the one place each setting of master, agent
// and dev is defined: flags, variables, config keys, defaults, checks and the docs come from them.
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolveAgentConfig } from "../../agent/agent-config.js";
import { resolveMasterConfig, type MasterOptions } from "../../master/config.js";
import { parseArgs } from "../../src/cli/args.js";
import { helpText, parseCommandArgs, type Io } from "../../src/cli/command.js";
import { agentCommand, agentOptions } from "../../src/cli/commands/agent.js";
import { devCommand } from "../../src/cli/commands/dev.js";
import { masterCommand } from "../../src/cli/commands/master.js";
import { main } from "../../src/cli/main.js";
import { parseConfigFile, resolveMasterOptions } from "../../src/cli/master-options.js";
import { flagSpecs, readFlagsAndEnv, withCliDefaults } from "../../src/cli/setting-flags.js";
import { UsageError } from "../../src/cli/usage-error.js";
import { AGENT_SETTINGS } from "../../src/config/agent-settings.js";
import { DEV_SETTINGS } from "../../src/config/dev-settings.js";
import { MASTER_SETTINGS } from "../../src/config/master-settings.js";
import { settingsTable, snakeCase, type Setting } from "../../src/config/schema.js";

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, UsageError);
    return (err as Error).message;
  }
  throw new Error("expected a UsageError");
}

const noFile = (path: string): string => {
  throw Object.assign(new Error("no"), { code: `ENOENT ${path}` });
};

test("docs/operations.md's Configuration table is the one generated from MASTER_SETTINGS", () => {
  const docs = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
  const lines = docs.slice(docs.indexOf("## Configuration")).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith("|")) break;
    rows.push(line);
  }
  assert.fixture(rows.join("\n"), settingsTable(MASTER_SETTINGS), "regenerate the table with settingsTable(MASTER_SETTINGS)");
});

test("every flag, variable and config key the master took before is still there", () => {
  const flags = Object.keys(masterCommand.flags);
  for (const flag of [
    "listen",
    "metrics",
    "database-url",
    "data-dir",
    "weights",
    "config",
    "auth",
    "insecure-allow-anyone",
    "bootstrap-token-file",
    "tls-cert",
    "tls-key",
    "tls-client-ca",
    "log-level",
    "log-format",
  ]) {
    assert.ok(flags.includes(flag), flag);
  }
  const envs = Object.values(MASTER_SETTINGS as Record<string, Setting>).map((s) => s.env);
  for (const env of [
    "TASKGRID_LISTEN",
    "TASKGRID_METRICS",
    "TASKGRID_DATABASE_URL",
    "TASKGRID_DATA_DIR",
    "TASKGRID_WEIGHTS",
    "TASKGRID_AUTH",
    "TASKGRID_INSECURE_ALLOW_ANYONE",
    "TASKGRID_BOOTSTRAP_TOKEN_FILE",
    "TASKGRID_TLS_SERVER_CERT",
    "TASKGRID_TLS_SERVER_KEY",
    "TASKGRID_TLS_CLIENT_CA",
    "TASKGRID_LOG_LEVEL",
    "TASKGRID_LOG_FORMAT",
  ]) {
    assert.ok(envs.includes(env), env);
  }
  const keys = [
    "listen",
    "metrics",
    "databaseUrl",
    "dataDir",
    "schema",
    "weightsPath",
    "ordering",
    "slaMultiplier",
    "heartbeatIntervalMs",
    "suspectAfterMs",
    "offlineAfterMs",
    "livenessTickMs",
    "cancelGraceMs",
    "shutdownTimeoutMs",
    "logLevel",
    "logFormat",
    "placement",
    "telemetryMaxAgeMs",
    "weightsPollMs",
    "staleMarginMs",
    "leaseMs",
    "leaseGraceMs",
    "defaultMaxRequeues",
    "retryBackoffMs",
    "maxRetryBackoffMs",
    "auth",
    "insecureAllowAnyone",
    "bootstrapTokenFile",
    "authRefreshMs",
    "tlsCert",
    "tlsKey",
    "tlsClientCa",
    "advertise",
    "leaderLeaseMs",
    "leaderOutageHoldMs",
    "fairShareHalfLifeMs",
    "billingCpu",
    "billingMemoryGib",
    "billingGpu",
    "priorityWeightClass",
    "priorityWeightPriority",
    "priorityWeightFairShare",
    "priorityWeightAge",
    "priorityWeightSize",
    "priorityMaxAgeMs",
    "quotaProvider",
    "quotaFile",
    "defaultQuota",
    "usageTickMs",
    "backfill",
    "backfillDefaultRuntimeMs",
    "preemption",
    "preemptionPriorityMargin",
    "preemptionRateLimit",
    "maxArraySize",
    "arrayElementsChunk",
    "arrayElementsAhead",
    "historyRetentionDays",
  ];
  assert.equal(Object.keys(MASTER_SETTINGS).sort(), [...keys].sort());
  // Each in camelCase and in snake_case.
  for (const key of keys) {
    for (const written of [key, snakeCase(key)]) parseConfigFile(JSON.stringify({ [written]: null }), "c.json");
  }
});

test("the help of each process verb comes from its table", () => {
  const master = helpText(masterCommand);
  assert.match(master, /--listen HOST:PORT +gRPC address \(env TASKGRID_LISTEN, default 127\.0\.0\.1:50051\)/);
  assert.match(master, /--metrics HOST:PORT +Prometheus \/metrics address \(env TASKGRID_METRICS, default 127\.0\.0\.1:9464\)/);
  assert.match(master, /--auth +require an API token on every call \(env TASKGRID_AUTH=1\)/);
  assert.match(master, /--log-format FORMAT +text or json \(env TASKGRID_LOG_FORMAT; default: text on a terminal, json otherwise\)/);
  // dev reads where to listen and keep its data from the environment (a second dev needs other
  // ports), never the database URL or the weights path; its agent keeps its state under --data-dir.
  const dev = helpText(devCommand);
  assert.match(dev, /--listen HOST:PORT +gRPC address \(env TASKGRID_LISTEN, default 127\.0\.0\.1:50051\)/);
  assert.match(dev, /TASKGRID_DATA_DIR/);
  assert.match(dev, /TASKGRID_METRICS/);
  assert.not.match(dev, /TASKGRID_DATABASE_URL|TASKGRID_WEIGHTS/);
  assert.match(dev, /--state-dir DIR +.*\(default: DIR\/agent, DIR being --data-dir\)/);
  assert.match(helpText(agentCommand), /--state-dir DIR +.*\(default: \.taskgrid\/agent-ID\)/);
  assert.equal(Object.keys(flagSpecs(DEV_SETTINGS)), [
    "listen",
    "data-dir",
    "metrics",
    "weights",
    "tags",
    "max-tasks",
    "id",
    "state-dir",
    "log-level",
    "log-format",
  ]);
});

test("defaults are the table's: programmatic callers and the CLI agree", () => {
  const config = resolveMasterConfig({});
  assert.is(config.listen, MASTER_SETTINGS.listen.default);
  assert.is(config.weightsPollMs, MASTER_SETTINGS.weightsPollMs.default);
  assert.is(config.metrics, null, "programmatic: metrics off unless asked for");
  assert.is(config.telemetryMaxAgeMs, config.suspectAfterMs);
  assert.is(config.leaseMs, config.offlineAfterMs / 2);
  assert.is(config.leaseGraceMs, config.offlineAfterMs / 4);
  assert.equal(withCliDefaults(MASTER_SETTINGS, resolveMasterOptions(parseCommandArgs(masterCommand, []), {}, noFile)), { metrics: "127.0.0.1:9464" });
  assert.is(withCliDefaults(MASTER_SETTINGS, { metrics: "127.0.0.1:1" }).metrics, "127.0.0.1:1");
  assert.is(resolveAgentConfig({ master: "h:1" }).heartbeatIntervalMs, config.heartbeatIntervalMs, "the agent starts with the master's default period");
  // Empty strings and nulls are unset.
  assert.is(resolveMasterConfig({ databaseUrl: "", metrics: "" }).databaseUrl, undefined);
  assert.is(resolveMasterConfig({ bootstrapTokenFile: "" }).auth.bootstrapTokenFile, null);
});

test("programmatic messages name both forms of the key", () => {
  const message = (o: MasterOptions) => {
    try {
      resolveMasterConfig(o);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("expected an error");
  };
  assert.is(message({ slaMultiplier: 0.5 }), "sla_multiplier (slaMultiplier): must be >= 1 (got 0.5)");
  assert.is(message({ weightsPollMs: 60_000 }), "weights_poll_ms (weightsPollMs): must be <= 5000 (changes must show within 5 s) (got 60000)");
  assert.is(message({ defaultMaxRequeues: 1.5 }), "default_max_requeues (defaultMaxRequeues): must be a whole number >= 0 (got 1.5)");
  assert.is(message({ ordering: "lifo" as never }), 'ordering: must be one of multifactor, priority, fifo (got "lifo")');
  assert.match(message({ suspectAfterMs: 30_000 }), /^offline_after_ms \(offlineAfterMs\): must be >= suspect_after_ms \(suspectAfterMs\)/);
  assert.match(message({ leaseMs: 15_000 }), /^lease_ms \(leaseMs\): must be < offline_after_ms \(offlineAfterMs\) - lease_grace_ms \(leaseGraceMs\)/);
  assert.match(message({ tls: { certFile: "s.pem", keyFile: "" } }), /^tls\.cert_file \(tls\.certFile\): needs tls\.key_file \(tls\.keyFile\) too/);
  assert.match(message({ auth: "yes" as never }), /^auth: must be true or false/);
  assert.match(message({ listen: "nowhere" }), /^listen: must be host:port/);
});

test("config files: YAML via the yaml package, nested tls, null = unset; messages name the key as written", () => {
  const yaml = "# comment\nlisten: 127.0.0.1:2\ntls:\n  cert_file: s.pem\n  key_file: 's.key'\nlog_format: ~\nsla_multiplier: 2.5\n";
  assert.equal(parseConfigFile(yaml, "m.yaml"), { listen: "127.0.0.1:2", slaMultiplier: 2.5, tls: { certFile: "s.pem", keyFile: "s.key" } });
  assert.equal(parseConfigFile("", "m.yaml"), {});
  assert.equal(parseConfigFile('{"tls": null, "databaseUrl": null}', "m.json"), {});
  assert.is(
    usage(() => parseConfigFile("sla_multiplier: 0.5\n", "m.yaml")),
    "m.yaml: sla_multiplier: 0.5 is not >= 1",
  );
  assert.is(
    usage(() => parseConfigFile('{"slaMultiplier": "2"}', "m.json")),
    'm.json: slaMultiplier: "2" is not a number',
  );
  assert.is(
    usage(() => parseConfigFile("weightsPollMs: 9000\n", "m.yaml")),
    "m.yaml: weightsPollMs: 9000 is not <= 5000 (changes must show within 5 s)",
  );
  assert.is(
    usage(() => parseConfigFile("listen:\n  host: x\n", "m.yaml")),
    'm.yaml: listen: {"host":"x"} is not host:port',
  );
  assert.is(
    usage(() => parseConfigFile("data_dir: a\ndataDir: b\n", "m.yaml")),
    "m.yaml: dataDir: given twice (also as data_dir)",
  );
  assert.is(
    usage(() => parseConfigFile("tls_cert: a\ntls:\n  cert_file: b\n", "m.yaml")),
    "m.yaml: tls.cert_file: given twice (also as tls_cert)",
  );
  assert.match(
    usage(() => parseConfigFile("tls:\n  certFile: a\n", "m.yaml")),
    /^m\.yaml: tls\.certFile needs m\.yaml: tls\.keyFile too/,
  );
  assert.match(
    usage(() => parseConfigFile("tlsClientCa: ca.pem\n", "m.yaml")),
    /^m\.yaml: tlsClientCa needs m\.yaml: tlsCert too/,
  );
  assert.match(
    usage(() => parseConfigFile("a: 1\na: 2\n", "m.yaml")),
    /^m\.yaml:2: invalid YAML/,
  );
  assert.match(
    usage(() => parseConfigFile("- listen\n", "m.yaml")),
    /^m\.yaml:1: expected "key: value" lines/,
  );
  assert.match(
    usage(() => parseConfigFile("weights_pol_ms: 1\n", "m.yaml")),
    /unknown key "weights_pol_ms" \(known: listen, metrics, database_url,/,
  );
});

test("flags and variables: checked by the table, named as given; file < env < flag per setting", () => {
  const args = (...argv: string[]) => parseCommandArgs(masterCommand, argv);
  assert.is(
    usage(() => resolveMasterOptions(args(), { TASKGRID_LISTEN: "nope" }, noFile)),
    'TASKGRID_LISTEN: "nope" is not host:port',
  );
  assert.is(
    usage(() => resolveMasterOptions(args("--metrics", "9464"), {}, noFile)),
    '--metrics: "9464" is not host:port',
  );
  assert.is(resolveMasterOptions(args("--listen", " 127.0.0.1:5 "), {}, noFile).listen, "127.0.0.1:5");
  const file = () => "data_dir: f\nweights_path: f.json\nlisten: 127.0.0.1:1\n";
  assert.equal(resolveMasterOptions(args("--config", "m.yaml", "--listen", "127.0.0.1:3"), { TASKGRID_DATA_DIR: "e", TASKGRID_LISTEN: "127.0.0.1:2" }, file), {
    dataDir: "e",
    weightsPath: "f.json",
    listen: "127.0.0.1:3",
  });
  assert.equal(resolveMasterOptions(args(), { TASKGRID_CONFIG: "m.yaml" }, file).dataDir, "f");
});

test("agent and dev flags: the agent's table, with the CLI's own lower bound for --max-tasks", () => {
  const agentArgs = (...argv: string[]) => parseCommandArgs(agentCommand, argv);
  assert.equal(agentOptions(agentArgs("--tags", "gpu, ssd", "--tags", "zone=eu", "--max-tasks", "4", "--id", "w-1", "--log-level", "warn"), {}), {
    tags: ["gpu", "ssd", "zone=eu"],
    maxTasks: 4,
    workerId: "w-1",
    logLevel: "warn",
  });
  assert.equal(agentOptions(agentArgs(), {}), {});
  assert.is(
    usage(() => agentOptions(agentArgs("--max-tasks", "0"), {})),
    '--max-tasks: "0" is not a whole number in 1..100000',
  );
  assert.is(
    usage(() => agentOptions(agentArgs("--max-tasks", "x"), {})),
    '--max-tasks: "x" is not a whole number in 1..100000',
  );
  assert.is(
    usage(() => agentOptions(agentArgs("--id", "bad id"), {})),
    '--id: "bad id" is not 1..128 characters of [A-Za-z0-9._-]',
  );
  assert.is(resolveAgentConfig({ master: "h:1", maxTasks: 0 }).maxTasks, 0, "programmatic callers may run an agent that takes nothing");
  assert.match(String(resolveAgentConfig({ master: "h:1" }).maxTasks), /^\d+$/);
  assert.equal(
    Object.keys(AGENT_SETTINGS).filter((k) => k in DEV_SETTINGS),
    ["tags", "maxTasks", "workerId", "stateDir", "logLevel", "logFormat"],
  );
  // dev honours TASKGRID_LISTEN, TASKGRID_METRICS and TASKGRID_DATA_DIR (issue 17), but never the
  // database URL (it must not touch a real database) nor the weights path.
  const devArgs = parseArgs([], flagSpecs(DEV_SETTINGS));
  const devEnv = {
    TASKGRID_LISTEN: "0.0.0.0:1",
    TASKGRID_METRICS: "127.0.0.1:2",
    TASKGRID_DATA_DIR: "/srv",
    TASKGRID_DATABASE_URL: "postgres://real",
    TASKGRID_WEIGHTS: "/w.json",
    TASKGRID_LOG_LEVEL: "warn",
  };
  assert.equal(readFlagsAndEnv(DEV_SETTINGS, devArgs, devEnv).values, {
    listen: "0.0.0.0:1",
    dataDir: "/srv",
    metrics: "127.0.0.1:2",
    logLevel: "warn",
  });
});

test("taskgrid dev and agent reject a bad flag value before starting anything", async () => {
  let err = "";
  const io: Io = { out: () => {}, err: (t) => void (err += t), errIsTTY: false, env: {}, now: () => new Date() };
  assert.is(await main(["dev", "--metrics", "nope"], io), 2);
  assert.match(err, /^error: --metrics: "nope" is not host:port\n/);
  err = "";
  assert.is(await main(["agent", "--master", "127.0.0.1:1", "--max-tasks", "0"], io), 2);
  assert.match(err, /^error: --max-tasks: "0" is not a whole number in 1\.\.100000\n/);
});

test("MasterOptions is typed from the table", () => {
  const ok: MasterOptions = {
    ordering: "fifo",
    placement: "round_robin",
    logLevel: "debug",
    weightsPollMs: 500,
    auth: true,
    tls: { certFile: "a", keyFile: "b" },
  };
  // @ts-expect-error not an ordering
  const bad: MasterOptions = { ordering: "lifo" };
  // @ts-expect-error not a key
  const unknown: MasterOptions = { lisen: "x" };
  assert.ok(ok && bad && unknown);
});

test.run();
