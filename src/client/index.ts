// Public entry of the typed Taskgrid client.
export { createClient, DEFAULT_DEADLINE_MS, DEFAULT_MASTER_ADDRESS } from "./client.js";
export type { ClientOptions, SubmitResult, TaskgridClient, TaskSpecInput } from "./client.js";
export { ClientError, codeName, toClientError } from "./errors.js";
export type { TaskWatch } from "./task-watch.js";
