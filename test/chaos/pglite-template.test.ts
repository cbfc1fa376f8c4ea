// The PGlite data-dir template (src/store/pglite-template.ts): a fresh data dir copied from it is a
// working database with every migration applied and the same schema as one made by initdb +
// migrate; a damaged template is detected, removed and built again; without a usable cache the
// database is built straight into the data dir. Each test uses its own cache dir (never the
// user's), so every build here is a real initdb in a real child process: four of them, so the file
// runs with the chaos suite (a damaged template is a fault), not in npm test's budget.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openKnex } from "../../src/store/index.js";
import { ensurePgliteDataDir } from "../../src/store/pglite-init.js";
import { copyTemplate, ensureTemplate, TemplateCorruptError, templatePath } from "../../src/store/pglite-template.js";
import { openStore } from "../../src/store/store.js";

const test = suite("pglite template");
let root = "";

/** Tables, columns, indexes and applied migrations: what must not differ between two databases. */
async function schemaOf(dataDir: string): Promise<{ columns: unknown[]; indexes: unknown[]; migrations: string[] }> {
  const conn = await openKnex({ dataDir });
  try {
    const columns = await conn.knex.raw(
      "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
    );
    const indexes = await conn.knex.raw("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2");
    const migrations = await conn.knex.raw("SELECT name FROM taskgrid_migrations ORDER BY id");
    return { columns: columns.rows, indexes: indexes.rows, migrations: migrations.rows.map((r: { name: string }) => r.name) };
  } finally {
    await conn.close();
  }
}

/** The master's path: open the store and run its migration check; then a query on the tasks table. */
async function works(dataDir: string): Promise<void> {
  const store = await openStore({ dataDir });
  await store.migrate();
  await store.close();
  const conn = await openKnex({ dataDir });
  try {
    const [{ n }] = await conn.knex("tasks").count<{ n: number }[]>({ n: "*" });
    assert.is(Number(n), 0, "a fresh database has no tasks");
  } finally {
    await conn.close();
  }
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), "taskgrid-template-test-"));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test("a data dir copied from the template has every migration and initdb + migrate's schema", async () => {
  const cacheDir = join(root, "cache");
  const first = await ensurePgliteDataDir(join(root, "from-template"), { cacheDir });
  assert.equal(first, { origin: "template", templateBuilt: true }, "the first start builds the template and copies it");
  const second = await ensurePgliteDataDir(join(root, "from-template-2"), { cacheDir });
  assert.equal(second, { origin: "template", templateBuilt: false }, "the next one only copies");
  assert.equal(await ensurePgliteDataDir(join(root, "from-template-2"), { cacheDir }), { origin: "existing", templateBuilt: false });

  // A cache dir that cannot be created (a file is in the way): built straight into the data dir.
  const blocked = join(root, "not-a-dir");
  await writeFile(blocked, "");
  const direct = await ensurePgliteDataDir(join(root, "initdb"), { cacheDir: blocked });
  assert.is(direct.origin, "built");
  assert.ok(direct.templateProblem, "says why the template was not used");

  const fromTemplate = await schemaOf(join(root, "from-template"));
  const fromInitdb = await schemaOf(join(root, "initdb"));
  assert.ok(fromTemplate.migrations.length >= 12, `every migration applied (${fromTemplate.migrations.length})`);
  assert.ok(fromTemplate.columns.length > 50, "tables and columns are there");
  assert.equal(fromTemplate, fromInitdb);
  await works(join(root, "from-template"));
  await works(join(root, "from-template-2"));
  assert.equal((await schemaOf(join(root, "from-template"))).migrations, fromInitdb.migrations, "the migration check found nothing to do");
});

test("a damaged template is removed and built again", async () => {
  const cacheDir = join(root, "cache");
  const template = templatePath({ cacheDir });
  // Flip bytes in the middle of the biggest relation file of the template.
  const catalog = join(template, "data", "global");
  const files = await readdir(catalog);
  const victim = join(catalog, files.find((f) => /^\d+$/.test(f)) ?? files[0]);
  const bytes = await readFile(victim);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  await writeFile(victim, bytes);

  const outcome = await ensurePgliteDataDir(join(root, "after-damage"), { cacheDir });
  assert.is(outcome.origin, "template");
  assert.ok(outcome.templateBuilt, "built again");
  assert.match(outcome.templateProblem ?? "", /damaged/);
  await works(join(root, "after-damage"));
  assert.ok(!(await readFile(victim)).equals(bytes), "the damaged file was replaced");
});

test("a template without its manifest is refused, and the data dir is left without PG_VERSION", async () => {
  const fake = join(root, "fake-template");
  await mkdir(join(fake, "data"), { recursive: true });
  await writeFile(join(fake, "data", "PG_VERSION"), "17\n");
  const dataDir = join(root, "from-fake");
  try {
    await copyTemplate(fake, dataDir);
    assert.unreachable("copied a template without manifest");
  } catch (err) {
    assert.instance(err, TemplateCorruptError);
  }
  assert.equal(await readdir(dataDir).catch(() => []), [], "nothing copied");

  // The same folder where a template belongs: ensureTemplate refuses it (ensurePgliteDataDir then
  // removes it and builds again, as for the damaged template above).
  const cacheDir = join(root, "cache-with-fake");
  await mkdir(templatePath({ cacheDir }), { recursive: true });
  try {
    await ensureTemplate({ cacheDir });
    assert.unreachable("used a template folder without manifest");
  } catch (err) {
    assert.instance(err, TemplateCorruptError);
  }
});

test.run();
