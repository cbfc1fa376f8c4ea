// The one logger of the master and the agent: entries below the level are dropped; the rest are
// written as JSON lines, or as readable text when the log stream (stderr) is a terminal. Logs go to
// stderr, so that stream decides: `taskgrid master > out` still shows text on the terminal, and
// `taskgrid master 2> master.log` writes JSON into the file.
import { formatJsonLine, formatTextLine, type LogEntry, type LogFormat, type LogLevel } from "./log-format.js";

export { LOG_FORMATS, LOG_LEVELS, isLogFormat, isLogLevel, type LogFormat, type LogLevel } from "./log-format.js";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where lines go by default: a stream such as process.stderr (a tty.WriteStream when a terminal). */
export interface LogStream {
  write(text: string): unknown;
  isTTY?: boolean;
  /** tty.WriteStream#hasColors: honours NO_COLOR, FORCE_COLOR and TERM=dumb. */
  hasColors?(): boolean;
}

export interface LoggerOptions {
  /** Lowest level written; default "info". */
  level?: LogLevel;
  /** Default: "json" when `write` is given; else "text" when `stream` is a terminal, "json" otherwise. */
  format?: LogFormat;
  /** ANSI colours in text lines; default: only on a terminal that supports them. */
  colour?: boolean;
  /** Receives each line without its newline (tests, embedding); takes precedence over `stream`. */
  write?: (line: string) => void;
  /** Default process.stderr. */
  stream?: LogStream;
  /** Fields on every entry (the agent puts its worker id here). */
  fields?: Record<string, unknown>;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

/** How a logger will render, decided once from the options and the stream. */
export function resolveLogStyle(o: Pick<LoggerOptions, "format" | "colour" | "write" | "stream">): { format: LogFormat; colour: boolean } {
  const terminal = o.write === undefined && Boolean(o.stream?.isTTY);
  const format = o.format ?? (terminal ? "text" : "json");
  const colour = format === "text" && (o.colour ?? (terminal && Boolean(o.stream?.hasColors?.())));
  return { format, colour };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const stream = options.stream ?? process.stderr;
  const { format, colour } = resolveLogStyle({ ...options, stream });
  const write = options.write ?? ((line: string) => void stream.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const base = options.fields ?? {};
  const render = format === "text" ? (e: LogEntry) => formatTextLine(e, colour) : formatJsonLine;
  const emit =
    (level: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[level] < min) return;
      try {
        write(render({ level, time: new Date(now()), message, fields: { ...base, ...fields } }));
      } catch {
        // A broken log sink (closed pipe, a throwing callback) must not take the process down.
      }
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
