// A config file read against a settings table: JSON (when it starts with "{") or YAML (the `yaml`
// package, YAML 1.2 core schema). Keys are the table's, in camelCase or snake_case; a setting with
// an `option` path ("tls.certFile") may also be given nested ("tls": {"cert_file": ...}). Unknown
// keys, nested values elsewhere, a key given twice and bad values are usage errors that name the
// file and the key as written; null (or YAML `~`, or nothing after the colon) leaves a setting unset.
import { isMap, LineCounter, parseDocument } from "yaml";
import { camelCase, expected, isNot, snakeCase, type Settings } from "../config/schema.js";
import { checkRequires, type Sourced } from "./setting-flags.js";
import { UsageError } from "./usage-error.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The file's text as a plain object of settings. */
export function parseSettingsText(text: string, file: string): Record<string, unknown> {
  if (/^\s*\{/.test(text)) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`${file}: invalid JSON (${(err as Error).message})`);
    }
    if (!isObject(raw)) throw new UsageError(`${file}: expected an object of settings`);
    return raw;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, schema: "core" });
  const at = (offset: number) => `${file}:${lines.linePos(offset).line}`;
  const [error] = doc.errors;
  if (error) throw new UsageError(`${at(error.pos[0])}: invalid YAML (${error.message.split("\n")[0]})`);
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) throw new UsageError(`${at(doc.contents.range?.[0] ?? 0)}: expected "key: value" lines (a YAML mapping of settings)`);
  return doc.toJS() as Record<string, unknown>;
}

/** Reads a config file's settings; the values are checked, and settings that go together are complete. */
export function readConfigFile<T extends Settings>(table: T, text: string, file: string): Sourced<T> {
  const raw = parseSettingsText(text, file);
  // Nested groups: "tls" -> { certFile: "tlsCert", ... } from the `option` paths.
  const groups: Record<string, Record<string, string>> = {};
  for (const [key, s] of Object.entries(table)) {
    const dot = s.option?.indexOf(".") ?? -1;
    if (s.option && dot > 0) (groups[s.option.slice(0, dot)] ??= {})[s.option.slice(dot + 1)] = key;
  }
  const values: Record<string, unknown> = {};
  const written: Record<string, string> = {};
  const take = (key: string, asWritten: string, v: unknown) => {
    if (written[key] !== undefined) throw new UsageError(`${file}: ${asWritten}: given twice (also as ${written[key]})`);
    written[key] = asWritten;
    if (v === null || v === undefined) return;
    const what = expected(table[key], v, true);
    if (what !== undefined) throw new UsageError(isNot(`${file}: ${asWritten}`, v, what));
    values[key] = v;
  };
  for (const [name, v] of Object.entries(raw)) {
    const key = camelCase(name);
    if (Object.hasOwn(table, key)) {
      take(key, name, v);
      continue;
    }
    const group = Object.hasOwn(groups, key) ? groups[key] : undefined;
    if (!group) {
      const known = [...Object.keys(table), ...Object.keys(groups)].map((k) => (name.includes("_") ? snakeCase(k) : k));
      throw new UsageError(`${file}: unknown key "${name}" (known: ${known.join(", ")})`);
    }
    if (v === null) continue;
    const fields = Object.keys(group).map(snakeCase).join(", ");
    if (!isObject(v)) throw new UsageError(`${file}: ${name}: expected an object with the keys ${fields}`);
    for (const [sub, subValue] of Object.entries(v)) {
      const field = camelCase(sub);
      if (!Object.hasOwn(group, field)) throw new UsageError(`${file}: ${name}.${sub}: unknown key (known: ${fields})`);
      take(group[field], `${name}.${sub}`, subValue);
    }
  }
  const sources = Object.fromEntries(Object.entries(written).map(([k, w]) => [k, `${file}: ${w}`]));
  const result = { values, sources } as Sourced<T>;
  // A missing partner is named in the style of the key that was given (tls_cert -> tls_key, tls.cert_file -> tls.key_file).
  checkRequires(table, result, (missing, given) => {
    const asWritten = given.slice(file.length + 2);
    const name = asWritten.includes(".") ? `${asWritten.slice(0, asWritten.indexOf("."))}.${table[missing].option?.split(".").pop()}` : missing;
    return `${file}: ${/_/.test(asWritten) ? snakeCase(name) : name}`;
  });
  return result;
}
