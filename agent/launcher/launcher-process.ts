// One running launcher (launcher-source.ts): the python3 child, the requests written to it, and
// its replies dispatched to each attempt's events. When it dies, every attempt it still had is
// told (lost) once all it wrote before dying was read; the LauncherClient then starts another.
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import type { Socket } from "node:net";
import type { LogStreamName } from "../log-files.js";
import type { AttemptProcess, AttemptProcessEvents } from "../spawn-attempt.js";
import type { AttemptUsage } from "../rusage.js";
import { decodeExit, decodeUsage, encodeFrame, encodeSpawn, FrameReader, Reply, Request, STREAM_CODES, type SpawnSpec } from "./frames.js";
import { LAUNCHER_PROCESS_MARK, LAUNCHER_SOURCE } from "./launcher-source.js";

/** Signal numbers to the names Node gives them (the first name of a number: SIGABRT, not SIGIOT). */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(constants.signals)) if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name as NodeJS.Signals);

/** One attempt started through the launcher, until it closed or was released. */
interface Launched {
  argv0: string;
  events: AttemptProcessEvents;
  openStreams: number;
  exited: boolean;
  /** Given to `exited` and brought up to date in place by USAGE frames until the attempt closed. */
  usage: AttemptUsage | null;
}

export interface LauncherProcessHooks {
  /** It said READY: it reads requests. */
  ready(): void;
  /** It is gone (`wasReady`: it had said READY); called before the attempts are told. */
  died(wasReady: boolean): void;
}

export class LauncherProcess {
  private readonly child: ChildProcess;
  private readonly attempts = new Map<number, Launched>();
  /** Handles of SPAWN requests sent whose STARTED or FAILED has not come yet. */
  private readonly unstarted = new Set<number>();
  private nextHandle = 1;
  private ready = false;
  private dead = false;
  private referenced = true;
  private corked = false;
  private stderrTail = "";

