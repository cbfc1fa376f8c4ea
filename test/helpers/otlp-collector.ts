// A stand-in OpenTelemetry collector: a node:http server on 127.0.0.1:0 that accepts OTLP/HTTP JSON
// trace exports (POST /v1/traces), answers 200, and keeps the spans in a flat, test-friendly shape.
// `until` waits for spans to arrive (event-driven: it wakes on every export).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface CollectedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  /** OTLP SpanKind number (1 internal, 2 server, 3 client, ...). */
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; timeMs: number }>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

interface OtlpValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}

function otlpValue(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(otlpValue);
  return undefined;
}

const attributesOf = (kvs: OtlpKeyValue[] = []) => Object.fromEntries(kvs.map((kv) => [kv.key, otlpValue(kv.value)]));
const nanosToMs = (n: string | number) => Number(BigInt(n) / 1_000_000n);

export class OtlpCollector {
  readonly spans: CollectedSpan[] = [];
  /** Export requests received (any path). */
  requests = 0;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    /** Base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
    readonly url: string,
  ) {}

  static async start(): Promise<OtlpCollector> {
    let collector: OtlpCollector;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        collector.requests++;
        if (req.method === "POST" && req.url === "/v1/traces") collector.record(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        collector.wake();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    collector = new OtlpCollector(server, `http://127.0.0.1:${port}`);
    return collector;
  }

  private record(body: { resourceSpans?: Array<{ resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: Array<{ spans?: any[] }> }> }): void {
    for (const rs of body.resourceSpans ?? []) {
      const service = String(attributesOf(rs.resource?.attributes)["service.name"] ?? "");
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            name: s.name,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? "",
            kind: s.kind,
            startMs: nanosToMs(s.startTimeUnixNano),
            endMs: nanosToMs(s.endTimeUnixNano),
            attributes: attributesOf(s.attributes),
            events: (s.events ?? []).map((e: { name: string; timeUnixNano: string }) => ({ name: e.name, timeMs: nanosToMs(e.timeUnixNano) })),
            statusCode: s.status?.code ?? 0,
          });
        }
      }
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Resolves once `pred` holds over the spans received so far. */
  async until(pred: (spans: CollectedSpan[]) => boolean): Promise<CollectedSpan[]> {
    while (!pred(this.spans)) await new Promise<void>((r) => this.waiters.push(r));
    return this.spans;
  }

  /** The one span named `name` matching `where` (throws when there is not exactly one). */
  one(name: string, where: (s: CollectedSpan) => boolean = () => true): CollectedSpan {
    const found = this.spans.filter((s) => s.name === name && where(s));
    if (found.length !== 1) throw new Error(`expected one ${name} span, got ${found.length}: ${JSON.stringify(this.spans.map((s) => s.name))}`);
    return found[0];
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
