// A hand-driven agent stream for protocol tests: send any AgentMessage (also malformed ones) and
// await what the master answers. Real gRPC over loopback.
import * as grpc from "@grpc/grpc-js";
import { AgentMessage, WorkerServiceClient, type MasterMessage, type Register } from "../../src/gen/taskgrid/v1/worker_service.js";

export class RawAgent {
  private readonly client: WorkerServiceClient;
  private readonly stream: grpc.ClientDuplexStream<AgentMessage, MasterMessage>;
  private readonly inbox: MasterMessage[] = [];
  private waiters: Array<() => void> = [];
  /** Set when the stream ended: the status the master closed it with. */
  status: grpc.StatusObject | null = null;
  readonly ended: Promise<grpc.StatusObject>;

  /**
   * `token`: sent as `authorization: Bearer <token>` on the Connect call (auth on); `metadata`:
   * sent as given instead (malformed credentials).
   */
  constructor(address: string, options: { token?: string; metadata?: grpc.Metadata } = {}) {
    this.client = new WorkerServiceClient(address, grpc.credentials.createInsecure());
    const metadata = options.metadata ?? new grpc.Metadata();
    if (options.token !== undefined) metadata.set("authorization", `Bearer ${options.token}`);
    this.stream = this.client.connect(metadata);
    this.stream.on("data", (m: MasterMessage) => {
      this.inbox.push(m);
      this.wake();
    });
    this.stream.on("error", () => {});
    this.ended = new Promise((resolve) =>
      this.stream.on("status", (s: grpc.StatusObject) => {
        this.status = s;
        this.wake();
        resolve(s);
      }),
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Sends a message; `seq` > 0 asks the master for a ReportAck once it is committed. */
  send(body: AgentMessage["body"], seq = 0): void {
    this.stream.write(AgentMessage.fromPartial({ body, seq } as never));
  }

  register(workerId: string, extra: Partial<Extract<AgentMessage["body"], { $case: "register" }>["value"]> = {}): void {
    this.send({
      $case: "register",
      value: {
        workerId,
        hostname: workerId,
        tags: [],
        capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: [] },
        running: [],
        agentVersion: "raw",
        instanceId: `raw-${workerId}`,
        ...extra,
      } as Register,
    });
  }

  /** Next master message of the given kind (earlier messages of other kinds are skipped). */
  async next<K extends NonNullable<MasterMessage["body"]>["$case"]>(kind: K): Promise<Extract<NonNullable<MasterMessage["body"]>, { $case: K }>["value"]> {
    for (;;) {
      const i = this.inbox.findIndex((m) => m.body?.$case === kind);
      if (i >= 0) return this.inbox.splice(i, 1)[0].body!.value as never;
      if (this.status) throw new Error(`stream ended (${this.status.code}: ${this.status.details}) before a ${kind} message`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Takes the first queued message of this kind without waiting, or returns undefined. */
  take<K extends NonNullable<MasterMessage["body"]>["$case"]>(kind: K): Extract<NonNullable<MasterMessage["body"]>, { $case: K }>["value"] | undefined {
    const i = this.inbox.findIndex((m) => m.body?.$case === kind);
    return i >= 0 ? (this.inbox.splice(i, 1)[0].body!.value as never) : undefined;
  }

  /** Resolves when the next message (of any kind) arrives; consumes nothing. */
  arrival(): Promise<void> {
    return new Promise<void>((r) => this.waiters.push(r));
  }

  end(): void {
    this.stream.end();
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}
