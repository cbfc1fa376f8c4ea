// `taskgrid token create|ls|revoke|whoami`: API tokens (DESIGN §10). create, ls and revoke need an
// admin token; whoami works with any token (and says so when the master has auth off).
import { ApiToken, CreateTokenResponse, ListTokensResponse, WhoAmIResponse } from "../../gen/taskgrid/v1/admin_service.js";
import { Role } from "../../gen/taskgrid/v1/types.js";
import { boolFlag, stringFlag, type ParsedArgs } from "../args.js";
import { resolveToken } from "../client-options.js";
import { CLIENT_FLAGS, helpText, parseCommandArgs, printJson, withClient, type Command, type Io } from "../command.js";
import { roleName } from "../format.js";
import { parseExpiresSeconds, parseRole } from "../parse.js";
import { formatCreatedNote, formatTokenTable, formatWhoAmI } from "../render-token.js";
import { UsageError } from "../usage-error.js";

function required(args: ParsedArgs, flag: string, hint: string): string {
  const value = stringFlag(args, flag)?.trim();
  if (!value) throw new UsageError(`token create: --${flag} is required (${hint})`);
  return value;
}

function noPositionals(args: ParsedArgs, sub: string): void {
  if (args.positionals.length > 0) throw new UsageError(`token ${sub} takes no arguments (got "${args.positionals[0]}")`);
}

export const tokenCreateCommand: Command = {
  name: "create",
  summary: "Create an API token and print its secret (shown only this once)",
  usage: "token create --project PROJECT --role viewer|submitter|admin|agent [flags]",
  flags: {
    project: { type: "string", value: "PROJECT", description: "project the token belongs to (required)" },
    role: { type: "string", value: "ROLE", description: "viewer, submitter, admin or agent (required)" },
    expires: { type: "string", value: "DURATION", description: "lifetime, e.g. 90m, 12h, 30d; 0 = never (default 0)" },
    name: { type: "string", value: "NAME", description: "name for people (default ROLE@PROJECT)" },
    worker: { type: "string", value: "PATTERN", description: "agent tokens: worker ids it may register as, * matches any run (default: any)" },
    ...CLIENT_FLAGS,
  },
  notes:
    "Prints the secret alone on stdout (so `taskgrid token create ... > file` captures just it) and what was\n" +
    "created on stderr. With --json, prints the whole response, secret included.\n\nExamples:\n" +
    "  taskgrid token create --project ml --role submitter --name alice --expires 30d\n" +
    "  (umask 077; taskgrid token create --project ml --role agent --worker 'gpu-*' > agent-token)\n",
  async run(args, io) {
    noPositionals(args, "create");
    const project = required(args, "project", "the project the token may work in");
    const role = parseRole(required(args, "role", "viewer, submitter, admin or agent"));
    const expiresText = stringFlag(args, "expires");
    const expiresInSeconds = expiresText === undefined ? 0 : parseExpiresSeconds(expiresText);
    const workerPattern = stringFlag(args, "worker") ?? "";
    if (workerPattern !== "" && role !== Role.ROLE_AGENT)
      throw new UsageError(`--worker: only agent tokens are bound to worker ids (this one is ${roleName(role)})`);
    return withClient(args, io, async (client) => {
      const res = await client.createToken({ project, role, name: stringFlag(args, "name") ?? "", expiresInSeconds, workerPattern });
      if (boolFlag(args, "json")) {
        printJson(io, CreateTokenResponse.toJSON(res));
      } else {
        io.out(`${res.secret}\n`);
        io.err(formatCreatedNote(res, io.now()));
      }
      return 0;
    });
  },
};

export const tokenListCommand: Command = {
  name: "ls",
  summary: "List API tokens (never their secrets), newest first",
  usage: "token ls [flags]",
  flags: {
    project: { type: "string", value: "PROJECT", description: "only tokens of this project" },
    all: { type: "boolean", description: "include revoked and expired tokens" },
    ...CLIENT_FLAGS,
  },
  async run(args, io) {
    noPositionals(args, "ls");
    return withClient(args, io, async (client) => {
      const tokens = await client.listTokens({ project: stringFlag(args, "project") ?? "", includeInactive: boolFlag(args, "all") });
      if (boolFlag(args, "json")) printJson(io, ListTokensResponse.toJSON({ tokens }));
      else io.out(formatTokenTable(tokens, io.now()));
      return 0;
    });
  },
};

