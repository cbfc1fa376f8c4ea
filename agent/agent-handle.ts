// What startAgent (agent.ts) hands its caller: the agent's public face, for the CLI and tests.
import type { AgentPhase } from "./agent-config.js";

export interface AgentHandle {
  readonly workerId: string;
  /** Resolves on the first `registered`; rejects if the agent is stopped before that. */
  readonly ready: Promise<void>;
  /** Kills running attempts (reported LOST, so the master retries them) and ends the stream cleanly. */
  stop(): Promise<void>;
  /** Takes no new work and waits (at most `timeoutMs`, default drainTimeoutMs) for running attempts. */
  drain(timeoutMs?: number): Promise<void>;
  /** Attempt ids currently running on this agent. */
  runningAttempts(): string[];
  phase(): AgentPhase;
  /** Sends one heartbeat now (the periodic loop calls the same). */
  heartbeatTick(): void;
}
