// Spawns an attempt's command: through the measuring wrapper of rusage.ts when a python3 runs it,
// else directly. Either way in its own process group (detached), so signals reach all it forks.
import { type ChildProcess, spawn } from "node:child_process";
import type { RunRequest } from "./live-attempt.js";
import { wrapperArgs } from "./rusage.js";

/**
 * The attempt's process. Under the wrapper (`python` not null) fd 3 carries its reports (exec done
 * or failed, then the usage). Throws where spawn does synchronously (for example an argument with a NUL byte).
 */
export function spawnAttemptProcess(python: string | null, req: RunRequest, env: NodeJS.ProcessEnv): ChildProcess {
  const options = { cwd: req.workingDir || process.cwd(), env, detached: true };
  return python
    ? spawn(python, wrapperArgs(req.command), { ...options, stdio: ["ignore", "pipe", "pipe", "pipe"] })
    : spawn(req.command[0], req.command.slice(1), { ...options, stdio: ["ignore", "pipe", "pipe"] });
}
