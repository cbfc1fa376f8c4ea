// TaskService clients for load generation: several channels (each its own HTTP/2 connection, as
// separate client processes would have), used round-robin, with promise-returning submits.
import * as grpc from "@grpc/grpc-js";
import { TaskServiceClient } from "../../../src/gen/taskgrid/v1/task_service.js";
import { TaskSpec } from "../../../src/gen/taskgrid/v1/task.js";

/** A no-op task that fits anywhere: `true`, 0.1 core, 16 MiB. */
export const NOOP_SPEC: TaskSpec = TaskSpec.fromPartial({ name: "bench", command: ["true"], resources: { cpuMillis: 100, memoryMib: 16 } });

export class TaskClients {
  private readonly clients: TaskServiceClient[];
  private next = 0;
  private readonly metadata = new grpc.Metadata();

  /** `token`: sent as `authorization: Bearer <token>` on every call (a master with auth on). */
  constructor(address: string, channels: number, token?: string) {
    if (token) this.metadata.set("authorization", `Bearer ${token}`);
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
    await Promise.all(this.clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(deadline, (err) => (err ? reject(err) : resolve())))));
  }

  close(): void {
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
