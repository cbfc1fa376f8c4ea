// What every verb module exports, plus the pieces the client verbs share: the --master/--json/--help
// and token/TLS flags, the master address and credentials resolution, and the output streams
// (injectable for tests).
import { createClient, DEFAULT_MASTER_ADDRESS, type ClientOptions, type TaskgridClient } from "../client/index.js";
import { parseArgs, stringFlag, type FlagSpecs, type ParsedArgs, type ParseOptions } from "./args.js";
import { AUTH_CLIENT_FLAGS, clientCredentials, clientTls, resolveToken } from "./client-options.js";
import { parseAddress } from "./parse.js";
import { UsageError } from "./usage-error.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars redraw in place only there). */
  errIsTTY: boolean;
  env: Record<string, string | undefined>;
  now(): Date;
  /** Standard input, for a verb that reads a script from it (`sbatch < job.sh`); absent: nothing to read. */
  stdin?: StdinSource;
}

export interface StdinSource {
  /** A terminal: a user typing, not a script piped in. */
  isTTY: boolean;
  /** All of it, or a UsageError once it passes maxBytes (the rest is not read). */
  read(maxBytes: number): Promise<Buffer>;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  errIsTTY: Boolean(process.stderr.isTTY),
  env: process.env,
  now: () => new Date(),
  // Getters: process.stdin is made only when a verb asks for it.
  stdin: {
    get isTTY() {
      return Boolean(process.stdin.isTTY);
    },
    read: (maxBytes) => readAll(process.stdin, maxBytes),
  },
};

/** Everything a stream yields, failing once it passes maxBytes. */
export async function readAll(stream: AsyncIterable<Buffer | string>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > maxBytes) throw new UsageError(`stdin holds more than ${maxBytes} bytes`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

export interface Command {
  name: string;
  /** One line for the verb list. */
  summary: string;
  /** The synopsis after "taskgrid ", e.g. "get [flags] ID". */
  usage: string;
  flags: FlagSpecs;
  /** Extra help text after the flag list (examples, notes). */
  notes?: string;
  parseOptions?: ParseOptions;
  /** Returns the process exit code. */
  run(args: ParsedArgs, io: Io): Promise<number>;
}

export const HELP_FLAG: FlagSpecs = { help: { type: "boolean", short: "h", description: "show this help" } };
export const JSON_FLAG: FlagSpecs = { json: { type: "boolean", description: "print machine-readable JSON" } };
export const MASTER_FLAG: FlagSpecs = {
  master: {
    type: "string",
    value: "HOST:PORT[,...]",
    description: `master address, or a comma-separated list of masters (env TASKGRID_MASTER, default ${DEFAULT_MASTER_ADDRESS})`,
  },
};
/** The flags every client verb accepts. */
export const CLIENT_FLAGS: FlagSpecs = { ...MASTER_FLAG, ...AUTH_CLIENT_FLAGS, ...JSON_FLAG };

/**
 * The master address(es) from --master or TASKGRID_MASTER: "host:port", or several masters as
 * "a:50051,b:50051". Returned as one comma-joined string without spaces, the form the client and
 * the agent config both take.
 */
export function masterAddress(args: ParsedArgs, io: Io): string {
  const flag = stringFlag(args, "master");
  if (flag !== undefined) return parseAddressList(flag, "master");
  const env = io.env.TASKGRID_MASTER;
  return env ? parseAddressList(env, "master (from TASKGRID_MASTER)") : DEFAULT_MASTER_ADDRESS;
}

/** Checks each element of a comma-separated address list; an error names the bad one. */
function parseAddressList(text: string, flag: string): string {
  const elements = text.split(",");
  // "a:1,,b:2" or a trailing comma is a typo more likely than a wish: name it instead of skipping it.
  if (elements.length > 1 && elements.some((e) => e.trim() === "")) throw new UsageError(`--${flag}: "${text}" has an empty element`);
  if (elements.length === 1) return parseAddress(text, flag);
  return elements
    .map((element) => {
      try {
        return parseAddress(element, flag);
      } catch {
        throw new UsageError(`--${flag}: "${element.trim()}" (in "${text}") is not host:port`);
      }
    })
    .join(",");
}

/** Token, TLS credentials and trace context of a client verb, from its flags and environment. */
export function clientOptions(args: ParsedArgs, io: Io): ClientOptions {
  const options: ClientOptions = { credentials: clientCredentials(clientTls(args, io.env)) };
  const token = resolveToken(args, io.env);
  if (token) options.token = token.token;
  // TRACEPARENT/TRACESTATE (the environment-variable carrier of W3C trace context, as otel-cli and
  // CI systems set it) make the tasks a script submits part of the script's trace.
  const traceparent = io.env.TRACEPARENT?.trim();
  if (traceparent) options.traceContext = { traceparent, tracestate: io.env.TRACESTATE?.trim() || undefined };
  return options;
}

/** Runs `body` with a client to the master and always closes it (an open channel keeps node alive). */
export async function withClient<T>(args: ParsedArgs, io: Io, body: (client: TaskgridClient) => Promise<T>): Promise<T> {
  const client = createClient(masterAddress(args, io), clientOptions(args, io));
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** Pretty JSON, one document per call (use `jsonLine` for streams). */
export function printJson(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

export function jsonLine(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value)}\n`);
}

export function helpText(cmd: Command): string {
  const specs = { ...cmd.flags, ...HELP_FLAG };
  const names = Object.entries(specs).map(([name, s]) => {
    const short = s.short ? `-${s.short}, ` : "";
    return [`  ${short}--${name}${s.type === "string" ? ` ${s.value ?? "VALUE"}` : ""}`, s.description + (s.multiple ? " (repeatable)" : "")] as const;
  });
  const width = Math.max(...names.map(([n]) => n.length)) + 2;
  const flagLines = names.map(([n, d]) => `${n.padEnd(width)}${d}`).join("\n");
  return `${cmd.summary}\n\nUsage: taskgrid ${cmd.usage}\n\nFlags:\n${flagLines}\n${cmd.notes ? `\n${cmd.notes.trimEnd()}\n` : ""}`;
}

export function parseCommandArgs(cmd: Command, argv: readonly string[]): ParsedArgs {
  return parseArgs(argv, { ...cmd.flags, ...HELP_FLAG }, cmd.parseOptions);
}
