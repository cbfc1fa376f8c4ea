// Resolves the master's options from, in increasing precedence: the --config file (JSON, or flat
// YAML "key: value"), TASKGRID_* environment variables, and flags. Keys may be camelCase or
// snake_case; an unknown key is an error naming it (a typo must not silently fall back to a default).
import { boolFlag, stringFlag, type ParsedArgs } from "./args.js";
import { parseBoolEnv } from "./client-options.js";
import { checkLogFormat, checkLogLevel, logOptions } from "./log-options.js";
import { parseAddress } from "./parse.js";
import { UsageError } from "./usage-error.js";

/** Options passed to startMaster; `metrics` is forwarded for the metrics endpoint. */
export type MasterCliOptions = Record<string, unknown> & {
  listen?: string;
  metrics?: string;
  databaseUrl?: string;
  dataDir?: string;
  weightsPath?: string;
  auth?: boolean;
  insecureAllowAnyone?: boolean;
  bootstrapTokenFile?: string;
  tls?: MasterTlsCliOptions;
};

/** MasterOptions.tls (master/config.ts TlsOptions). */
export interface MasterTlsCliOptions {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
}

const KNOWN_KEYS = new Set([
  "listen", "metrics", "databaseUrl", "dataDir", "schema", "weightsPath", "ordering", "slaMultiplier", "heartbeatIntervalMs",
  "suspectAfterMs", "offlineAfterMs", "livenessTickMs", "cancelGraceMs", "shutdownTimeoutMs", "logLevel", "logFormat",
  "placement", "telemetryMaxAgeMs", "weightsPollMs", "staleMarginMs", "leaseMs", "leaseGraceMs", "defaultMaxRequeues",
  "retryBackoffMs", "maxRetryBackoffMs", "auth", "insecureAllowAnyone", "bootstrapTokenFile", "authRefreshMs",
  // TLS: flat keys (tls_cert, tls_key, tls_client_ca), or in JSON a "tls" object (cert_file, key_file, client_ca_file).
  "tlsCert", "tlsKey", "tlsClientCa", "tls",
]);

const BOOLEAN_KEYS = new Set(["auth", "insecureAllowAnyone"]);
const STRING_KEYS = new Set(["bootstrapTokenFile", "tlsCert", "tlsKey", "tlsClientCa"]);
const TLS_OBJECT_KEYS: Record<string, "tlsCert" | "tlsKey" | "tlsClientCa"> = { certFile: "tlsCert", keyFile: "tlsKey", clientCaFile: "tlsClientCa" };

/** The three TLS paths while they are merged from file, env and flags. */
interface TlsParts {
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}

/** Flat TLS parts -> MasterOptions.tls; `where` says which source to fix when one half is missing. */
function tlsFromParts(parts: TlsParts, where: { cert: string; key: string; clientCa: string }): MasterTlsCliOptions | undefined {
  const { tlsCert, tlsKey, tlsClientCa } = parts;
  if (tlsCert === undefined && tlsKey === undefined && tlsClientCa === undefined) return undefined;
  if (tlsCert === undefined || tlsKey === undefined) {
    const missing = tlsCert === undefined ? where.cert : where.key;
    const given = tlsCert === undefined ? (tlsKey !== undefined ? where.key : where.clientCa) : where.cert;
    throw new UsageError(`${given} needs ${missing} too (the master's TLS certificate and its key go together)`);
  }
  return { certFile: tlsCert, keyFile: tlsKey, ...(tlsClientCa === undefined ? {} : { clientCaFile: tlsClientCa }) };
}

function takeTlsParts(options: MasterCliOptions): TlsParts {
  const parts: TlsParts = {};
  if (options.tls) {
    parts.tlsCert = options.tls.certFile;
    parts.tlsKey = options.tls.keyFile;
    if (options.tls.clientCaFile !== undefined) parts.tlsClientCa = options.tls.clientCaFile;
  }
  delete options.tls;
  return parts;
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A flat YAML mapping: `key: value` lines, `#` comments, quoted or bare scalars. */
export function parseFlatYaml(text: string, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trimEnd();
    if (line.trim() === "" || line.trim() === "---") return;
    const m = /^([A-Za-z_][\w]*)\s*:\s*(.*)$/.exec(line);
    if (!m) throw new UsageError(`${file}:${i + 1}: expected "key: value" (only flat YAML is supported)`);
    out[m[1]] = yamlScalar(m[2].trim());
  });
  return out;
}