  constructor(
    private readonly python: string,
    private readonly hooks: LauncherProcessHooks,
  ) {
    // Detached: a Ctrl-C or SIGSTOP meant for the agent's terminal group must not reach it (the
    // agent outlives a SIGINT to stop its attempts gracefully, and needs the launcher for that).
    // -I: no PYTHON* variables or user site; -S: no site import (faster). Its env is empty: each
    // command gets the env of its request.
    // The trailing argument (unread by the source) names the process in `ps` and for the benchmarks.
    this.child = spawn(python, ["-I", "-S", "-c", LAUNCHER_SOURCE, LAUNCHER_PROCESS_MARK], { stdio: ["pipe", "pipe", "pipe"], detached: true, env: {} });
    const reader = new FrameReader((type, handle, payload) => this.frame(type, handle, payload));
    this.child.stdout!.on("data", (chunk: Buffer) => reader.push(chunk));
    this.child.stderr!.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
    });
    this.child.stdin!.on("error", () => {}); // EPIPE once it died: 'close' below reports the death.
    this.child.on("error", (err) => {
      if (this.child.pid === undefined) this.died(`could not be started (${err.message})`);
    });
    // 'close': it exited and its stdout was read to the end, so every reply it wrote was handled.
    this.child.once("close", (code, signal) => this.died(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    this.setReferenced(false);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Commands asked for and not started yet: how far behind this launcher is (LauncherClient picks by it). */
  get waitingToStart(): number {
    return this.unstarted.size;
  }

  launch(spec: SpawnSpec, events: AttemptProcessEvents): AttemptProcess {
    const payload = encodeSpawn(spec); // Throws on a NUL byte, before anything is registered.
    const handle = this.nextHandle;
    this.nextHandle = this.nextHandle >= 0xffff_ffff ? 1 : this.nextHandle + 1;
    this.attempts.set(handle, { argv0: spec.argv[0], events, openStreams: 2, exited: false, usage: null });
    this.unstarted.add(handle);
    this.setReferenced(true);
    this.send(Request.spawn, handle, payload);
    const streamFrame = (type: number, stream: LogStreamName) => {
      if (this.attempts.has(handle)) this.send(type, handle, Buffer.of(STREAM_CODES[stream]));
    };
    return {
      pause: (stream) => streamFrame(Request.pause, stream),
      resume: (stream) => streamFrame(Request.resume, stream),
      release: () => {
        if (!this.attempts.delete(handle)) return;
        this.send(Request.release, handle, Buffer.alloc(0));
        this.idleCheck();
      },
    };
  }

  /** Ends its stdin: it exits (attempts it still runs are orphaned, as when the agent dies). */
  close(): void {
    this.child.stdin!.end();
  }

  private send(type: number, handle: number, payload: Buffer): void {
    if (this.dead) return;
    const stdin = this.child.stdin!;
    // Requests made in one turn of the event loop go out in one write.
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      process.nextTick(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    stdin.write(encodeFrame(type, handle, payload));
  }

  private frame(type: number, handle: number, payload: Buffer): void {
    if (type === Reply.ready) {
      this.ready = true;
      this.hooks.ready();
      return;
    }
    if (type === Reply.started || type === Reply.failed) this.unstarted.delete(handle);
    const attempt = this.attempts.get(handle);
    if (!attempt) return; // Released: its late output and exit are not wanted.
    const { events } = attempt;
    switch (type) {
      case Reply.started:
        events.started(payload.readUInt32LE(0), payload.length > 4 ? payload.toString("latin1", 4) : null);
        break;
      case Reply.failed:
        this.attempts.delete(handle);
        this.idleCheck();
        events.startFailed(`spawn ${attempt.argv0} ${payload.toString()}`);
        break;
      case Reply.stdout:
        events.output("stdout", payload);
        break;
      case Reply.stderr:
        events.output("stderr", payload);
        break;
      case Reply.eof:
        attempt.openStreams--;
        events.streamEnded(payload[0] === STREAM_CODES.stdout ? "stdout" : "stderr");
        this.maybeClosed(handle, attempt);
        break;
      case Reply.exit: {
        const figures = decodeExit(payload);
        attempt.exited = true;
        const signal = figures.signal === 0 ? null : (SIGNAL_NAMES.get(figures.signal) ?? (`SIG${figures.signal}` as NodeJS.Signals));
        attempt.usage = { cpuTimeMs: figures.cpuTimeMs, maxRssKib: figures.maxRssKib };
        events.exited(signal ? null : figures.code, signal, attempt.usage);
        this.maybeClosed(handle, attempt);
        break;
      }
      case Reply.usage:
        // Descendants that outlived the command (orphans the launcher reaped), counted into the
        // figures the executor reads when the attempt ends (launcher-source.ts).
        if (attempt.usage) Object.assign(attempt.usage, decodeUsage(payload));
        break;
    }
  }

  private maybeClosed(handle: number, attempt: Launched): void {
    if (!attempt.exited || attempt.openStreams > 0 || this.attempts.get(handle) !== attempt) return;
    this.attempts.delete(handle);
    this.idleCheck();
    attempt.events.closed();
  }

  private died(how: string): void {
    if (this.dead) return;
    this.dead = true;
    const wasReady = this.ready;
    this.hooks.died(wasReady);
    const last = this.stderrTail.trim().split("\n").pop();
    const message = `the agent's launcher (${this.python}, pid ${this.pid}) ${how}${last ? `: ${last}` : ""}`;
    const lost = [...this.attempts.values()];
    this.attempts.clear();
    this.setReferenced(false);
    for (const attempt of lost) attempt.events.lost(message, !wasReady);
  }

  private idleCheck(): void {
    if (this.attempts.size === 0) this.setReferenced(false);
  }

  /** Referenced only while attempts run: an idle launcher must not keep the agent's process alive. */
  private setReferenced(on: boolean): void {
    if (on === this.referenced) return;
    this.referenced = on;
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as Array<Pick<Socket, "ref" | "unref"> | null>;
    for (const h of handles) {
      if (on) h?.ref();
      else h?.unref();
    }
  }
}
