// The `file` quota provider: a YAML or JSON file kept in git (GitOps), re-read when it changes,
// like the weights file: a poll of its size and mtime every `pollMs`, then its content hash. A file
// that is invalid or half-written never takes effect: the last good quotas stay, and the error is
// logged once per content version (and shown by `taskgrid quota ls`). Edits through the API are
// refused: the file is the source.
//
//   default:              # optional: the quota of a project without one (else the master's setting)
//     nominal: { gpu: 2 }
//   projects:
//     vision:
//       nominal: { gpu: 8, "gpu:h100": 8, cpu: 64 }
//       borrowingLimit: { gpu: 4 }
//       lendingLimit: { gpu: 2 }
//       shares: 2
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { parse } from "yaml";
import { FailedPreconditionError, InvalidArgumentError } from "../../src/core/errors.js";
import { validateDefaultQuota, validateQuota } from "../../src/core/fairshare/demand.js";
import type { DefaultQuota } from "../../src/core/fairshare/types.js";
import type { QuotaRecord } from "../../src/store/store-types.js";
import type { Logger } from "../logger.js";
import type { QuotaProvider, QuotaSet } from "./quota-provider.js";

/** Parses and checks a quota file's text; InvalidArgumentError names the field (e.g. "projects.vision.nominal.gpu"). */
export function parseQuotaFile(text: string, fallbackDefault: DefaultQuota, loadedAtMs: number): QuotaSet {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new InvalidArgumentError("quota file", `is not valid YAML or JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new InvalidArgumentError("quota file", "must be an object with `projects` (and optionally `default`)");
  const { default: defaultInput, projects, ...rest } = doc as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new InvalidArgumentError(unknown[0], "unknown key (known: default, projects)");
  if (projects !== undefined && (projects === null || typeof projects !== "object" || Array.isArray(projects))) {
    throw new InvalidArgumentError("projects", "must be an object of project name -> quota");
  }
  const quotas: QuotaRecord[] = [];
  for (const [project, input] of Object.entries((projects ?? {}) as Record<string, unknown>)) {
    const field = `projects.${project}`;
    if (input === null || typeof input !== "object" || Array.isArray(input))
      throw new InvalidArgumentError(field, "must be an object with nominal (and borrowingLimit, lendingLimit, shares)");
    const { shares = 1, ...limits } = input as Record<string, unknown>;
    if (typeof shares !== "number" || !Number.isFinite(shares) || shares <= 0 || shares > 1e9) {
      throw new InvalidArgumentError(`${field}.shares`, "must be a number > 0 and <= 1e9");
    }
    quotas.push({ ...validateQuota({ ...limits, project }, field), shares, updatedAtMs: loadedAtMs, updatedBy: "quota file" });
  }
  return { quotas, defaultQuota: defaultInput === undefined ? fallbackDefault : validateDefaultQuota(defaultInput, "default") };
}

export class FileQuotas implements QuotaProvider {
  readonly name: string;
  private quotaSet: QuotaSet;
  private version = "";
  private stamp = "";
  private timer: NodeJS.Timeout | undefined;
  /** The last error of the file, "" while it is good; shown by `quota ls`. */
  lastError = "";

  constructor(
    private readonly path: string,
    private readonly fallbackDefault: DefaultQuota,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly pollMs = 1000,
  ) {
    this.name = `file:${path}`;
    this.quotaSet = { quotas: [], defaultQuota: fallbackDefault };
  }

  current(): QuotaSet {
    return this.quotaSet;
  }

  async refresh(): Promise<void> {
    let text: Buffer;
    try {
      const s = await stat(this.path);
      const stamp = `${s.size}:${s.mtimeMs}:${s.ino}`;
      if (stamp === this.stamp) return;
      this.stamp = stamp;
      text = await readFile(this.path);
    } catch (err) {
      this.fail(`cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return;
    }
    const version = createHash("sha256").update(text).digest("hex").slice(0, 12);
    if (version === this.version) return;
    try {
      this.quotaSet = parseQuotaFile(text.toString("utf8"), this.fallbackDefault, this.now());
      this.version = version;
      this.lastError = "";
      this.log.info("quotas: loaded the quota file", { path: this.path, version, projects: this.quotaSet.quotas.length });
    } catch (err) {
      this.version = version; // the same broken content is reported once
      this.fail(`${this.path} version ${version} ignored, last good quotas kept: ${(err as Error).message}`);
    }
  }

  async set(): Promise<QuotaRecord> {
    throw new FailedPreconditionError(`quotas come from ${this.path} (quotaProvider file): edit the file instead`);
  }

  async remove(): Promise<boolean> {
    throw new FailedPreconditionError(`quotas come from ${this.path} (quotaProvider file): edit the file instead`);
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((err) => this.log.error("quotas: reading the quota file failed", { error: String(err) }));
    }, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private fail(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.log.error("quotas: the quota file is not usable", { error: message });
  }
}
