// Unary gRPC calls over plain node:http2, without a gRPC library on the client side: the request is
// encoded once per message, a call is one HEADERS and one DATA frame, and the answer is read from
// the response's DATA frame and trailers. This is what a lean client in another process costs
// (grpc-go, ghz): grpc-js's client spends about as much CPU per unary call as the master spends
// serving it, and on a 2-core machine the load generator shares the cores with the master and
// Postgres, so its overhead would be measured as the master's latency.
import http2 from "node:http2";

/** A gRPC status other than OK, or a call that broke. */
export class RawCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** The 5-byte gRPC message prefix (uncompressed) followed by the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

export class RawUnaryChannels {
  private readonly sessions: http2.ClientHttp2Session[];
  private next = 0;
  private readonly extraHeaders: Record<string, string>;

  /** `channels` HTTP/2 connections used round-robin; `token`: sent as a bearer token on every call. */
  constructor(address: string, channels: number, token?: string) {
    this.extraHeaders = token ? { authorization: `Bearer ${token}` } : {};
    this.sessions = Array.from({ length: channels }, () => {
      const session = http2.connect(`http://${address}`);
      session.on("error", () => {}); // a broken connection fails its calls (below)
      return session;
    });
  }

  /** Resolves with the response message's bytes; rejects with RawCallError on a non-OK status. */
  call(path: string, frame: Buffer): Promise<Buffer> {
    const session = this.sessions[this.next];
    this.next = (this.next + 1) % this.sessions.length;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = "";
      const request = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...this.extraHeaders,
      });
      // A trailers-only answer (an error) carries its status in the response headers.
      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
        if (headers["grpc-message"] !== undefined) message = decodeURIComponent(String(headers["grpc-message"]));
      };
      request.on("response", readStatus);
      request.on("trailers", readStatus);
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("error", (err) => reject(new RawCallError(14, err.message)));
      request.on("close", () => {
        if (status !== "0") {
          reject(new RawCallError(Number(status ?? 14), message || `stream closed (${request.rstCode})`));
          return;
        }
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        resolve(body.subarray(5, 5 + body.readUInt32BE(1)));
      });
      request.end(frame);
    });
  }

  /** Resolves once every connection is up (so connecting is not part of a measurement). */
  async ready(): Promise<void> {
    const connected = (s: http2.ClientHttp2Session) =>
      new Promise<void>((resolve, reject) => {
        if (!s.connecting) return resolve();
        s.once("connect", () => resolve());
        s.once("error", reject);
      });
    await Promise.all(this.sessions.map(connected));
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }
}
