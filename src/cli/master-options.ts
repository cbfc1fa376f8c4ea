// Resolves the master's options from, in increasing precedence: the --config file (JSON, or flat
// YAML "key: value"), TASKGRID_* environment variables, and flags. Keys may be camelCase or
// snake_case; an unknown key is an error naming it (a typo must not silently fall back to a default).
import { stringFlag, type ParsedArgs } from "./args.js";
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
};

const KNOWN_KEYS = new Set([
  "listen", "metrics", "databaseUrl", "dataDir", "schema", "weightsPath", "ordering", "slaMultiplier", "heartbeatIntervalMs",
  "suspectAfterMs", "offlineAfterMs", "livenessTickMs", "cancelGraceMs", "shutdownTimeoutMs", "logLevel", "logFormat",
  "placement", "telemetryMaxAgeMs", "weightsPollMs", "staleMarginMs", "leaseMs", "leaseGraceMs", "defaultMaxRequeues",
  "retryBackoffMs", "maxRetryBackoffMs",
]);

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
  for (const [key, value] of Object.entries(raw)) {
    const k = camel(key);
    if (!KNOWN_KEYS.has(k)) throw new UsageError(`${file}: unknown key "${key}" (known: ${[...KNOWN_KEYS].join(", ")})`);
    if (value !== undefined) out[k] = value;
    // Checked here rather than at start so the message names the file and the key as written.
    if (k === "logLevel" && value !== undefined) checkLogLevel(value, `${file}: ${key}`);
    if (k === "logFormat" && value !== undefined) checkLogFormat(value, `${file}: ${key}`);
  }
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
  return options;
}
