// Starts an attempt's command: through the agent's launcher (agent/launcher/: no fork of the
// agent, CPU time and max RSS from wait4) when it has one, else directly with Node's spawn (the
// whole agent forks; no usage figures). Either way the command leads its own process group and
// session, so signals to the group reach all it forks. Both paths report the same events.
import { spawn } from "node:child_process";
import { flattenEnv } from "./attempt-env.js";
import type { SpawnSpec } from "./launcher/frames.js";
import type { LauncherClient } from "./launcher/launcher-client.js";
import type { LogStreamName } from "./log-files.js";
import type { AttemptUsage } from "./rusage.js";

export type { SpawnSpec } from "./launcher/frames.js";

/** What an attempt's process tells the executor, in this order: started or startFailed, then output, exited and closed. */
export interface AttemptProcessEvents {
  /**
   * The command was exec'ed: it runs, and its group (pgid == pid) can be signalled. `startTime`:
   * field 22 of its /proc stat when the launcher read it (null: unknown, the lease file reads it).
   */
  started(pid: number, startTime: string | null): void;
  /** It could not be (message as Node's spawn words it: "spawn <argv0> ENOENT"). */
  startFailed(message: string): void;
  output(stream: LogStreamName, chunk: Buffer): void;
  /** No more output on this stream. */
  streamEnded(stream: LogStreamName): void;
  /**
   * The command ended; its stdio may still be held open by something it left behind. Usage: null
   * unmeasured; else brought up to date in place until closed(), as processes it left behind end
   * (agent/rusage.ts): read it when the attempt ends, not now.
   */
  exited(code: number | null, signal: NodeJS.Signals | null, usage: AttemptUsage | null): void;
  /** Exited, and both streams ended. */
  closed(): void;
  /**
   * The launcher died before the attempt ended: neither its exit nor its output can come any more.
   * `retryable`: the launcher had not read the request yet, so nothing was started.
   */
  lost(message: string, retryable: boolean): void;
}

/** The executor's handle on a started attempt's process. */
export interface AttemptProcess {
  /** Stop reading this stream for now (the attempt's log file is behind; the task then waits). */
  pause(stream: LogStreamName): void;
  resume(stream: LogStreamName): void;
  /** The attempt is over for the executor: stop reading its output. */
  release(): void;
}

/** Through the launcher unless there is none (or it failed to start again and again). Throws on a NUL byte in the spec. */
export function startAttemptProcess(launcher: LauncherClient | null, spec: SpawnSpec, events: AttemptProcessEvents): AttemptProcess {
  return launcher && !launcher.broken ? launcher.launch(spec, events) : spawnDirect(spec, events);
}

/** Node's spawn, detached (setsid). Throws where spawn does synchronously (for example an argument with a NUL byte). */
export function spawnDirect(spec: SpawnSpec, events: AttemptProcessEvents): AttemptProcess {
  const child = spawn(spec.argv[0], spec.argv.slice(1), { cwd: spec.cwd, env: flattenEnv(spec.env), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let started = false;
  child.once("spawn", () => {
    started = true;
    events.started(child.pid ?? 0, null);
  });
  // Before 'spawn' this means the process never ran (ENOENT, EACCES); later errors would come from
  // signalling it through `child`, which nothing does (signals go to the group).
  child.on("error", (err) => {
    if (!started) events.startFailed(err.message);
  });
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream].on("data", (chunk: Buffer) => events.output(stream, chunk));
    child[stream].on("end", () => events.streamEnded(stream));
  }
  child.once("exit", (code, signal) => {
    if (started) events.exited(code, signal, null);
  });
  child.once("close", () => {
    if (started) events.closed();
  });
  return {
    pause: (stream) => child[stream].pause(),
    resume: (stream) => child[stream].resume(),
    release() {
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
}
