// One WorkerService.Connect stream to the master. A fresh client (with its own subchannel) per
// session, so a reconnect is not held back by a previous channel's internal backoff. `onClosed`
// fires exactly once, however the stream ends (master ended it, transport error, keepalive
// timeout, or our own close), with the leader's address when a standby master named it.
import * as grpc from "@grpc/grpc-js";
import { LEADER_METADATA_KEY } from "../src/core/errors.js";
import { WorkerServiceClient, type AgentMessage, type MasterMessage } from "../src/gen/taskgrid/v1/worker_service.js";

const CHANNEL_OPTIONS: grpc.ClientOptions = {
  // The stream lives for days and may idle between heartbeats: ping to detect a dead master
  // (or a silently dropped NAT mapping) within ~30 s instead of waiting for TCP timeouts.
  // The master (grpc-js) permits pings at this rate.
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.use_local_subchannel_pool": 1,
  // Nothing reads channelz here: no per-message timestamps and counters on the report stream.
  "grpc.enable_channelz": 0,
};

export interface MasterStreamHandlers {
  onMessage(message: MasterMessage): void;
  /**
   * `code`: the gRPC status the stream ended with (undefined when we closed it ourselves).
   * `leaderHint`: the leader's host:port from the status's trailing metadata (`taskgrid-leader`),
   * sent by a standby master or a leader stepping down; undefined when absent.
   */
  onClosed(reason: string, code?: grpc.status, leaderHint?: string): void;
}

export interface MasterStreamOptions {
  /** Default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** API token sent as `authorization: Bearer <token>` on the Connect call. */
  token?: string | null;
}

export class MasterStream {
  private readonly client: WorkerServiceClient;
  private readonly call: grpc.ClientDuplexStream<AgentMessage, MasterMessage>;
  private closed = false;
  private readonly statusReceived: Promise<void>;

  constructor(
    address: string,
    private readonly handlers: MasterStreamHandlers,
    options: MasterStreamOptions = {},
  ) {
    this.client = new WorkerServiceClient(address, options.credentials ?? grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const metadata = new grpc.Metadata();
    if (options.token) metadata.set("authorization", `Bearer ${options.token}`);
    this.call = this.client.connect(metadata);
    this.call.on("data", (message: MasterMessage) => {
      if (!this.closed) this.handlers.onMessage(message);
    });
    // grpc-js emits `error` (non-OK status) before `status`; both carry the trailing metadata.
    this.call.on("error", (err: grpc.ServiceError) =>
      this.markClosed(`${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`, err.code, leaderHintOf(err.metadata)),
    );
    this.statusReceived = new Promise((resolve) =>
      this.call.on("status", (s: grpc.StatusObject) => {
        this.markClosed(s.code === grpc.status.OK ? "master ended the stream" : `${grpc.status[s.code]}: ${s.details}`, s.code, leaderHintOf(s.metadata));
        resolve();
      }),
    );
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Writes one message; false when the stream is already closed (the caller buffers it). */
  send(message: AgentMessage): boolean {
    if (this.closed) return false;
    this.call.write(message);
    return true;
  }

  /** Clean shutdown: half-close, give the master `timeoutMs` to end the call, then cancel. */
  async end(timeoutMs = 2_000): Promise<void> {
    if (!this.closed) {
      this.call.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.statusReceived, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.close("agent closed the stream");
  }

  /** Immediate close (cancels the call). */
  close(reason: string): void {
    this.call.cancel();
    this.markClosed(reason);
  }

  private markClosed(reason: string, code?: grpc.status, leaderHint?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close(); // The call is over; release the channel (one per session).
    this.handlers.onClosed(reason, code, leaderHint);
  }
}

/** The `taskgrid-leader` value of trailing metadata, when there is a non-empty one. */
function leaderHintOf(metadata: grpc.Metadata | undefined): string | undefined {
  const value = metadata?.get(LEADER_METADATA_KEY)[0];
  const hint = typeof value === "string" ? value.trim() : "";
  return hint === "" ? undefined : hint;
}
