// A tiny real gRPC server implementing WorkerService.Connect with scripted behaviour, for agent
// tests: it records every agent message, answers `register` with `registered`, and lets the test
// push MasterMessages. It can also play a standby of an HA cluster (refusing every Connect with a
// status and a `taskgrid-leader` hint) or a leader of a given epoch. Real gRPC over loopback;
// nothing of grpc-js is mocked.
import * as grpc from "@grpc/grpc-js";
import { LEADER_METADATA_KEY } from "../../src/core/errors.js";
import { WorkerServiceService, type AgentMessage, type MasterMessage, type Register } from "../../src/gen/taskgrid/v1/worker_service.js";

type AgentBody = NonNullable<AgentMessage["body"]>;
type AgentKind = AgentBody["$case"];
type BodyOf<K extends AgentKind> = Extract<AgentBody, { $case: K }>["value"];
/** A received message body plus the session it came on. */
export type Received<K extends AgentKind> = BodyOf<K> & { session: number; seq: number };

/** A status to end a stream with, as a standby (or a leader stepping down) would. */
export interface RefusalStatus {
  code: grpc.status;
  details: string;
  /** Sent as `taskgrid-leader` trailing metadata; omitted: no leader known. */
  leader?: string;
}

export interface FakeMasterOptions {
  /** Port to bind on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Sent in `registered`. */
  heartbeatIntervalMs?: number;
  /** Lease granted in `registered` (0: none, the default, so a fake master never expires it). */
  leaseMs?: number;
  leaseGraceMs?: number;
  /** Registered.epoch (default 0); tests of the agent's epoch check change it per session. */
  epoch?: number;
  /** Attempt ids to put in `registered.kill_attempt_ids`. */
  killAttemptIds?: (register: Register) => string[];
  /** When false, `register` gets no answer (the test answers by hand). Default true. */
  answerRegister?: boolean;
  /** Written right after each `registered`, on the same stream (before the agent can answer). */
  afterRegistered?: () => Array<NonNullable<MasterMessage["body"]>>;
  /** Ends every Connect at once with this status (a standby); `refuseWith` can also be set later. */
  refuseWith?: RefusalStatus;
}

export interface ReceivedMessage {
  /** Position in `received`. */
  index: number;
  /** 1-based number of the stream (session) it arrived on. */
  session: number;
  message: AgentMessage;
}

/** Fails a wait that would otherwise hang the test run; never a timing assertion. */
const SAFETY_TIMEOUT_MS = 15_000;

