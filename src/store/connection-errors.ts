// Which database errors mean "the database is unreachable right now" (retry later) rather than
// "this statement is wrong" (retrying changes nothing). Only the first kind is retried by the group
// committer and reported as UNAVAILABLE to clients.

/** Node socket errors seen when the server is down, restarting or the network path is gone. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/** SQLSTATEs: class 08 (connection exception), shutdowns, "cannot connect now", too many connections. */
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);

const MESSAGES = [
  /Connection terminated/i,
  /Timeout acquiring a connection/i,
  /Client has encountered a connection error/i,
  /Connection ended unexpectedly/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /Client was closed and is not queryable/i,
];

export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  if (SOCKET_CODES.has(code) || SQLSTATES.has(code) || code.startsWith("08")) return true;
  if (MESSAGES.some((re) => re.test(e.message))) return true;
  // AggregateError (several addresses refused) and wrapped causes.
  const nested = (e as { errors?: unknown[] }).errors ?? [];
  return nested.some(isConnectionError) || isConnectionError((e as { cause?: unknown }).cause);
}
