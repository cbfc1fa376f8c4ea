// The commands README.md and docs/*.md tell a newcomer to type exist (issue 17): every `npm run X`
// is a script of package.json, and every `taskgrid VERB` in code (backticks or a code block) is a
// verb of the CLI. A renamed script or verb that the docs still mention fails here.
import { readdirSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { COMMANDS } from "../../src/cli/main.js";

const root = new URL("../../", import.meta.url);
const docs = [
  "README.md",
  ...readdirSync(new URL("docs/", root))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

/** The code of a markdown file: fenced blocks and `inline spans`. */
function codeOf(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1]);
  const prose = markdown.replace(/```[^\n]*\n[\s\S]*?```/g, "");
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...blocks, ...spans];
}

test("every `npm run X` in the docs is a script of package.json", () => {
  const scripts = Object.keys(JSON.parse(read("package.json")).scripts);
  const missing: string[] = [];
  for (const doc of docs) {
    for (const m of read(doc).matchAll(/npm run ([\w:-]+)/g)) if (!scripts.includes(m[1])) missing.push(`${doc}: npm run ${m[1]}`);
  }
  assert.equal(missing, []);
});

test("every `taskgrid VERB` in the docs' code is a verb of the CLI", () => {
  const verbs = new Set(COMMANDS.map((c) => c.name));
  const missing: string[] = [];
  let seen = 0;
  for (const doc of docs) {
    for (const code of codeOf(read(doc))) {
      // "taskgrid" at a command's start: after a line start, a pipe, `;`, `&&`, `$(`, `(`, or `npx`.
      for (const m of code.matchAll(/(?:^|[|;&(]\s*|\bnpx\s+)taskgrid\s+([a-z][\w-]*)/gm)) {
        seen++;
        if (!verbs.has(m[1])) missing.push(`${doc}: taskgrid ${m[1]}`);
      }
    }
  }
  assert.ok(seen > 20, `only ${seen} commands found: the extraction is broken`);
  assert.equal(missing, []);
});

test("npm start runs the dev verb (through bin/taskgrid.js: the compiled CLI when it is up to date)", () => {
  assert.match(JSON.parse(read("package.json")).scripts.start, /bin\/taskgrid\.js dev$/);
});

test.run();