export const tokenRevokeCommand: Command = {
  name: "revoke",
  summary: "Revoke an API token: its calls fail from now on and its open streams end",
  usage: "token revoke [flags] TOKEN_ID",
  flags: { ...CLIENT_FLAGS },
  notes: "TOKEN_ID is the 16-hex-digit id that 'taskgrid token ls' shows (the middle part of tg1.<id>.<secret>).",
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError("token revoke takes exactly one token id");
    // A whole token pasted by mistake: use its id part, and do not send the secret anywhere.
    const given = args.positionals[0].trim();
    const id = /^tg1\.[0-9a-f]{16}\./.test(given) ? given.split(".")[1] : given;
    return withClient(args, io, async (client) => {
      const token = await client.revokeToken(id);
      if (boolFlag(args, "json")) printJson(io, ApiToken.toJSON(token));
      else io.out(`token ${token.id} revoked (${token.name}, ${roleName(token.role)}, project ${token.project})\n`);
      return 0;
    });
  },
};

export const tokenWhoAmICommand: Command = {
  name: "whoami",
  summary: "Show the token this CLI presents: id, name, project, role, expiry",
  usage: "token whoami [flags]",
  flags: { ...CLIENT_FLAGS },
  async run(args, io) {
    noPositionals(args, "whoami");
    const source = resolveToken(args, io.env)?.source;
    return withClient(args, io, async (client) => {
      const res = await client.whoAmI();
      if (boolFlag(args, "json")) printJson(io, WhoAmIResponse.toJSON(res));
      else io.out(formatWhoAmI(res, io.now(), source));
      return 0;
    });
  },
};

export const TOKEN_SUBCOMMANDS: readonly Command[] = [tokenCreateCommand, tokenListCommand, tokenRevokeCommand, tokenWhoAmICommand];

function subcommandList(): string {
  const width = Math.max(...TOKEN_SUBCOMMANDS.map((c) => c.name.length)) + 2;
  return TOKEN_SUBCOMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n");
}

export const tokenCommand: Command = {
  name: "token",
  summary: "API tokens: create, ls, revoke, whoami",
  usage: "token create|ls|revoke|whoami [flags]",
  flags: {},
  // The subcommand's own flags follow it: parse up to the subcommand here, the rest in run().
  parseOptions: { stopAtPositional: true },
  notes:
    `Subcommands:\n${subcommandList()}\n\n` +
    "Run 'taskgrid token <subcommand> --help' for its flags. create, ls and revoke need an admin token.\n" +
    "Roles: viewer (read its project's tasks, workers, scheduler info), submitter (viewer + submit, cancel,\n" +
    "pause, resume its project's tasks), admin (everything, every project, tokens), agent (only connect as a\n" +
    "worker whose id matches --worker).\n" +
    "Clients present a token with --token, TASKGRID_TOKEN, or the first line of the credentials file\n" +
    "~/.config/taskgrid/credentials ($XDG_CONFIG_HOME/taskgrid/credentials, or TASKGRID_CREDENTIALS), which\n" +
    "must be private (chmod 600).\n\nExamples:\n" +
    "  mkdir -p ~/.config/taskgrid\n" +
    "  (umask 077; taskgrid token create --project ml --role submitter --expires 30d > ~/.config/taskgrid/credentials)\n" +
    "  taskgrid token ls --all\n" +
    "  taskgrid token revoke 0123456789abcdef\n",
  async run(args: ParsedArgs, io: Io) {
    const [name, ...rest] = [...args.positionals, ...args.rest];
    if (name === undefined) throw new UsageError("token needs a subcommand: create, ls, revoke or whoami");
    const sub = TOKEN_SUBCOMMANDS.find((c) => c.name === name || (name === "list" && c.name === "ls"));
    if (!sub) throw new UsageError(`token: unknown subcommand "${name}" (create, ls, revoke or whoami)`);
    const subArgs = parseCommandArgs(sub, rest);
    if (subArgs.flags.help === true) {
      io.out(helpText(sub));
      return 0;
    }
    return sub.run(subArgs, io);
  },
};
