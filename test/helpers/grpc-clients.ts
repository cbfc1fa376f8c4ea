// Raw generated gRPC clients for service tests (the typed src/client wrapper is tested separately).
import * as grpc from "@grpc/grpc-js";
import * as adminPb from "../../src/gen/taskgrid/v1/admin_service.js";
import * as taskPb from "../../src/gen/taskgrid/v1/task_service.js";
import { AdminServiceClient } from "../../src/gen/taskgrid/v1/admin_service.js";
import { TaskServiceClient } from "../../src/gen/taskgrid/v1/task_service.js";

/** Request message types by method name, so tests can pass partial objects (fromPartial fills defaults). */
function requestType(method: string): { fromPartial(o: unknown): unknown } {
  const name = `${method[0].toUpperCase() + method.slice(1)}Request`;
  const t = (taskPb as Record<string, unknown>)[name] ?? (adminPb as Record<string, unknown>)[name];
  if (!t) throw new Error(`no request type ${name}`);
  return t as { fromPartial(o: unknown): unknown };
}

export interface RawClients {
  tasks: TaskServiceClient;
  admin: AdminServiceClient;
  close(): void;
}

/** With `token` (auth on), every call carries the metadata `authorization: Bearer <token>`. */
export function rawClients(address: string, token?: string): RawClients {
  const creds = grpc.credentials.createInsecure();
  const options: grpc.ClientOptions = token === undefined ? {} : { interceptors: [bearerInterceptor(token)] };
  const tasks = new TaskServiceClient(address, creds, options);
  const admin = new AdminServiceClient(address, creds, options);
  return { tasks, admin, close: () => (tasks.close(), admin.close()) };
}

/** Adds `authorization: Bearer <token>` to every call of a client. */
export function bearerInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/** Promisifies a unary call of a generated client: `await call(c.tasks, "getTask", { taskId })`. */
export function call<C extends grpc.Client, M extends keyof C>(client: C, method: M, request: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    (client[method] as any).call(client, requestType(String(method)).fromPartial(request), (err: grpc.ServiceError | null, res: unknown) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** Awaits a rejected call and returns its gRPC status error. */
export async function callError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

/** Watches the task until an event reaches `state`, then returns the task as GetTask has it. */
export async function waitForState(c: RawClients, taskId: string, state: number): Promise<any> {
  const stream = c.tasks.watchTasks(taskPb.WatchTasksRequest.fromPartial({ taskIds: [taskId] }));
  try {
    for await (const msg of stream as AsyncIterable<taskPb.WatchTasksResponse>) if (msg.event?.state === state) break;
  } finally {
    stream.cancel();
  }
  return (await call(c.tasks, "getTask", { taskId })).task;
}
