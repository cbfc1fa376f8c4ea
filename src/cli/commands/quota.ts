// `taskgrid quota set|ls|rm`: projects' quotas and fair-share shares (issue 15). set and rm need an
// admin token and the `local` quota provider (a master reading a quota file refuses them); ls works
// with any token and on any master.
import { ListQuotasResponse, ProjectQuota } from "../../gen/taskgrid/v1/admin_service.js";
import { ClientError } from "../../client/index.js";
import { boolFlag, listFlag, stringFlag, type ParsedArgs } from "../args.js";
import { CLIENT_FLAGS, helpText, parseCommandArgs, printJson, withClient, type Command, type Io } from "../command.js";
import { formatQuota, formatQuotaTable } from "../render-sharing.js";
import { UsageError } from "../usage-error.js";

/** One RES=AMOUNT argument as typed, and where it goes. */
export interface QuotaEntry {
  /** As typed, for messages: "gpu=8" or "--borrow gpu=4". */
  text: string;
  /** "nominal", "borrowingLimit" or "lendingLimit". */
  kind: "nominal" | "borrowingLimit" | "lendingLimit";
  resource: string;
  amount: number;
}

const FLAG_OF: Record<QuotaEntry["kind"], string> = { nominal: "", borrowingLimit: "--borrow ", lendingLimit: "--lend " };

/** A plain decimal number ("8", "0.5", "1e3", "-1"); anything else is not an amount. */
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
/** Memory may carry its unit: GiB by default, "512Gi", "1Ti", "512Mi". */
const MEMORY_UNITS: Record<string, number> = { "": 1, g: 1, gi: 1, gib: 1, t: 1024, ti: 1024, tib: 1024, m: 1 / 1024, mi: 1 / 1024, mib: 1 / 1024 };

/**
 * "gpu=8" -> { resource: "gpu", amount: 8 }. Amounts that are not numbers are refused here, naming
 * the argument; ranges and resource names are the master's rules (its error is mapped back to the
 * argument, see usageErrorFromMaster).
 */
export function parseQuotaEntry(text: string, kind: QuotaEntry["kind"]): QuotaEntry {
  const shown = `${FLAG_OF[kind]}${text}`;
  const eq = text.indexOf("=");
  const resource = eq < 0 ? "" : text.slice(0, eq).trim();
  if (eq < 0 || resource === "") {
    throw new UsageError(`quota set: ${shown}: not RESOURCE=AMOUNT (e.g. gpu=8, gpu:h100=4, cpu=64, memory=512, tasks=100)`);
  }
  const raw = text.slice(eq + 1).trim();
  let amount = Number.NaN;
  if (resource.toLowerCase() === "memory") {
    const m = /^(.*?)([a-z]*)$/i.exec(raw)!;
    const unit = MEMORY_UNITS[m[2].toLowerCase()];
    if (unit !== undefined && NUMBER.test(m[1])) amount = Number(m[1]) * unit;
  } else if (NUMBER.test(raw)) {
    amount = Number(raw);
  }
  if (!Number.isFinite(amount)) {
    const units = resource.toLowerCase() === "memory" ? "GiB, or with a unit: 512Gi, 1Ti" : resource.toLowerCase() === "cpu" ? "cores" : "a count";
    throw new UsageError(`quota set: ${shown}: "${raw}" is not a number (${resource}: ${units}; leave a resource out for no limit)`);
  }
  return { text: shown, kind, resource, amount };
}

