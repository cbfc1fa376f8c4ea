// The agent's launcher (issue 18): one long-lived python3 that starts every attempt's command
// (launcher-source.ts), started on the first attempt and started again after it died. A launcher
// that dies before it ever said READY had read no request, so its attempts are retried (the
// executor does it, on `lost(.., retryable)`); after MAX_FAILED_STARTS such deaths in a row the
// agent stops trying it and spawns commands directly (`broken`).
import type { AttemptProcess, AttemptProcessEvents } from "../spawn-attempt.js";
import type { SpawnSpec } from "./frames.js";
import { LauncherProcess } from "./launcher-process.js";

const MAX_FAILED_STARTS = 3;

export class LauncherClient {
  private current: LauncherProcess | null = null;
  private failedStarts = 0;
  /** Launchers started so far (the first one included). */
  starts = 0;
  /** It could not be started MAX_FAILED_STARTS times in a row: attempts are spawned directly from now on. */
  broken = false;

  constructor(readonly python: string) {}

  /** The running launcher's pid; 0 when none runs (none started yet, or it died and no attempt came since). */
  get pid(): number {
    return this.current?.pid ?? 0;
  }

  /** Sends the request to the launcher (started first if none runs). Throws on a NUL byte in the spec. */
  launch(spec: SpawnSpec, events: AttemptProcessEvents): AttemptProcess {
    if (!this.current) {
      this.starts++;
      const proc: LauncherProcess = new LauncherProcess(this.python, {
        ready: () => {
          this.failedStarts = 0;
        },
        died: (wasReady) => {
          if (this.current === proc) this.current = null;
          if (wasReady) return;
          this.failedStarts++;
          if (this.failedStarts >= MAX_FAILED_STARTS) this.broken = true;
        },
      });
      this.current = proc;
    }
    return this.current.launch(spec, events);
  }

  /** Ends the launcher (it exits once it read its stdin to the end); a later launch starts another. */
  close(): void {
    this.current?.close();
    this.current = null;
  }
}