export class FakeMaster {
  /** Every agent message, in arrival order. */
  readonly received: ReceivedMessage[] = [];
  private readonly unconsumed: ReceivedMessage[] = [];
  private readonly calls: Array<grpc.ServerDuplexStream<AgentMessage, MasterMessage>> = [];
  private waiters: Array<() => void> = [];
  /** Connects refused so far (they are not sessions: no message of theirs is recorded). */
  refused = 0;
  /** Refuse every new Connect with this status (a standby); null: accept. */
  refuseWith: RefusalStatus | null;

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
    private readonly options: FakeMasterOptions,
  ) {
    this.refuseWith = options.refuseWith ?? null;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Number of streams opened so far. */
  get sessions(): number {
    return this.calls.length;
  }

  static async start(options: FakeMasterOptions = {}): Promise<FakeMaster> {
    const server = new grpc.Server();
    let master: FakeMaster | null = null;
    server.addService(WorkerServiceService, {
      connect: (call: grpc.ServerDuplexStream<AgentMessage, MasterMessage>) => master!.onConnect(call),
    } as unknown as grpc.UntypedServiceImplementation);
    const port = await bindWithRetry(server, options.port ?? 0);
    master = new FakeMaster(server, port, options);
    return master;
  }

  /**
   * Waits for (and consumes) the next message of `kind` that matches `where`, among those received
   * at or after position `after` of `received`.
   */
  async next<K extends AgentKind>(kind: K, where: (value: BodyOf<K>) => boolean = () => true, after = 0): Promise<Received<K>> {
    const deadline = Date.now() + SAFETY_TIMEOUT_MS;
    for (;;) {
      const i = this.unconsumed.findIndex((r) => r.index >= after && r.message.body?.$case === kind && where(r.message.body.value as BodyOf<K>));
      if (i >= 0) {
        const [r] = this.unconsumed.splice(i, 1);
        return { ...r.message.body!.value, session: r.session, seq: r.message.seq } as unknown as Received<K>;
      }
      if (Date.now() > deadline) throw new Error(`fake master: no ${kind} message arrived`);
      await this.nextEvent();
    }
  }

  /** Resolves on the next message or refusal (or after the safety timeout). */
  private nextEvent(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SAFETY_TIMEOUT_MS);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Messages of `kind` received so far (consumed or not). */
  all<K extends AgentKind>(kind: K): Array<BodyOf<K>> {
    return this.received.filter((r) => r.message.body?.$case === kind).map((r) => r.message.body!.value as BodyOf<K>);
  }

  /**
   * Ends every open stream: status OK as a master that closes its sessions, or `status` (with
   * its leader hint) as a leader stepping down.
   */
  endStreams(status?: RefusalStatus): void {
    for (const call of this.calls) {
      if (status === undefined) call.end();
      else call.emit("error", statusError(status));
    }
  }

  /** Resolves once `n` Connects have been refused in all. */
  async refusedAtLeast(n: number): Promise<void> {
    const deadline = Date.now() + SAFETY_TIMEOUT_MS;
    while (this.refused < n) {
      if (Date.now() > deadline) throw new Error(`fake master: fewer than ${n} connects refused`);
      await this.nextEvent();
    }
  }

  /** Sends to the newest open stream. */
  send(body: NonNullable<MasterMessage["body"]>): void {
    const call = this.calls.at(-1);
    if (!call) throw new Error("fake master: no agent connected");
    call.write({ body });
  }

  /** Hard stop, like a crashed master: every stream breaks. */
  async stop(): Promise<void> {
    for (const call of this.calls) call.removeAllListeners("data");
    this.server.forceShutdown();
    this.wake();
  }

  private onConnect(call: grpc.ServerDuplexStream<AgentMessage, MasterMessage>): void {
    if (this.refuseWith !== null) {
      call.on("error", () => {});
      call.emit("error", statusError(this.refuseWith));
      this.refused++;
      this.wake();
      return;
    }
    this.calls.push(call);
    const session = this.calls.length;
    call.on("data", (message: AgentMessage) => {
      const received = { index: this.received.length, session, message };
      this.received.push(received);
      this.unconsumed.push(received);
      if (message.body?.$case === "register" && this.options.answerRegister !== false) {
        const register = message.body.value;
        call.write({
          body: {
            $case: "registered",
            value: {
              workerId: register.workerId,
              heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 3_000,
              killAttemptIds: this.options.killAttemptIds?.(register) ?? [],
              leaseMs: this.options.leaseMs ?? 0,
              leaseGraceMs: this.options.leaseGraceMs ?? 0,
              epoch: this.options.epoch ?? 0,
            },
          },
        });
        for (const body of this.options.afterRegistered?.() ?? []) call.write({ body });
      }
      this.wake();
    });
    call.on("end", () => call.end());
    call.on("error", () => {});
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }
}

/** The error object a grpc-js server call ends with: status, details and trailing metadata. */
function statusError(status: RefusalStatus): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (status.leader !== undefined) metadata.set(LEADER_METADATA_KEY, status.leader);
  return { code: status.code, details: status.details, metadata };
}

/** Binds 127.0.0.1:port; a port just released by a stopped server can take a moment to free. */
async function bindWithRetry(server: grpc.Server, port: number): Promise<number> {
  for (let tries = 0; ; tries++) {
    try {
      return await new Promise<number>((resolve, reject) =>
        server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
      );
    } catch (err) {
      if (tries >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
