// A Postgres server of the test's own (initdb in a temp dir, its own port), so a test can stop
// and restart the database under a running master without touching the shared server on 5432.
// Runs as the `postgres` user (the server refuses to run as root), with trust auth on loopback.
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./tcp-proxy.js";

const BIN = "/usr/lib/postgresql/15/bin";

function asPostgres(args: string[]): string {
  const prefix = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const [file, ...rest] = [...prefix, ...args];
  return execFileSync(file, rest, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export class OwnPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** Creates and starts a fresh cluster. */
  static async create(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), "taskgrid-pg-"));
    if (process.getuid?.() === 0)
      chownSync(
        dir,
        Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
        Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
      );
    asPostgres([`${BIN}/initdb`, "-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"]);
    const pg = new OwnPostgres(dir, await freePort());
    pg.start();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    asPostgres([
      `${BIN}/pg_ctl`,
      "-D",
      join(this.dir, "data"),
      "-l",
      join(this.dir, "log"),
      "-w",
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  }

  /** Stops the server; "immediate" is a crash (no checkpoint), "fast" a clean stop. */
  stop(mode: "fast" | "immediate" = "fast"): void {
    asPostgres([`${BIN}/pg_ctl`, "-D", join(this.dir, "data"), "-w", "-m", mode, "stop"]);
  }

  destroy(): void {
    try {
      this.stop("immediate");
    } catch {
      // Not running.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