/** The quota a `quota set` command line describes. */
export function quotaFromArgs(args: ParsedArgs): { quota: Partial<ProjectQuota>; entries: QuotaEntry[] } {
  const [project, ...amounts] = args.positionals;
  if (project === undefined || project.trim() === "")
    throw new UsageError("quota set needs a PROJECT, then RESOURCE=AMOUNT entries (e.g. quota set vision gpu=8)");
  if (project.includes("=")) throw new UsageError(`quota set: the first argument is the PROJECT (got "${project}"): quota set PROJECT RES=AMOUNT...`);
  const entries = [
    ...amounts.map((t) => parseQuotaEntry(t, "nominal")),
    ...listFlag(args, "borrow").map((t) => parseQuotaEntry(t, "borrowingLimit")),
    ...listFlag(args, "lend").map((t) => parseQuotaEntry(t, "lendingLimit")),
  ];
  const maps: Record<QuotaEntry["kind"], Record<string, number>> = { nominal: {}, borrowingLimit: {}, lendingLimit: {} };
  for (const e of entries) {
    if (Object.hasOwn(maps[e.kind], e.resource)) throw new UsageError(`quota set: ${e.text}: ${e.resource} is given twice`);
    maps[e.kind][e.resource] = e.amount;
  }
  const sharesText = stringFlag(args, "shares");
  let shares = 0; // unset: the master's default of 1
  if (sharesText !== undefined) {
    shares = NUMBER.test(sharesText.trim()) ? Number(sharesText) : Number.NaN;
    if (!Number.isFinite(shares)) throw new UsageError(`quota set: --shares ${sharesText}: not a number`);
    // 0 would be taken as "unset" (1 share): refuse it rather than store something else.
    if (shares <= 0) throw new UsageError(`quota set: --shares ${sharesText}: must be > 0 (the default is 1)`);
  }
  if (entries.length === 0 && sharesText === undefined) {
    throw new UsageError("quota set needs RESOURCE=AMOUNT entries or --shares (e.g. quota set vision gpu=8 --shares 2); 'quota rm' removes a quota");
  }
  return { quota: { project, ...maps, shares }, entries };
}

/** "quota.nominal.gpus" or 'quota.nominal["gpu:h100"]' at the start of the master's message. */
const FIELD = /^quota\.(nominal|borrowingLimit|lendingLimit)(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\]): ([\s\S]*)$/;

/**
 * The master's INVALID_ARGUMENT for a SetQuota names the field ("quota.nominal.gpus: unknown
 * resource..."): as a usage error naming the argument as typed ("gpus=8: unknown resource...").
 * Undefined when the message names no argument of this command line.
 */
export function usageErrorFromMaster(details: string, entries: readonly QuotaEntry[], sharesText: string | undefined): UsageError | undefined {
  const field = FIELD.exec(details);
  if (field) {
    const key = (field[2] ?? (JSON.parse(field[3]) as string)).toLowerCase();
    const entry = [...entries].reverse().find((e) => e.kind === field[1] && e.resource.toLowerCase() === key);
    return entry ? new UsageError(`quota set: ${entry.text}: ${field[4]}`) : undefined;
  }
  const shares = /^quota\.shares: ([\s\S]*)$/.exec(details);
  if (shares) return new UsageError(`quota set: --shares${sharesText === undefined ? "" : ` ${sharesText}`}: ${shares[1]}`);
  const project = /^quota\.project: ([\s\S]*)$/.exec(details);
  if (project) return new UsageError(`quota set: PROJECT: ${project[1]}`);
  return undefined;
}

const INVALID_ARGUMENT = 3;

export const quotaSetCommand: Command = {
  name: "set",
  summary: "Set a project's quota and shares (replaces the previous ones)",
  usage: "quota set [flags] PROJECT RESOURCE=AMOUNT... [--borrow RESOURCE=AMOUNT]... [--lend RESOURCE=AMOUNT]... [--shares N]",
  flags: {
    borrow: {
      type: "string",
      value: "RES=AMOUNT",
      multiple: true,
      description: "borrowing limit: how much beyond its nominal it may use of others' idle quota",
    },
    lend: { type: "string", value: "RES=AMOUNT", multiple: true, description: "lending limit: how much of its nominal others may borrow while it is idle" },
    shares: { type: "string", value: "N", description: "fair-share shares (> 0; default 1)" },
    ...CLIENT_FLAGS,
  },
  notes:
    "Resources: cpu (cores), memory (GiB; 512Gi and 1Ti work too), gpu (GPUs of any model), gpu:<model>\n" +
    "(GPUs whose model contains <model>, e.g. gpu:h100) and tasks (running tasks). A resource left out is\n" +
    "not limited; a borrowing limit left out means no limit, a lending limit left out lends all of it.\n" +
    "Limits need a nominal quota for their resource, and a project cannot lend more than its nominal.\n" +
    "Tasks beyond the quota stay QUEUED ('taskgrid get' shows why); running work is never stopped.\n\nExamples:\n" +
    "  taskgrid quota set vision gpu=8 gpu:h100=8 cpu=64 memory=512 --borrow gpu=4 --lend gpu=2 --shares 2\n" +
    "  taskgrid quota set nlp --shares 3\n",
  async run(args, io) {
    const { quota, entries } = quotaFromArgs(args);
    return withClient(args, io, async (client) => {
      let stored: ProjectQuota;
      try {
        stored = await client.setQuota(quota);
      } catch (err) {
        const usage =
          err instanceof ClientError && err.code === INVALID_ARGUMENT ? usageErrorFromMaster(err.details, entries, stringFlag(args, "shares")) : undefined;
        throw usage ?? err;
      }
      if (boolFlag(args, "json")) printJson(io, ProjectQuota.toJSON(stored));
      else io.out(formatQuota(stored));
      return 0;
    });
  },
};

