// What a client verb (and `taskgrid agent`) needs besides the master address: the API token and TLS.
// The token comes from, in precedence, --token, TASKGRID_TOKEN, then the credentials file
// ($TASKGRID_CREDENTIALS, else $XDG_CONFIG_HOME/taskgrid/credentials, else
// ~/.config/taskgrid/credentials); a credentials file that group or others may access is refused.
// TLS comes from --tls-ca/--tls-cert/--tls-key/--tls-server-name/--tls (or TASKGRID_TLS_*).
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { channelCredentials, TlsFileError, type ClientTlsOptions } from "../client/tls.js";
import { parseToken } from "../core/token-format.js";
import { boolFlag, stringFlag, type FlagSpecs, type ParsedArgs } from "./args.js";
import { UsageError } from "./usage-error.js";

type Env = Record<string, string | undefined>;

export const TOKEN_FLAG: FlagSpecs = {
  token: {
    type: "string",
    value: "TOKEN",
    description: "API token tg1.<id>.<secret> (env TASKGRID_TOKEN, else the credentials file ~/.config/taskgrid/credentials)",
  },
};

export const TLS_CLIENT_FLAGS: FlagSpecs = {
  "tls-ca": { type: "string", value: "FILE", description: "CA (PEM) that signs the master's certificate; turns TLS on (env TASKGRID_TLS_CA)" },
  "tls-cert": { type: "string", value: "FILE", description: "client certificate (PEM) for mTLS, with --tls-key (env TASKGRID_TLS_CERT)" },
  "tls-key": { type: "string", value: "FILE", description: "private key (PEM) of --tls-cert (env TASKGRID_TLS_KEY)" },
  "tls-server-name": {
    type: "string",
    value: "NAME",
    description: "name the master's certificate must carry when it differs from the address host (env TASKGRID_TLS_SERVER_NAME)",
  },
  tls: { type: "boolean", description: "TLS with the system's trusted CAs (implied by the other --tls-* flags; env TASKGRID_TLS=1)" },
};

/** Token and TLS flags of every client verb and of `taskgrid agent`. */
export const AUTH_CLIENT_FLAGS: FlagSpecs = { ...TOKEN_FLAG, ...TLS_CLIENT_FLAGS };

/**
 * A credentials problem (unreadable or too open file, malformed token). Not a UsageError: nothing
 * was typed wrong, so the message names the file or variable and the fix instead of pointing at --help.
 */
export class CredentialsError extends Error {
  override readonly name = "CredentialsError";
}

export interface ResolvedToken {
  /** The bare token, "tg1.<id>.<secret>". */
  token: string;
  /** Where it came from, for messages: "--token", "TASKGRID_TOKEN" or the file's path. */
  source: string;
}

/** Where the credentials file is: $TASKGRID_CREDENTIALS, $XDG_CONFIG_HOME/taskgrid/credentials, ~/.config/taskgrid/credentials. */
export function credentialsPath(env: Env): string {
  if (env.TASKGRID_CREDENTIALS) return env.TASKGRID_CREDENTIALS;
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  const configHome = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), ".config");
  return join(configHome, "taskgrid", "credentials");
}

/** The first line that is neither blank nor a "#" comment, trimmed; undefined when there is none. */
export function tokenLine(text: string): string | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line !== "" && !line.startsWith("#")) return line;
  }
  return undefined;
}

/**
 * The token in a credentials file; undefined when the file does not exist. Refuses a file that
 * group or others may read or write (mode & 0o077), as ssh does with private keys.
 */