function yamlScalar(v: string): unknown {
  if (/^".*"$/.test(v)) return JSON.parse(v);
  if (/^'.*'$/.test(v)) return v.slice(1, -1).replace(/''/g, "'");
  if (v === "true" || v === "false") return v === "true";
  if (v === "" || v === "null" || v === "~") return undefined;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

/** Parses a config file's text (JSON when it looks like JSON, flat YAML otherwise) and checks its keys. */
export function parseConfigFile(text: string, file: string): MasterCliOptions {
  let raw: unknown;
  if (/^\s*\{/.test(text)) {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`${file}: invalid JSON (${(err as Error).message})`);
    }
  } else {
    raw = parseFlatYaml(text, file);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new UsageError(`${file}: expected an object of settings`);
  const out: MasterCliOptions = {};
  const tls: TlsParts = {};
  for (const [key, value] of Object.entries(raw)) {
    const k = camel(key);
    if (!KNOWN_KEYS.has(k)) throw new UsageError(`${file}: unknown key "${key}" (known: ${[...KNOWN_KEYS].join(", ")})`);
    if (value === undefined) continue;
    if (BOOLEAN_KEYS.has(k) && typeof value !== "boolean") throw new UsageError(`${file}: ${key}: ${JSON.stringify(value)} is not true or false`);
    if (STRING_KEYS.has(k) && (typeof value !== "string" || value === "")) throw new UsageError(`${file}: ${key}: expected a file path`);
    if (k === "tls") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`${file}: ${key}: expected an object with cert_file, key_file and optionally client_ca_file`);
      for (const [sub, path] of Object.entries(value)) {
        const part = TLS_OBJECT_KEYS[camel(sub)];
        if (!part) throw new UsageError(`${file}: ${key}.${sub}: unknown key (known: cert_file, key_file, client_ca_file)`);
        if (typeof path !== "string" || path === "") throw new UsageError(`${file}: ${key}.${sub}: expected a file path`);
        tls[part] = path;
      }
      continue;
    }
    if (k === "tlsCert" || k === "tlsKey" || k === "tlsClientCa") {
      tls[k] = value as string;
      continue;
    }
    out[k] = value;
    // Checked here rather than at start so the message names the file and the key as written.
    if (k === "logLevel" && value !== undefined) checkLogLevel(value, `${file}: ${key}`);
    if (k === "logFormat" && value !== undefined) checkLogFormat(value, `${file}: ${key}`);
  }
  const tlsOptions = tlsFromParts(tls, { cert: `${file}: tls_cert`, key: `${file}: tls_key`, clientCa: `${file}: tls_client_ca` });
  if (tlsOptions) out.tls = tlsOptions;
  return out;
}

/** Merges file < env < flags. `readFile` is injected so this stays testable. */
export function resolveMasterOptions(args: ParsedArgs, env: Record<string, string | undefined>, readFile: (path: string) => string): MasterCliOptions {
  const configPath = stringFlag(args, "config") ?? env.TASKGRID_CONFIG;
  let fromFile: MasterCliOptions = {};
  if (configPath) {
    let text: string;
    try {
      text = readFile(configPath);
    } catch (err) {
      throw new UsageError(`--config: cannot read ${configPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    fromFile = parseConfigFile(text, configPath);
  }
  const pick = (flag: string, envName: string): string | undefined => stringFlag(args, flag) ?? (env[envName] || undefined);
  const options: MasterCliOptions = { ...fromFile };
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  const listen = pick("listen", "TASKGRID_LISTEN");
  set("listen", listen === undefined ? undefined : parseAddress(listen, "listen"));
  const metrics = pick("metrics", "TASKGRID_METRICS");
  set("metrics", metrics === undefined ? undefined : parseAddress(metrics, "metrics"));
  set("databaseUrl", pick("database-url", "TASKGRID_DATABASE_URL"));
  set("dataDir", pick("data-dir", "TASKGRID_DATA_DIR"));
  set("weightsPath", pick("weights", "TASKGRID_WEIGHTS"));
  Object.assign(options, logOptions(args, env));

  const flagOrEnvBool = (flag: string, envName: string): boolean | undefined => (boolFlag(args, flag) ? true : parseBoolEnv(env[envName], envName));
  const auth = flagOrEnvBool("auth", "TASKGRID_AUTH");
  if (auth !== undefined) options.auth = auth;
  const anyone = flagOrEnvBool("insecure-allow-anyone", "TASKGRID_INSECURE_ALLOW_ANYONE");
  if (anyone !== undefined) options.insecureAllowAnyone = anyone;
  set("bootstrapTokenFile", pick("bootstrap-token-file", "TASKGRID_BOOTSTRAP_TOKEN_FILE"));

  // Each TLS path on its own: a flag or variable replaces the file's value for that path only.
  // The master's variables are TASKGRID_TLS_SERVER_*: TASKGRID_TLS_CERT/KEY are the client side's.
  const tls = takeTlsParts(options);
  const cert = pick("tls-cert", "TASKGRID_TLS_SERVER_CERT");
  const key = pick("tls-key", "TASKGRID_TLS_SERVER_KEY");
  const clientCa = pick("tls-client-ca", "TASKGRID_TLS_CLIENT_CA");
  if (cert !== undefined) tls.tlsCert = cert;
  if (key !== undefined) tls.tlsKey = key;
  if (clientCa !== undefined) tls.tlsClientCa = clientCa;
  const tlsOptions = tlsFromParts(tls, {
    cert: "--tls-cert (TASKGRID_TLS_SERVER_CERT)",
    key: "--tls-key (TASKGRID_TLS_SERVER_KEY)",
    clientCa: "--tls-client-ca (TASKGRID_TLS_CLIENT_CA)",
  });
  if (tlsOptions) options.tls = tlsOptions;
  return options;
}
