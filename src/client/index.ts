// Public entry of the typed Taskgrid client.
export { authorizationValue, createClient, DEFAULT_DEADLINE_MS, DEFAULT_MASTER_ADDRESS } from "./client.js";
export type { ClientOptions, SubmitResult, TaskgridClient, TaskSpecInput, TaskWithEvents } from "./client.js";
export { ClientError, codeName, toClientError } from "./errors.js";
export type { TaskWatch } from "./task-watch.js";
export type { LogStreamCall } from "./log-stream.js";
export { channelCredentials, TlsFileError } from "./tls.js";
export type { ClientTlsOptions } from "./tls.js";
