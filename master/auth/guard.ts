// The one place where calls are authenticated and authorized (DESIGN §10). Every handler of every
// Taskgrid service is wrapped before it is added to the server: the wrapper finds the caller
// (authenticator.ts; everyone is OPEN_ACCESS when auth is off), checks the RPC's rule from the core
// table (src/core/access.ts), and only then runs the handler, which reads the caller with
// `callerOf(call)` for project scoping. A method without a rule fails the master's start, so a new
// RPC cannot ship unguarded. Streams of a token are ended when the token is revoked or expires.
import type * as grpc from "@grpc/grpc-js";
import { authorize, OPEN_ACCESS, RPC_RULES, type Caller } from "../../src/core/access.js";
import { toServiceError } from "../grpc-errors.js";
import type { Logger } from "../logger.js";
import type { Authenticator } from "./authenticator.js";

/**
 * Where the guard leaves a call's caller: a property of the call object under a symbol of this
 * module, which dies with the call. (A WeakMap of every call held ~1% of the master's CPU in the
 * unary submit bench's profile, in its own time.)
 */
const CALLER = Symbol("taskgrid.caller");
type WithCaller = { [CALLER]?: Caller };

/** The caller of a call admitted by the guard. Throws for a call that did not pass it (a wiring bug). */
export function callerOf(call: object): Caller {
  const caller = (call as WithCaller)[CALLER];
  if (!caller) throw new Error("call reached a handler without passing the auth guard");
  return caller;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;
type AnyHandler = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => void;

export class AuthGuard {
  /** `authenticator` null: auth is off and every call is OPEN_ACCESS. */
  constructor(
    private readonly authenticator: Authenticator | null,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.authenticator !== null;
  }

  /** The service implementation with every handler behind the guard. */
  wrap<Impl extends object>(definition: grpc.ServiceDefinition, impl: Impl): Impl {
    const wrapped: Record<string, AnyHandler> = {};
    for (const [name, handler] of Object.entries(impl) as Array<[string, AnyHandler]>) {
      const method = definition[name];
      if (!method) throw new Error(`${name} is not a method of the service`);
      const rule = RPC_RULES[method.path];
      if (!rule) throw new Error(`no access rule for ${method.path} (add it to RPC_RULES in src/core/access.ts)`);
      const streaming = method.requestStream || method.responseStream;
      wrapped[name] = (call, callback) => {
        const admitted = (caller: Caller) => {
          (call as WithCaller)[CALLER] = caller;
          if (streaming) this.endWhenTokenStops(call, caller, method.path);
          handler(call, callback);
        };
        const refused = (err: unknown) => {
          const status = toServiceError(err, this.log, method.path);
          if (callback) callback(status as grpc.ServiceError, null);
          else call.emit("error", status);
        };
        // A handler that throws synchronously is answered like a refusal, never left unhandled.
        const run = (caller: Caller) => {
          try {
            admitted(caller);
          } catch (err) {
            refused(err);
          }
        };
        try {
          const caller = this.admit(call, method.path, rule);
          if (caller instanceof Promise) void caller.then(run, refused);
          else run(caller);
        } catch (err) {
          refused(err);
        }
      };
    }
    return wrapped as Impl;
  }

  private admit(call: AnyCall, path: string, rule: (typeof RPC_RULES)[string]): Caller | Promise<Caller> {
    if (!this.authenticator || rule === "public") return OPEN_ACCESS;
    // Node's HTTP/2 server keeps only the first of repeated `authorization` headers, so one value
    // is all that reaches here; a non-string one would be malformed, not missing.
    const [first] = call.metadata.get("authorization");
    const value = first === undefined ? undefined : typeof first === "string" ? first : "(binary value)";
    const caller = this.authenticator.authenticate(value, peerOf(call));
    if (caller instanceof Promise) return caller.then((c) => (authorize(c, path, rule), c));
    authorize(caller, path, rule);
    return caller;
  }

  private endWhenTokenStops(call: AnyCall, caller: Caller, path: string): void {
    if (!this.authenticator) return;
    const untrack = this.authenticator.track(caller, (reason) => {
      this.log.info("stream ended: its token stopped working", { method: path, token: caller.tokenId, reason: reason.reason });
      call.emit("error", toServiceError(reason, this.log, path));
    });
    for (const event of ["close", "cancelled", "error", "finish"]) (call as NodeJS.EventEmitter).once(event, untrack);
  }
}

function peerOf(call: AnyCall): string {
  try {
    return call.getPeer();
  } catch {
    return "unknown";
  }
}
