// A fake master that refuses every TaskService and AdminService call the way a standby (or a
// master between terms) does: UNAVAILABLE, with the leader's address in the `taskgrid-leader`
// trailing metadata when it names one. It counts the calls it gets. For the client, CLI and Python
// failover tests; the real standby is tested in test/integration/ha-masters.test.ts.
import * as grpc from "@grpc/grpc-js";
import { createServer } from "node:net";
import { LEADER_METADATA_KEY } from "../../src/core/errors.js";
import { AdminServiceService } from "../../src/gen/taskgrid/v1/admin_service.js";
import { TaskServiceService, type WatchTasksResponse } from "../../src/gen/taskgrid/v1/task_service.js";

const UNAVAILABLE = grpc.status.UNAVAILABLE;

/** How a fake master answers: a status (and leader hint), plus events to stream before it. */
export interface Refusal {
  details: string;
  /** Sent as `taskgrid-leader` trailing metadata; undefined: none. */
  leader?: string;
  /** WatchTasks only: written before the refusal (a leader that steps down mid-watch). */
  eventsFirst?: WatchTasksResponse[];
  /**
   * Unary methods answered instead of refused, as a real standby answers reads from the database
   * (e.g. `listTasks: { tasks: [], nextPageToken: "" }`); the rest are refused.
   */
  answers?: Record<string, unknown>;
}

/** A gRPC server with both client services, refusing every call the way `refusal` says. */
export class FakeMaster {
  /** Calls received, by method name ("submitTask", "watchTasks", ...). */
  readonly calls = new Map<string, number>();

  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
    public refusal: Refusal,
  ) {}

  static async start(refusal: Refusal): Promise<FakeMaster> {
    const server = new grpc.Server();
    let fake: FakeMaster | undefined;
    for (const service of [TaskServiceService, AdminServiceService]) {
      const handlers: grpc.UntypedServiceImplementation = {};
      for (const [name, method] of Object.entries(service)) {
        handlers[name] = method.responseStream
          ? (call: grpc.ServerWritableStream<unknown, WatchTasksResponse>) => {
              fake!.count(name);
              for (const response of fake!.refusal.eventsFirst ?? []) call.write(response);
              call.emit("error", fake!.status());
            }
          : (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
              fake!.count(name);
              const answer = fake!.refusal.answers?.[name];
              if (answer !== undefined) callback(null, answer);
              else callback(fake!.status());
            };
      }
      server.addService(service as unknown as grpc.ServiceDefinition, handlers);
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    fake = new FakeMaster(server, `127.0.0.1:${port}`, refusal);
    return fake;
  }

  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  get totalCalls(): number {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }

  private status(): Partial<grpc.StatusObject> {
    const metadata = new grpc.Metadata();
    if (this.refusal.leader !== undefined) metadata.set(LEADER_METADATA_KEY, this.refusal.leader);
    return { code: UNAVAILABLE, details: this.refusal.details, metadata };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

/** What a standby answers, naming `leader` (or no one, between terms). */
export function standbyOf(leader: string | undefined): Refusal {
  return leader === undefined
    ? { details: "this master is a standby and no leader is known right now; retry shortly" }
    : { details: `this master is a standby; the leader is at ${leader}`, leader };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
