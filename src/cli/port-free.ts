// Whether a TCP address can be listened on right now: `taskgrid dev` asks before it prepares the
// database, so a second dev next to a first one fails in one line instead of after a migration run
// and a bind error deep in gRPC.
import { createServer } from "node:net";

/** Splits "host:port" (IPv6 hosts in brackets); port 0 means "any free port". */
function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(colon + 1)) };
}

/** Resolves with false when `address` is taken (EADDRINUSE), true when it could be bound. */
export function portIsFree(address: string): Promise<boolean> {
  const { host, port } = hostAndPort(address);
  if (port === 0) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? resolve(false) : reject(err)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