export const quotaListCommand: Command = {
  name: "ls",
  summary: "List projects' quotas with what each uses now, the default quota and where quotas come from",
  usage: "quota ls [flags]",
  flags: { ...CLIENT_FLAGS },
  notes: 'One row per project and resource; "-" is no limit. cpu in cores, memory in GiB.',
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`quota ls takes no arguments (got "${args.positionals[0]}")`);
    return withClient(args, io, async (client) => {
      const res = await client.listQuotas();
      if (boolFlag(args, "json")) printJson(io, ListQuotasResponse.toJSON(res));
      else io.out(formatQuotaTable(res));
      return 0;
    });
  },
};

export const quotaRemoveCommand: Command = {
  name: "rm",
  summary: "Remove a project's quota: it falls back to the default quota and 1 share",
  usage: "quota rm [flags] PROJECT",
  flags: { ...CLIENT_FLAGS },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError("quota rm takes exactly one project");
    const project = args.positionals[0];
    return withClient(args, io, async (client) => {
      await client.deleteQuota(project);
      if (boolFlag(args, "json")) printJson(io, { project, removed: true });
      else io.out(`quota of project ${project} removed: it falls back to the default quota and 1 share\n`);
      return 0;
    });
  },
};

export const QUOTA_SUBCOMMANDS: readonly Command[] = [quotaSetCommand, quotaListCommand, quotaRemoveCommand];

function subcommandList(): string {
  const width = Math.max(...QUOTA_SUBCOMMANDS.map((c) => c.name.length)) + 2;
  return QUOTA_SUBCOMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n");
}

export const quotaCommand: Command = {
  name: "quota",
  summary: "Projects' quotas and fair-share shares: set, ls, rm",
  usage: "quota set|ls|rm [flags]",
  flags: {},
  // The subcommand's own flags follow it: parse up to the subcommand here, the rest in run().
  parseOptions: { stopAtPositional: true },
  notes:
    `Subcommands:\n${subcommandList()}\n\n` +
    "Run 'taskgrid quota <subcommand> --help' for its flags. set and rm need an admin token, and a master\n" +
    "whose quotas come from the database (quotaProvider local); with a quota file, edit the file.\n\nExamples:\n" +
    "  taskgrid quota set vision gpu=8 gpu:h100=8 cpu=64 memory=512 --borrow gpu=4 --lend gpu=2 --shares 2\n" +
    "  taskgrid quota ls\n" +
    "  taskgrid quota rm vision\n",
  async run(args: ParsedArgs, io: Io) {
    const [name, ...rest] = [...args.positionals, ...args.rest];
    if (name === undefined) throw new UsageError("quota needs a subcommand: set, ls or rm");
    const sub = QUOTA_SUBCOMMANDS.find(
      (c) => c.name === name || (name === "list" && c.name === "ls") || ((name === "remove" || name === "delete") && c.name === "rm"),
    );
    if (!sub) throw new UsageError(`quota: unknown subcommand "${name}" (set, ls or rm)`);
    const subArgs = parseCommandArgs(sub, rest);
    if (subArgs.flags.help === true) {
      io.out(helpText(sub));
      return 0;
    }
    return sub.run(subArgs, io);
  },
};