export function readCredentialsFile(path: string, platform: NodeJS.Platform = process.platform): string | undefined {
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new CredentialsError(`credentials file ${path} is not a regular file`);
    mode = stat.mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    if (err instanceof CredentialsError) throw err;
    throw new CredentialsError(`credentials file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // Windows has no such mode bits (stat reports 0o666 for any writable file).
  if (platform !== "win32" && (mode & 0o077) !== 0) {
    throw new CredentialsError(
      `credentials file ${path} is accessible by other users (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); ` +
        `it holds a secret, so it must be private: chmod 600 ${path}`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CredentialsError(`credentials file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const line = tokenLine(text);
  if (line === undefined)
    throw new CredentialsError(`credentials file ${path} has no token (put the token on a line of its own; lines starting with # are comments)`);
  return line;
}

/** Strips an optional "Bearer " and checks the form, naming the source but never echoing the token. */
export function checkToken(value: string, source: string): string {
  const bare = value.trim().replace(/^Bearer\s+/i, "");
  try {
    parseToken(bare);
  } catch {
    throw new CredentialsError(
      `${source}: not a Taskgrid API token (expected tg1.<16 hex digits>.<43 base64url characters>, as 'taskgrid token create' prints it)`,
    );
  }
  return bare;
}

/** The token to present, or undefined for none. Lower-precedence sources are not read at all. */
export function resolveToken(args: ParsedArgs, env: Env, platform: NodeJS.Platform = process.platform): ResolvedToken | undefined {
  const flag = stringFlag(args, "token");
  if (flag !== undefined) {
    if (flag.trim() === "") throw new UsageError("--token: empty (leave the flag out to use TASKGRID_TOKEN or the credentials file)");
    return { token: checkToken(flag, "--token"), source: "--token" };
  }
  const fromEnv = env.TASKGRID_TOKEN?.trim();
  if (fromEnv) return { token: checkToken(fromEnv, "TASKGRID_TOKEN"), source: "TASKGRID_TOKEN" };
  const path = credentialsPath(env);
  const fromFile = readCredentialsFile(path, platform);
  return fromFile === undefined ? undefined : { token: checkToken(fromFile, `credentials file ${path}`), source: path };
}

/** "1", "true", "yes", "on" / "0", "false", "no", "off", "" (case-insensitive); anything else is a usage error. */
export function parseBoolEnv(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  throw new UsageError(`${name}: "${value}" is not a boolean (use 1/true or 0/false)`);
}

/** TLS options from flags and environment; undefined means plaintext. */
export function clientTls(args: ParsedArgs, env: Env): ClientTlsOptions | undefined {
  const pick = (flag: string, envName: string) => stringFlag(args, flag) ?? (env[envName] || undefined);
  const caFile = pick("tls-ca", "TASKGRID_TLS_CA");
  const certFile = pick("tls-cert", "TASKGRID_TLS_CERT");
  const keyFile = pick("tls-key", "TASKGRID_TLS_KEY");
  const serverName = pick("tls-server-name", "TASKGRID_TLS_SERVER_NAME");
  const on = boolFlag(args, "tls") || parseBoolEnv(env.TASKGRID_TLS, "TASKGRID_TLS") === true;
  if (certFile !== undefined && keyFile === undefined) throw new UsageError("--tls-cert needs --tls-key (TASKGRID_TLS_KEY) too");
  if (keyFile !== undefined && certFile === undefined) throw new UsageError("--tls-key needs --tls-cert (TASKGRID_TLS_CERT) too");
  if (!on && caFile === undefined && certFile === undefined && serverName === undefined) return undefined;
  const tls: ClientTlsOptions = {};
  if (caFile !== undefined) tls.caFile = caFile;
  if (certFile !== undefined) tls.certFile = certFile;
  if (keyFile !== undefined) tls.keyFile = keyFile;
  if (serverName !== undefined) tls.serverName = serverName;
  return tls;
}

const TLS_FLAG_NAMES: Record<string, string> = { tls_ca: "--tls-ca", tls_cert: "--tls-cert", tls_key: "--tls-key" };

/** Channel credentials for `tls`; an unusable file is reported under its flag's name. */
export function clientCredentials(tls: ClientTlsOptions | undefined): ChannelCredentials {
  try {
    return channelCredentials(tls);
  } catch (err) {
    if (err instanceof TlsFileError) throw new CredentialsError(`${TLS_FLAG_NAMES[err.option] ?? err.option} ${err.file}: ${err.reason}`);
    throw err;
  }
}
