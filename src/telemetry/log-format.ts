// Pure renderings of one log entry: a JSON line for machines (log shippers, `jq`), or a compact
// text line for a person at a terminal: `15:04:05.123 INFO  message task=... attempt=... worker=...`.
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "text";

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const LOG_FORMATS: readonly LogFormat[] = ["json", "text"];

export const isLogLevel = (v: unknown): v is LogLevel => typeof v === "string" && (LOG_LEVELS as readonly string[]).includes(v);
export const isLogFormat = (v: unknown): v is LogFormat => typeof v === "string" && (LOG_FORMATS as readonly string[]).includes(v);

export interface LogEntry {
  level: LogLevel;
  time: Date;
  message: string;
  fields: Record<string, unknown>;
}

/** The JSON shape is part of the operator contract: level, time (ISO 8601 UTC), message, then fields. */
export function formatJsonLine(e: LogEntry): string {
  return JSON.stringify({ level: e.level, time: e.time.toISOString(), message: e.message, ...e.fields });
}

/** Ids come first and in this order, so the eye finds them in the same place on every line. */
const ID_KEYS = ["task", "attempt", "worker"];

const LEVEL_COLOUR: Record<LogLevel, string> = { debug: "90", info: "36", warn: "33", error: "31" };
const paint = (on: boolean, code: string, text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Local wall-clock time: a person at the terminal reads their own clock (the JSON form is UTC). */
function clock(t: Date): string {
  return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
}

/** Bare when unambiguous, JSON-quoted otherwise, so a line still splits on spaces into key=value pairs. */
function renderValue(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=\\]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  if (v === null) return "null";
  return JSON.stringify(v) ?? String(v);
}

export function formatTextLine(e: LogEntry, colour = false): string {
  const keys = Object.keys(e.fields).filter((k) => e.fields[k] !== undefined);
  const ordered = [...ID_KEYS.filter((k) => keys.includes(k)), ...keys.filter((k) => !ID_KEYS.includes(k))];
  const pairs = ordered.map((k) => `${paint(colour, "2", `${k}=`)}${renderValue(e.fields[k])}`);
  const level = paint(colour, LEVEL_COLOUR[e.level], e.level.toUpperCase().padEnd(5));
  return [paint(colour, "2", clock(e.time)), level, e.message, ...pairs].join(" ");
}
