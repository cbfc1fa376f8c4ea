// A fleet of in-process fake agents: raw WorkerService.Connect streams (the protocol of
// test/helpers/raw-agent.ts) that register, heartbeat every 3 s with fresh telemetry, and answer
// each assignment at once with `started` and a successful `finished`, the reports a real agent sends
// for a no-op task. With them a benchmark measures the master, not process spawning.
import * as grpc from "@grpc/grpc-js";
import { AgentMessage, WorkerServiceClient, type MasterMessage } from "../../../src/gen/taskgrid/v1/worker_service.js";
import { AttemptOutcome } from "../../../src/gen/taskgrid/v1/types.js";

export interface FakeAgentsOptions {
  address: string;
  agents: number;
  /** HTTP/2 connections the streams are spread over. */
  channels: number;
  /** max_tasks each agent registers with. */
  slots: number;
  idPrefix?: string;
  heartbeatMs?: number;
  /** Called when an assignment arrives (performance.now() time), before it is answered. */
  onAssign?: (taskId: string, atMs: number) => void;
}

const OK = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 0, message: "" };

export class FakeAgents {
  registered = 0;
  assigned = 0;
  /** Streams that ended (the master closed them or the connection failed). */
  ended = 0;
  private readonly clients: WorkerServiceClient[];
  private readonly streams: grpc.ClientDuplexStream<AgentMessage, MasterMessage>[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private allRegistered!: () => void;
  readonly ready = new Promise<void>((resolve) => (this.allRegistered = resolve));

  constructor(private readonly o: FakeAgentsOptions) {
    this.clients = Array.from(
      { length: o.channels },
      () => new WorkerServiceClient(o.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
    );
  }

  /** Opens every stream and registers; `ready` resolves once all got `registered`. */
  start(): Promise<void> {
    for (let i = 0; i < this.o.agents; i++) this.open(i);
    return this.ready;
  }

  private open(i: number): void {
    const stream = this.clients[i % this.clients.length].connect();
    this.streams.push(stream);
    const workerId = `${this.o.idPrefix ?? "fake"}-${String(i).padStart(5, "0")}`;
    const send = (body: AgentMessage["body"]) => stream.write(AgentMessage.fromPartial({ body } as never));
    const heartbeat = () =>
      send({
        $case: "heartbeat",
        value: {
          seq: 0,
          telemetry: {
            sampledAt: new Date(),
            cpuLoad: 0.1,
            memoryUsedMib: 1024,
            memoryTotalMib: 65536,
            ioPressure: 0,
            runningAttempts: 0,
            gpus: [],
            probeErrors: [],
          },
        },
      });
    stream.on("data", (m: MasterMessage) => {
      const body = m.body;
      if (body?.$case === "registered") {
        heartbeat();
        const interval = this.o.heartbeatMs ?? 3000;
        // Spread heartbeats over the interval, as independent agents would.
        this.timers.push(setTimeout(() => this.timers.push(setInterval(heartbeat, interval)), Math.floor((i * 7919) % interval)));
        if (++this.registered === this.o.agents) this.allRegistered();
      } else if (body?.$case === "assign") {
        this.assigned++;
        const { attemptId, taskId } = body.value;
        this.o.onAssign?.(taskId, performance.now());
        const now = new Date();
        send({ $case: "started", value: { attemptId, pid: 1, startedAt: now } });
        send({ $case: "finished", value: { attemptId, result: OK, finishedAt: now } });
      }
    });
    stream.on("error", () => {});
    stream.on("status", () => this.ended++);
    send({
      $case: "register",
      value: {
        workerId,
        hostname: workerId,
        tags: [],
        capacity: { cpuMillis: 1_000_000, memoryMib: 4_000_000, maxTasks: this.o.slots, gpus: [] },
        running: [],
        agentVersion: "bench",
        instanceId: `bench-${workerId}`,
      },
    });
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.streams) s.cancel();
    for (const c of this.clients) c.close();
  }
}
