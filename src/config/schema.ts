// A settings table describes each setting of a process once: its type and bounds, its default,
// its CLI flag, its TASKGRID_* variable and its help line. From the table come the flags and
// their help (src/cli/setting-flags.ts), the config-file keys in camelCase or snake_case
// (src/cli/config-file.ts), the defaults and validation of resolveMasterConfig and
// resolveAgentConfig (resolveSettings below), the messages, and the Configuration table of
// docs/operations.md (settingsTable below; a test keeps the docs equal to it).
// One table per process: MASTER_SETTINGS, AGENT_SETTINGS and DEV_SETTINGS.

export type SettingType = "string" | "path" | "address" | "boolean" | "number" | "integer" | "enum" | "list";

export interface Setting {
  readonly type: SettingType;
  /** enum: the accepted values. */
  readonly choices?: readonly string[];
  /** number/integer bounds: `above` is exclusive, `min` and `max` are inclusive. */
  readonly above?: number;
  readonly min?: number;
  readonly max?: number;
  /** Why `max` is what it is; said when a value is above it. */
  readonly maxWhy?: string;
  /** string: the form a value must have, and that form in words ("1..128 characters of ..."). */
  readonly pattern?: RegExp;
  readonly patternText?: string;
  /** The default, stated here only; a function for one that depends on the machine. */
  readonly default?: string | number | boolean | readonly string[] | (() => number);
  /** A default computed from another setting of the table: `from` / `divide`. */
  readonly derive?: { readonly from: string; readonly divide?: number };
  /** The default in words, where it is not a fixed value ("embedded database", "number of CPUs"). */
  readonly defaultText?: string;
  /** A default the CLI verbs apply, where programmatic callers get none (the metrics address). */
  readonly cliDefault?: string;
  /** A lower bound for flags, variables and config files only (programmatic callers may go lower). */
  readonly cliMin?: number;
  /** The options path when the value is not under its own key, e.g. "tls.certFile". */
  readonly option?: string;
  /** Settings that must be set whenever this one is, and why. */
  readonly requires?: { readonly keys: readonly string[]; readonly why: string };
  /** CLI flag name (without "--") and the placeholder of its value in --help. */
  readonly flag?: string;
  readonly value?: string;
  /** Environment variable read when the flag is not given. */
  readonly env?: string;
  /** One line for --help; the variable and the default are appended. */
  readonly help: string;
  /** The "meaning" cell of the docs table, where the help line is not enough. */
  readonly doc?: string;
}

export type Settings = Readonly<Record<string, Setting>>;

/** The type of a setting's value. */
export type ValueOf<S extends Setting> = S["type"] extends "boolean"
  ? boolean
  : S["type"] extends "number" | "integer"
    ? number
    : S["type"] extends "list"
      ? string[]
      : S extends { readonly choices: readonly (infer C)[] }
        ? C
        : string;

type HasDefault<S> = S extends { readonly default: unknown } | { readonly derive: unknown } ? true : false;

