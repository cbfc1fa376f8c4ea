// The gRPC server: Taskgrid services plus grpc.health.v1 and server reflection (so `buf curl`,
// grpcurl and Postman can discover the API without the .proto files).
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { AdminServiceService, type AdminServiceServer } from "../src/gen/taskgrid/v1/admin_service.js";
import { TaskServiceService, type TaskServiceServer } from "../src/gen/taskgrid/v1/task_service.js";
import { addReflection } from "./reflection.js";
import { WorkerServiceService, type WorkerServiceServer } from "../src/gen/taskgrid/v1/worker_service.js";

export const SERVICE_NAMES = ["taskgrid.v1.TaskService", "taskgrid.v1.WorkerService", "taskgrid.v1.AdminService"];

export interface TaskgridServer {
  server: grpc.Server;
  health: HealthImplementation;
  /** "host:port" actually bound. */
  address: string;
}

export async function startGrpcServer(
  listen: string,
  services: { tasks: TaskServiceServer; workers: WorkerServiceServer; admin: AdminServiceServer },
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<TaskgridServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    // Agents hold one stream for days; keepalive detects dead peers without waiting for TCP.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    // No channelz service is served, so its per-call bookkeeping (call counters, four closures per
    // call, a timestamp per message, agents' report streams included) is work for nobody.
    "grpc.enable_channelz": 0,
  });
  server.addService(TaskServiceService, services.tasks as unknown as grpc.UntypedServiceImplementation);
  server.addService(WorkerServiceService, services.workers as unknown as grpc.UntypedServiceImplementation);
  server.addService(AdminServiceService, services.admin as unknown as grpc.UntypedServiceImplementation);

  const health = new HealthImplementation({ "": "SERVING", ...Object.fromEntries(SERVICE_NAMES.map((n) => [n, "SERVING" as const])) });
  health.addToServer(server);
  addReflection(server);

  const port = await new Promise<number>((resolve, reject) => server.bindAsync(listen, credentials, (err, p) => (err ? reject(err) : resolve(p))));
  const host = listen.slice(0, listen.lastIndexOf(":"));
  return { server, health, address: `${host}:${port}` };
}

/** Graceful stop bounded by `timeoutMs`, then force. */
export async function stopGrpcServer(server: grpc.Server, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
