// The master's auth and TLS settings on the `taskgrid` CLI: flags, environment and config file,
// resolved into what resolveMasterConfig takes, and the help and SIGHUP texts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseCommandArgs, type Io } from "../../src/cli/command.js";
import { masterCommand, tlsReloadMessage } from "../../src/cli/commands/master.js";
import { main } from "../../src/cli/main.js";
import { parseConfigFile, resolveMasterOptions } from "../../src/cli/master-options.js";
import { UsageError } from "../../src/cli/usage-error.js";
import { resolveMasterConfig } from "../../master/config.js";
import { now, throwsWith } from "../helpers/cli-token-fixtures.js";

// --- master flags ---------------------------------------------------------------------------

const masterArgs = (...argv: string[]) => parseCommandArgs(masterCommand, argv);
const noFile = (path: string): string => {
  throw Object.assign(new Error("no"), { code: `ENOENT ${path}` });
};

test("master: --auth, --insecure-allow-anyone, --bootstrap-token-file and TLS flags", () => {
  const opts = resolveMasterOptions(
    masterArgs("--auth", "--bootstrap-token-file", "/run/boot", "--tls-cert", "s.pem", "--tls-key", "s.key", "--tls-client-ca", "ca.pem"),
    {},
    noFile,
  );
  assert.equal(opts, { auth: true, bootstrapTokenFile: "/run/boot", tls: { certFile: "s.pem", keyFile: "s.key", clientCaFile: "ca.pem" } });
  assert.equal(resolveMasterOptions(masterArgs("--insecure-allow-anyone"), {}, noFile), { insecureAllowAnyone: true });
  assert.equal(resolveMasterOptions(masterArgs(), {}, noFile), {}, "nothing given, nothing set (the master's defaults apply)");
});

test("master: the same settings from the environment; the client's TASKGRID_TLS_CERT/KEY are not the master's", () => {
  const env = {
    TASKGRID_AUTH: "true",
    TASKGRID_INSECURE_ALLOW_ANYONE: "0",
    TASKGRID_BOOTSTRAP_TOKEN_FILE: "/b",
    TASKGRID_TLS_SERVER_CERT: "s.pem",
    TASKGRID_TLS_SERVER_KEY: "s.key",
    TASKGRID_TLS_CLIENT_CA: "ca.pem",
    TASKGRID_TLS_CERT: "client.pem",
    TASKGRID_TLS_KEY: "client.key",
  };
  assert.equal(resolveMasterOptions(masterArgs(), env, noFile), {
    auth: true,
    insecureAllowAnyone: false,
    bootstrapTokenFile: "/b",
    tls: { certFile: "s.pem", keyFile: "s.key", clientCaFile: "ca.pem" },
  });
  throwsWith(() => resolveMasterOptions(masterArgs(), { TASKGRID_AUTH: "yes please" }, noFile), UsageError, "TASKGRID_AUTH");
});

test("master: the config file's keys, flat (YAML) or as a tls object (JSON); flags and env override each path", () => {
  const yaml = "auth: true\ninsecure_allow_anyone: false\nbootstrap_token_file: /var/lib/taskgrid/admin-token\ntls_cert: f.pem\ntls_key: f.key\n";
  assert.equal(parseConfigFile(yaml, "m.yaml"), {
    auth: true,
    insecureAllowAnyone: false,
    bootstrapTokenFile: "/var/lib/taskgrid/admin-token",
    tls: { certFile: "f.pem", keyFile: "f.key" },
  });
  const json = '{"auth": true, "tls": {"cert_file": "j.pem", "key_file": "j.key", "client_ca_file": "jca.pem"}, "authRefreshMs": 500}';
  assert.equal(parseConfigFile(json, "m.json"), { auth: true, authRefreshMs: 500, tls: { certFile: "j.pem", keyFile: "j.key", clientCaFile: "jca.pem" } });
  const read = (p: string) => (p === "m.yaml" ? yaml : json);
  assert.equal(resolveMasterOptions(masterArgs("--config", "m.yaml", "--tls-key", "flag.key"), { TASKGRID_TLS_CLIENT_CA: "env-ca.pem" }, read).tls, {
    certFile: "f.pem",
    keyFile: "flag.key",
    clientCaFile: "env-ca.pem",
  });
  throwsWith(() => parseConfigFile("auth: maybe\n", "m.yaml"), UsageError, "m.yaml", "auth");
  throwsWith(() => parseConfigFile("tls_cert: only.pem\n", "m.yaml"), UsageError, "m.yaml: tls_cert needs m.yaml: tls_key");
  throwsWith(() => parseConfigFile('{"tls": {"cert": "x"}}', "m.json"), UsageError, "tls.cert", "cert_file");
  throwsWith(() => resolveMasterOptions(masterArgs("--tls-cert", "s.pem"), {}, noFile), UsageError, "--tls-cert", "--tls-key");
  throwsWith(() => resolveMasterOptions(masterArgs("--tls-client-ca", "ca.pem"), {}, noFile), UsageError, "--tls-client-ca", "--tls-cert");
});

test("master: what the CLI resolves is what resolveMasterConfig takes", () => {
  const opts = resolveMasterOptions(masterArgs("--auth", "--listen", "0.0.0.0:50051", "--tls-cert", "s.pem", "--tls-key", "s.key"), {}, noFile);
  const config = resolveMasterConfig(opts as never);
  assert.is(config.auth.enabled, true);
  assert.equal(config.tls, { certFile: "s.pem", keyFile: "s.key" });
  assert.throws(() => resolveMasterConfig(resolveMasterOptions(masterArgs("--listen", "0.0.0.0:1"), {}, noFile) as never), /--auth/);
  const anyone = resolveMasterConfig(resolveMasterOptions(masterArgs("--listen", "0.0.0.0:1", "--insecure-allow-anyone"), {}, noFile) as never);
  assert.is(anyone.auth.insecureAllowAnyone, true);
});

test("master: the help no longer says the API has no auth; SIGHUP outcomes read clearly", async () => {
  let out = "";
  const io: Io = { out: (t) => void (out += t), err: () => undefined, errIsTTY: false, env: {}, now: () => now };
  assert.is(await main(["master", "--help"], io), 0);
  assert.not.match(out, /no auth yet/);
  for (const flag of ["--auth", "--insecure-allow-anyone", "--bootstrap-token-file", "--tls-cert", "--tls-key", "--tls-client-ca"])
    assert.ok(out.includes(flag), flag);
  assert.match(tlsReloadMessage(true), /re-read/);
  assert.match(tlsReloadMessage(false), /keeping the previous/);
  assert.match(tlsReloadMessage(new Error("boom")), /failed: boom/);
});

test.run();