/** Every setting after resolveSettings: a value where there is a default, else possibly undefined. */
export type Resolved<T extends Settings> = {
  -readonly [K in keyof T]: HasDefault<T[K]> extends true ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

/** Values as the CLI reads them: only what was given. */
export type Given<T extends Settings> = { -readonly [K in keyof T]?: ValueOf<T[K]> };

/** The programmatic options of a table: one optional field per setting that sits under its own key. */
export type SettingsOptions<T extends Settings> = {
  -readonly [K in keyof T as T[K] extends { readonly option: string } ? never : K]?: ValueOf<T[K]>;
};

export const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const camelCase = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Where a setting sits in the options object: its key, or `option` ("tls.certFile"). */
export const optionPath = (table: Settings, key: string): string => table[key].option ?? key;

/**
 * A key for messages to programmatic callers, who may know it from the options (camelCase) or from
 * a config file (snake_case): both forms, "sla_multiplier (slaMultiplier)", or one where they agree.
 */
export function bothNames(table: Settings, key: string): string {
  const path = optionPath(table, key);
  const snake = snakeCase(path);
  return snake === path ? path : `${snake} (${path})`;
}

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;

/**
 * What is wrong with a value, as the words after "must be" / "is not" ("> 0", "one of a, b",
 * "host:port"); undefined when it is fine. `cli`: the value was typed (flag, variable, file).
 */
export function expected(s: Setting, v: unknown, cli = false): string | undefined {
  switch (s.type) {
    case "boolean":
      return typeof v === "boolean" ? undefined : "true or false";
    case "enum":
      return typeof v === "string" && (s.choices ?? []).includes(v) ? undefined : `one of ${(s.choices ?? []).join(", ")}`;
    case "address":
      return typeof v === "string" && ADDRESS.test(v) ? undefined : "host:port";
    case "string":
    case "path":
      if (typeof v !== "string" || v === "") return s.type === "path" ? "a file path" : "a non-empty string";
      return s.pattern && !s.pattern.test(v) ? (s.patternText ?? `like ${s.pattern}`) : undefined;
    case "list":
      return Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "a list of strings";
    case "integer": {
      const min = (cli ? s.cliMin : undefined) ?? s.min ?? 0;
      const ok = typeof v === "number" && Number.isInteger(v) && v >= min && (s.max === undefined || v <= s.max);
      return ok ? undefined : `a whole number ${s.max === undefined ? `>= ${min}` : `in ${min}..${s.max}`}`;
    }
    case "number": {
      if (typeof v !== "number" || !Number.isFinite(v)) return "a number";
      const min = (cli ? s.cliMin : undefined) ?? s.min;
      if (s.above !== undefined && !(v > s.above)) return `> ${s.above}`;
      if (min !== undefined && v < min) return `>= ${min}`;
      if (s.max !== undefined && v > s.max) return `<= ${s.max}${s.maxWhy ? ` (${s.maxWhy})` : ""}`;
      return undefined;
    }
  }
}

/** A value for a message: numbers bare, the rest as JSON. */
export const show = (v: unknown): string => (typeof v === "number" ? String(v) : (JSON.stringify(v) ?? String(v)));

/** The rule of a programmatic error: `must be > 0 (got 0)`. */
export const mustBe = (what: string, v: unknown): string => `must be ${what} (got ${show(v)})`;

/** A typed value's error, naming where it was typed: `--listen: "x" is not host:port`. */
export const isNot = (source: string, v: unknown, what: string): string => `${source}: ${show(v)} is not ${what}`;

/** Unset: undefined, null, or an empty string. */
export const isUnset = (v: unknown): boolean => v === undefined || v === null || v === "";

export function getPath(options: object, path: string): unknown {
  let at: unknown = options;
  for (const part of path.split(".")) at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[part] : undefined;
  return at;
}

/**
 * Every setting of `table` from programmatic `options`: defaults applied, values checked.
 * `fail(key, rule)` makes the error for a bad value; `name(key)` names another key in a rule.
 */
export function resolveSettings<T extends Settings>(
  table: T,
  options: object,
  fail: (key: keyof T & string, rule: string) => Error,
  name: (key: keyof T & string) => string,
): Resolved<T> {
  const out: Record<string, unknown> = {};
  const take = (key: string, v: unknown) => {
    const what = v === undefined ? undefined : expected(table[key], v);
    if (what !== undefined) throw fail(key, mustBe(what, v));
    out[key] = v;
  };
  const given = (key: string) => {
    const v = getPath(options, optionPath(table, key));
    return isUnset(v) ? undefined : v;
  };
  for (const [key, s] of Object.entries(table)) {
    if (s.derive) continue;
    const d = s.default;
    take(key, given(key) ?? (typeof d === "function" ? d() : Array.isArray(d) ? [...d] : d));
  }
  for (const [key, s] of Object.entries(table)) {
    if (s.derive) take(key, given(key) ?? (out[s.derive.from] as number) / (s.derive.divide ?? 1));
  }
  for (const [key, s] of Object.entries(table)) {
    const missing = out[key] === undefined ? undefined : s.requires?.keys.find((k) => out[k] === undefined);
    if (missing !== undefined) throw fail(key, `needs ${name(missing)} too (${s.requires?.why})`);
  }
  return out as Resolved<T>;
}

/** A copy of some settings of a table, e.g. for `taskgrid dev`, which takes no variables for them. */
export function pick<T extends Settings, K extends keyof T>(table: T, keys: readonly K[], change: Partial<Setting> = {}): { [P in K]: T[P] } {
  return Object.fromEntries(keys.map((k) => [k, { ...table[k], ...change }])) as { [P in K]: T[P] };
}

/** The default as --help and the docs say it; undefined when there is none. */
export function defaultWords(s: Setting, style: "help" | "docs"): string | undefined {
  const fixed = s.cliDefault ?? (typeof s.default === "function" ? undefined : s.default);
  const code = (t: string) => (style === "docs" ? `\`${t}\`` : t);
  if (fixed !== undefined && !(style === "help" && typeof fixed === "boolean")) {
    const text = Array.isArray(fixed) ? fixed.join(",") : String(fixed);
    if (text === "") return undefined;
    return `${code(text)}${style === "docs" && s.cliDefault !== undefined ? " (CLI)" : ""}`;
  }
  if (s.derive) return code(`${s.derive.from}${s.derive.divide ? ` / ${s.derive.divide}` : ""}`);
  return s.defaultText;
}

/** The --help line: the help, then "(env X, default V)" or "(env X; default: words)". */
export function helpLine(s: Setting): string {
  const env = s.env ? `env ${s.env}${s.type === "boolean" ? "=1" : ""}` : undefined;
  const fixed = s.defaultText === undefined || s.cliDefault !== undefined || (s.default !== undefined && typeof s.default !== "function");
  const d = defaultWords(s, "help");
  const parts = d === undefined ? [env] : fixed ? [env, `default ${d}`] : [env && `${env};`, `default: ${d}`];
  const inner = parts.filter(Boolean).join(fixed ? ", " : " ");
  return inner ? `${s.help} (${inner})` : s.help;
}

/** The markdown table of a settings table: key, flag, env, default, meaning. */
export function settingsTable(table: Settings): string {
  const code = (t: string | undefined) => (t ? `\`${t}\`` : "");
  const rows = Object.entries(table).map(([key, s]) => {
    const keyCell = s.option ? `${code(key)} / ${code(s.option)}` : code(key);
    const flag = s.flag ? code(`--${s.flag}`) : "";
    return `| ${keyCell} | ${flag} | ${code(s.env)} | ${defaultWords(s, "docs") ?? "unset"} | ${s.doc ?? s.help} |`;
  });
  return ["| key | flag | env | default | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}
