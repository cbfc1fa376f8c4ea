// A tiny TCP proxy for failure tests: listens on 127.0.0.1:0 and pipes every connection to
// `target` (host:port). `dropAll()` destroys every open connection (both sides see the socket
// close, as when a network path dies); `pause()` makes new connections fail at once (accepted and
// destroyed, so a client sees the peer gone) until `resume()`; `blackhole()` silently drops every
// byte in both directions while the connections stay open (a partition no one announces), and
// new connections hang, until `heal()`.
import net from "node:net";

export interface TcpProxy {
  /** "127.0.0.1:PORT" to give to the client instead of the target. */
  readonly address: string;
  /** Connections accepted and forwarded so far (refused ones while paused not counted). */
  readonly connectionsForwarded: number;
  /** Open forwarded connections right now. */
  readonly openConnections: number;
  dropAll(): void;
  blackhole(): void;
  heal(): void;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const sep = target.lastIndexOf(":");
  const host = target.slice(0, sep);
  const port = Number(target.slice(sep + 1));
  const open = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let paused = false;
  let silent = false;
  let forwarded = 0;

  const server = net.createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    forwarded++;
    const upstream = net.connect({ host, port });
    const pair = { client, upstream };
    open.add(pair);
    const close = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
    // Forwarded by hand rather than piped, so a blackhole can drop bytes without closing anything.
    client.on("data", (d: Buffer) => void (silent || upstream.write(d)));
    upstream.on("data", (d: Buffer) => void (silent || client.write(d)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port: listenPort } = server.address() as net.AddressInfo;

  const dropAll = () => {
    for (const { client, upstream } of [...open]) {
      // resetAndDestroy sends RST where supported: the peers see the path die, not a clean FIN.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    open.clear();
  };

  return {
    address: `127.0.0.1:${listenPort}`,
    get connectionsForwarded() {
      return forwarded;
    },
    get openConnections() {
      return open.size;
    },
    dropAll,
    blackhole: () => void (silent = true),
    heal: () => void (silent = false),
    pause: () => void (paused = true),
    resume: () => void (paused = false),
    stop: async () => {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port that was free a moment ago (bind to 0, read it, close), for servers that must restart on the same address. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
