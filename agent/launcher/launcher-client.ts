// The agent's launchers (issue 18): long-lived python3 processes that start every attempt's
// command (launcher-source.ts), started as attempts come and started again after one died. A
// launcher that dies before it ever said READY had read no request, so its attempts are retried
// (the executor does it, on `lost(.., retryable)`); after MAX_FAILED_STARTS such deaths in a row
// the agent stops trying and spawns commands directly (`broken`).
//
// Why more than one: a launcher starts commands one after another, and while each one execs the
// launcher waits (vfork), so on a busy machine one launcher tops out near 1,000 commands a second.
// Measured in the processes bench with 128 slots (AMD EPYC, 2 cores): a command waited p50 105 ms
// between the agent's request and its start behind one launcher, 35 ms behind two. So a second
// launcher (up to one per core, at most MAX_LAUNCHERS) starts only when every running one already
// has SPILL_AT commands waiting; a light load stays on one.
import { availableParallelism } from "node:os";
import type { AttemptProcess, AttemptProcessEvents } from "../spawn-attempt.js";
import type { SpawnSpec } from "./frames.js";
import { LauncherProcess } from "./launcher-process.js";

const MAX_FAILED_STARTS = 3;
const MAX_LAUNCHERS = 4;
const SPILL_AT = 2;

export class LauncherClient {
  /** The launchers running, oldest first. */
  private readonly running: LauncherProcess[] = [];
  private failedStarts = 0;
  /** Launchers started so far (the first one included). */
  starts = 0;
  /** They could not be started MAX_FAILED_STARTS times in a row: attempts are spawned directly from now on. */
  broken = false;
  /** Launchers at most. */
  private readonly size: number;

  constructor(
    readonly python: string,
    size = Math.min(MAX_LAUNCHERS, availableParallelism()),
  ) {
    this.size = Math.max(1, Math.floor(size));
  }

  /** The oldest running launcher's pid; 0 when none runs (none started yet, or they died and no attempt came since). */
  get pid(): number {
    return this.running[0]?.pid ?? 0;
  }

  /** Every running launcher's pid. */
  get pids(): number[] {
    return this.running.map((launcher) => launcher.pid);
  }

  /** Sends the request to the launcher least behind (one is started first if none runs, or all are behind). Throws on a NUL byte in the spec. */
  launch(spec: SpawnSpec, events: AttemptProcessEvents): AttemptProcess {
    let chosen: LauncherProcess | undefined;
    for (const launcher of this.running) if (chosen === undefined || launcher.waitingToStart < chosen.waitingToStart) chosen = launcher;
    if (chosen === undefined || (chosen.waitingToStart >= SPILL_AT && this.running.length < this.size)) chosen = this.start();
    return chosen.launch(spec, events);
  }

  private start(): LauncherProcess {
    this.starts++;
    const launcher: LauncherProcess = new LauncherProcess(this.python, {
      ready: () => {
        this.failedStarts = 0;
      },
      died: (wasReady) => {
        const at = this.running.indexOf(launcher);
        if (at >= 0) this.running.splice(at, 1);
        if (wasReady) return;
        this.failedStarts++;
        if (this.failedStarts >= MAX_FAILED_STARTS) this.broken = true;
      },
    });
    this.running.push(launcher);
    return launcher;
  }

  /** Ends the launchers (each exits once it read its stdin to the end); a later launch starts another. */
  close(): void {
    for (const launcher of this.running.splice(0)) launcher.close();
  }
}
