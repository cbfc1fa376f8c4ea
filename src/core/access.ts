// Who may do what (DESIGN §10): roles, the permission each RPC needs, and project visibility.
// Pure: the master's auth guard (master/auth/guard.ts) asks these questions on every call, and the
// role x RPC table in docs/api.md is this file in words.
import { PermissionDeniedError } from "./errors.js";

export const ROLES = ["viewer", "submitter", "admin", "agent"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * What an RPC touches. `tasks.read`/`tasks.write` are further limited to the caller's project by
 * the handlers (another project's task is NOT_FOUND); the others are cluster-wide.
 */
export type Permission = "tasks.read" | "tasks.write" | "cluster.read" | "cluster.write" | "tokens" | "worker.connect" | "self";

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(["tasks.read", "cluster.read", "self"]),
  submitter: new Set(["tasks.read", "tasks.write", "cluster.read", "self"]),
  admin: new Set(["tasks.read", "tasks.write", "cluster.read", "cluster.write", "tokens", "worker.connect", "self"]),
  agent: new Set(["worker.connect", "self"]),
};

/** "public": served to anyone, even with auth on (health checks, reflection of the public API). */
export type RpcRule = Permission | "public";

/**
 * The rule of every RPC the master serves, by full method path. The guard refuses to start a server
 * with a method missing here, so a new RPC cannot ship unguarded.
 */
export const RPC_RULES: Readonly<Record<string, RpcRule>> = {
  "/taskgrid.v1.TaskService/SubmitTask": "tasks.write",
  "/taskgrid.v1.TaskService/SubmitTasks": "tasks.write",
  "/taskgrid.v1.TaskService/GetTask": "tasks.read",
  "/taskgrid.v1.TaskService/ListTasks": "tasks.read",
  "/taskgrid.v1.TaskService/WatchTasks": "tasks.read",
  "/taskgrid.v1.TaskService/CancelTask": "tasks.write",
  "/taskgrid.v1.TaskService/PauseTask": "tasks.write",
  "/taskgrid.v1.TaskService/ResumeTask": "tasks.write",
  "/taskgrid.v1.TaskService/HoldTask": "tasks.write",
  "/taskgrid.v1.TaskService/ReleaseTask": "tasks.write",
  "/taskgrid.v1.TaskService/StreamLogs": "tasks.read",
  "/taskgrid.v1.TaskService/ListHistory": "tasks.read",
  "/taskgrid.v1.WorkerService/Connect": "worker.connect",
  "/taskgrid.v1.AdminService/ListWorkers": "cluster.read",
  "/taskgrid.v1.AdminService/GetWorker": "cluster.read",
  "/taskgrid.v1.AdminService/GetSchedulerInfo": "cluster.read",
  "/taskgrid.v1.AdminService/DrainWorker": "cluster.write",
  "/taskgrid.v1.AdminService/UndrainWorker": "cluster.write",
  "/taskgrid.v1.AdminService/CreateToken": "tokens",
  "/taskgrid.v1.AdminService/ListTokens": "tokens",
  "/taskgrid.v1.AdminService/RevokeToken": "tokens",
  "/taskgrid.v1.AdminService/WhoAmI": "self",
  "/taskgrid.v1.AdminService/SetQuota": "cluster.write",
  "/taskgrid.v1.AdminService/ListQuotas": "cluster.read",
  "/taskgrid.v1.AdminService/DeleteQuota": "cluster.write",
  "/taskgrid.v1.AdminService/GetShares": "cluster.read",
  "/grpc.health.v1.Health/Check": "public",
  "/grpc.health.v1.Health/Watch": "public",
  "/grpc.health.v1.Health/List": "public",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": "public",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": "public",
};

/** The identity behind a call. With auth off every call is `OPEN_ACCESS`. */
export interface Caller {
  /** Token id; null when auth is off. */
  tokenId: string | null;
  role: Role;
  /** The caller's project; null means every project (admins, and everyone when auth is off). */
  project: string | null;
  /** Agent tokens: worker ids it may register as ("" = any). */
  workerPattern: string;
  /** Recorded in the events this caller causes (audit); "" when auth is off. */
  actor: string;
}

export const OPEN_ACCESS: Caller = { tokenId: null, role: "admin", project: null, workerPattern: "", actor: "" };

/** The actor of events the master causes on its own (placement, liveness, timeouts) when auth is on. */
export const MASTER_ACTOR = "master";

export function actorOf(token: { id: string; name: string }): string {
  return `token ${token.id} (${token.name})`;
}

export function allows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

/** Throws PermissionDeniedError unless the caller's role grants the RPC's rule. */
export function authorize(caller: Caller, method: string, rule: RpcRule): void {
  if (rule === "public" || allows(caller.role, rule)) return;
  throw new PermissionDeniedError(`role ${caller.role} may not call ${method.slice(method.lastIndexOf("/") + 1)}`);
}

/** Whether the caller may see a task of `project` (others' tasks are answered as NOT_FOUND). */
export function seesProject(caller: Caller, project: string): boolean {
  return caller.project === null || caller.project === project;
}

/**
 * The project a submitted task lands in: the caller's own when the spec leaves it empty; another
 * project only for callers of every project.
 */
export function submitProject(caller: Caller, requested: string, field: string): string {
  if (caller.project === null || requested === caller.project) return requested;
  if (requested === "") return caller.project;
  throw new PermissionDeniedError(`${field}: a token of project ${JSON.stringify(caller.project)} may not submit to project ${JSON.stringify(requested)}`);
}

/** The project filter of a list or watch: a caller of one project sees only that project. */
export function visibleProjectFilter(caller: Caller, requested: string): { project: string; empty: boolean } {
  if (caller.project === null) return { project: requested, empty: false };
  if (requested === "" || requested === caller.project) return { project: caller.project, empty: false };
  return { project: requested, empty: true };
}

/** Worker-id patterns: `*` matches any run of characters, everything else itself; "" matches any id. */
export function workerIdAllowed(pattern: string, workerId: string): boolean {
  if (pattern === "") return true;
  const parts = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`, "s").test(workerId);
}
