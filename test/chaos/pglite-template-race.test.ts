// Two first starts at once on an empty template cache (src/store/pglite-template.ts): each builds
// a template in its own child process and temp folder, one rename wins, and neither the template
// nor either data dir is damaged. In the chaos suite (a race, and two initdb runs take a while).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { openKnex } from "../../src/store/index.js";
import { ensurePgliteDataDir } from "../../src/store/pglite-init.js";
import { copyTemplate, templatePath } from "../../src/store/pglite-template.js";
import { openStore } from "../../src/store/store.js";

const test = suite("pglite template, concurrent first starts");

async function taskCount(dataDir: string): Promise<number> {
  const store = await openStore({ dataDir });
  await store.migrate();
  await store.close();
  const conn = await openKnex({ dataDir });
  try {
    const [{ n }] = await conn.knex("tasks").count<{ n: number }[]>({ n: "*" });
    return Number(n);
  } finally {
    await conn.close();
  }
}

test("two first starts at once both get a working database and leave one sound template", async () => {
  const root = await mkdtemp(join(tmpdir(), "taskgrid-template-race-"));
  try {
    const cacheDir = join(root, "cache");
    const [a, b] = await Promise.all([ensurePgliteDataDir(join(root, "a"), { cacheDir }), ensurePgliteDataDir(join(root, "b"), { cacheDir })]);
    assert.equal(a, { origin: "template", templateBuilt: true });
    assert.equal(b, { origin: "template", templateBuilt: true });
    const template = templatePath({ cacheDir });
    assert.equal(await readdir(dirname(template)), [template.slice(dirname(template).length + 1)], "one template, no temp folders left");
    // copyTemplate checks every file against the manifest: it throws on a damaged template.
    await copyTemplate(template, join(root, "c"));
    for (const dir of ["a", "b", "c"]) assert.is(await taskCount(join(root, dir)), 0, `${dir} is a working database`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
