// TaskService clients for load generation: several channels (each its own HTTP/2 connection, as
// separate client processes would have), used round-robin, with promise-returning submits.
//
// Unary SubmitTask goes over plain HTTP/2 (raw-unary.ts: a lean client's cost) unless
// TASKGRID_BENCH_CLIENT=grpc-js; everything else through grpc-js.
import * as grpc from "@grpc/grpc-js";
import { SubmitTaskRequest, SubmitTaskResponse, TaskServiceClient } from "../../../src/gen/taskgrid/v1/task_service.js";
import { TaskSpec } from "../../../src/gen/taskgrid/v1/task.js";
import { grpcFrame, RawUnaryChannels } from "./raw-unary.js";

/** How the load generator sends unary submits: "http2" (default) or "grpc-js" (TASKGRID_BENCH_CLIENT). */
export type UnaryClient = "http2" | "grpc-js";

export function unaryClient(env: NodeJS.ProcessEnv = process.env): UnaryClient {
  const value = env.TASKGRID_BENCH_CLIENT ?? "http2";
  if (value !== "http2" && value !== "grpc-js") throw new Error(`TASKGRID_BENCH_CLIENT must be http2 or grpc-js (got ${value})`);
  return value;
}

/** How the method reads in the method sections of docs/benchmarks.md. */
export function unaryClientText(client: UnaryClient = unaryClient()): string {
  return client === "http2"
    ? "unary calls from a lean HTTP/2 client (node:http2, the request encoded once; TASKGRID_BENCH_CLIENT=grpc-js for grpc-js's client)"
    : "unary calls from grpc-js's client (TASKGRID_BENCH_CLIENT=grpc-js)";
}

const SUBMIT_TASK_PATH = "/taskgrid.v1.TaskService/SubmitTask";

/** A no-op task that fits anywhere: `true`, 0.1 core, 16 MiB. */
export const NOOP_SPEC: TaskSpec = TaskSpec.fromPartial({ name: "bench", command: ["true"], resources: { cpuMillis: 100, memoryMib: 16 } });

export class TaskClients {
  private readonly clients: TaskServiceClient[];
  private next = 0;
  private readonly metadata = new grpc.Metadata();
  private readonly raw: RawUnaryChannels | null;
  private readonly noopFrame = grpcFrame(SubmitTaskRequest.encode({ spec: NOOP_SPEC }).finish());

  /** `token`: sent as `authorization: Bearer <token>` on every call (a master with auth on). */
  constructor(address: string, channels: number, token?: string, client: UnaryClient = unaryClient()) {
    if (token) this.metadata.set("authorization", `Bearer ${token}`);
    this.raw = client === "http2" ? new RawUnaryChannels(address, channels, token) : null;
    // A local subchannel pool per client: otherwise grpc-js shares one connection among them.
    this.clients = Array.from(
      { length: channels },
      () => new TaskServiceClient(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
    );
  }

  private pick(): TaskServiceClient {
    const c = this.clients[this.next];
    this.next = (this.next + 1) % this.clients.length;
    return c;
  }

  /** SubmitTask; resolves with the task id once the master acknowledged (committed) it. */
  submit(spec: TaskSpec = NOOP_SPEC): Promise<string> {
    if (this.raw !== null) {
      const frame = spec === NOOP_SPEC ? this.noopFrame : grpcFrame(SubmitTaskRequest.encode({ spec }).finish());
      return this.raw.call(SUBMIT_TASK_PATH, frame).then((bytes) => SubmitTaskResponse.decode(bytes).task!.id);
    }
    return new Promise((resolve, reject) => this.pick().submitTask({ spec }, this.metadata, (err, res) => (err ? reject(err) : resolve(res!.task!.id))));
  }

  /** SubmitTasks (one all-or-nothing batch); resolves with the ids. */
  submitBatch(count: number, spec: TaskSpec = NOOP_SPEC): Promise<string[]> {
    const specs = Array.from({ length: count }, () => spec);
    return new Promise((resolve, reject) => this.pick().submitTasks({ specs }, this.metadata, (err, res) => (err ? reject(err) : resolve(res!.taskIds))));
  }

  /** Connects every channel (so connection setup is not part of a measurement). */
  async ready(): Promise<void> {
    const deadline = Date.now() + 10_000;
    await this.raw?.ready();
    await Promise.all(this.clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(deadline, (err) => (err ? reject(err) : resolve())))));
  }

  close(): void {
    this.raw?.close();
    for (const c of this.clients) c.close();
  }
}

/**
 * Closed loop: keeps `inFlight` unary submits outstanding until `stopAt` (performance.now() ms).
 * Returns the acknowledged ids in acknowledgement order, and how many calls failed.
 */
export async function closedLoopSubmits(
  clients: TaskClients,
  inFlight: number,
  stopAt: number,
  onAck?: (id: string) => void,
): Promise<{ acked: number; failed: number; firstError: string }> {
  let acked = 0;
  let failed = 0;
  let firstError = "";
  const worker = async () => {
    while (performance.now() < stopAt) {
      try {
        const id = await clients.submit();
        acked++;
        onAck?.(id);
      } catch (err) {
        failed++;
        firstError ||= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { acked, failed, firstError };
}
