// Wraps promise-returning handlers into grpc-js callbacks, mapping errors in one place. The call
// has already passed the auth guard (master/auth/guard.ts), which is where `caller` comes from.
import type { Metadata, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import type { Caller } from "../../src/core/access.js";
import { UnavailableError } from "../../src/core/errors.js";
import { callerOf } from "../auth/guard.js";
import { toServiceError } from "../grpc-errors.js";
import type { Logger } from "../logger.js";

export interface CallContext {
  metadata: Metadata;
  caller: Caller;
}

export function unary<Req, Res>(log: Logger, name: string, isAccepting: () => boolean, fn: (req: Req, ctx: CallContext) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const run = async () => {
      if (!isAccepting()) throw new UnavailableError("master is shutting down");
      return fn(call.request, { metadata: call.metadata, caller: callerOf(call) });
    };
    run().then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err, log, name) as never, null),
    );
  };
}
