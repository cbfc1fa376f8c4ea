// How `get` shows a task's environment: its size and names; the values only when asked (get --env).
//
// Why not the values by default: `sbatch` copies the submitter's whole environment into the task
// (--export=ALL, Slurm's default), dozens of variables, often with a token or password among them,
// and anyone who may read the task may run `get`. Slurm users do not see a job's environment in
// `scontrol show job` either (it is read on request, as with `sacct --env-vars`); kubectl users see
// a Secret-backed variable as a reference, never its value. So the default is what tells a user
// "is FOO set?" (the names, counted), and the values are one flag away. `--json` stays complete: it
// is the API's view, for programs, and hiding there would break scripts that read a task back.

/** The names on the Env line of `get`, at most this many characters (the count says how many there are). */
const NAMES_WIDTH = 120;

/** "3 variables (values hidden, ...): A, B, C" (cut with "+N more" past NAMES_WIDTH); undefined for no env. */
export function envSummary(env: Readonly<Record<string, string>>, valuesShown: boolean): string | undefined {
  const names = Object.keys(env);
  if (names.length === 0) return undefined;
  const counted = `${names.length} variable${names.length === 1 ? "" : "s"}`;
  if (valuesShown) return `${counted} (under Environment)`;
  let shown = "";
  let count = 0;
  for (const name of names) {
    const next = shown === "" ? name : `${shown}, ${name}`;
    if (next.length > NAMES_WIDTH && count > 0) break;
    shown = next;
    count++;
  }
  const more = count < names.length ? `, ... (+${names.length - count} more)` : "";
  return `${counted} (values hidden, get --env shows them): ${shown}${more}`;
}

/** "Environment:" and one NAME=value line each, a value with control characters (a newline) escaped so each stays one line. */
export function envValueLines(env: Readonly<Record<string, string>>): string {
  const lines = Object.entries(env).map(([name, value]) => `  ${name}=${printable(value)}\n`);
  return lines.length > 0 ? `Environment:\n${lines.join("")}` : "";
}

function printable(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return /[\u0000-\u001f\u007f-\u009f]/.test(value) ? JSON.stringify(value) : value;
}
