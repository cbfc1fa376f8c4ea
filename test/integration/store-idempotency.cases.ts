// The store suite's idempotency-key cases (store.test.ts registers them on its suite, so they share
// its database per backend): a retry with the same spec gets the task back, another spec is a
// conflict, within one batch of concurrent submits too, and keys are scoped per project.
import type { Test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import type { StoreConfig, TaskgridStore } from "../../src/store/index.js";
import { request, task } from "../helpers/store-rows.js";

export interface IdempotencyContext {
  store(): TaskgridStore;
  config(): StoreConfig;
  postgres: boolean;
}

export function idempotencyTests(test: Test, ctx: IdempotencyContext): void {
  test("idempotency keys: existing for the same spec, conflict for another", async () => {
    const original = task({ idempotencyKey: "key-1", name: "x" });
    assert.is((await ctx.store().submit(request(original))).kind, "created");
    const retry = task({ idempotencyKey: "key-1", name: "x" });
    assert.equal(await ctx.store().submit(request(retry)), { kind: "existing", tasks: [original] });
    const other = task({ idempotencyKey: "key-1", name: "y" });
    assert.equal(await ctx.store().submit(request(other)), { kind: "conflict", idempotencyKey: "key-1", existingTaskId: original.id });
    assert.is(await ctx.store().getTask(retry.id), null);
    assert.is(await ctx.store().getTask(other.id), null);
    // Empty keys never collide.
    assert.is((await ctx.store().submit(request(task(), task()))).kind, "created");
  });

  test("idempotency keys within one batch of concurrent submits", async () => {
    const x = task({ idempotencyKey: "key-2", name: "same" });
    const y = task({ idempotencyKey: "key-2", name: "same" });
    const z = task({ idempotencyKey: "key-2", name: "different" });
    const before = ctx.store().stats().batches;
    const outcomes = await Promise.all([ctx.store().submit(request(x)), ctx.store().submit(request(y)), ctx.store().submit(request(z))]);
    assert.is(ctx.store().stats().batches, before + 1, "the three submits shared one batch");
    assert.equal(outcomes, [
      { kind: "created", tasks: [x] },
      { kind: "existing", tasks: [x] },
      { kind: "conflict", idempotencyKey: "key-2", existingTaskId: x.id },
    ]);
    assert.ok(await ctx.store().getTask(x.id));
    assert.is(await ctx.store().getTask(y.id), null);
    // A key repeated inside one request is a conflict too.
    const dupA = task({ idempotencyKey: "key-3" });
    const dupB = task({ idempotencyKey: "key-3" });
    assert.equal(await ctx.store().submit(request(dupA, dupB)), { kind: "conflict", idempotencyKey: "key-3", existingTaskId: dupA.id });
  });

  test("idempotency keys are scoped per project", async () => {
    // One spec hash for all three: were keys global, b would come back as a's task ("existing").
    const a = task({ project: "tenant-a", idempotencyKey: "shared-key", name: "x" }, { specHash: "same-spec" });
    const b = task({ project: "tenant-b", idempotencyKey: "shared-key", name: "x" }, { specHash: "same-spec" });
    // Another spec: were keys global, this would be a conflict naming a's id.
    const c = task({ project: "tenant-c", idempotencyKey: "shared-key", name: "y" });
    assert.equal(await ctx.store().submit(request(a)), { kind: "created", tasks: [a] });
    assert.equal(await ctx.store().submit(request(b)), { kind: "created", tasks: [b] });
    assert.equal(await ctx.store().submit(request(c)), { kind: "created", tasks: [c] });
    assert.equal(await ctx.store().getTask(a.id), a);
    assert.equal(await ctx.store().getTask(b.id), b);
    assert.equal(await ctx.store().getTask(c.id), c);
    assert.equal((await ctx.store().listTasks({ project: "tenant-b" }, 10, "")).tasks, [b]);
    // Within one project nothing changed: a retry gets the project's own task, another spec a
    // conflict naming the project's own task.
    const retryB = task({ project: "tenant-b", idempotencyKey: "shared-key", name: "x" }, { specHash: "same-spec" });
    assert.equal(await ctx.store().submit(request(retryB)), { kind: "existing", tasks: [b] });
    const otherB = task({ project: "tenant-b", idempotencyKey: "shared-key", name: "z" });
    assert.equal(await ctx.store().submit(request(otherB)), { kind: "conflict", idempotencyKey: "shared-key", existingTaskId: b.id });
    assert.is(await ctx.store().getTask(retryB.id), null);
    assert.is(await ctx.store().getTask(otherB.id), null);
    // One request holding the key in two new projects creates both; twice in one project conflicts.
    const d = task({ project: "tenant-d", idempotencyKey: "shared-key" });
    const e = task({ project: "tenant-e", idempotencyKey: "shared-key" });
    assert.equal(await ctx.store().submit(request(d, e)), { kind: "created", tasks: [d, e] });
    const f1 = task({ project: "tenant-f", idempotencyKey: "shared-key" });
    const f2 = task({ project: "tenant-f", idempotencyKey: "shared-key" });
    assert.equal(await ctx.store().submit(request(f1, f2)), { kind: "conflict", idempotencyKey: "shared-key", existingTaskId: f1.id });
  });

  test("idempotency keys per project within one batch of concurrent submits", async () => {
    const a1 = task({ project: "batch-a", idempotencyKey: "key-4", name: "same" }, { specHash: "h" });
    const b1 = task({ project: "batch-b", idempotencyKey: "key-4", name: "same" }, { specHash: "h" });
    const a2 = task({ project: "batch-a", idempotencyKey: "key-4", name: "same" }, { specHash: "h" });
    const b2 = task({ project: "batch-b", idempotencyKey: "key-4", name: "different" }, { specHash: "other" });
    const c1 = task({ project: "batch-c", idempotencyKey: "key-4", name: "different" }, { specHash: "other" });
    const before = ctx.store().stats().batches;
    const outcomes = await Promise.all([a1, b1, a2, b2, c1].map((t) => ctx.store().submit(request(t))));
    assert.is(ctx.store().stats().batches, before + 1, "the five submits shared one batch");
    assert.equal(outcomes, [
      { kind: "created", tasks: [a1] },
      { kind: "created", tasks: [b1] },
      { kind: "existing", tasks: [a1] },
      { kind: "conflict", idempotencyKey: "key-4", existingTaskId: b1.id },
      { kind: "created", tasks: [c1] },
    ]);
    for (const t of [a1, b1, c1]) assert.equal(await ctx.store().getTask(t.id), t);
    for (const t of [a2, b2]) assert.is(await ctx.store().getTask(t.id), null);
    // A committed key of one project does not block the same key, in one batch, for another.
    const a3 = task({ project: "batch-a", idempotencyKey: "key-4", name: "same" }, { specHash: "h" });
    const d1 = task({ project: "batch-d", idempotencyKey: "key-4", name: "same" }, { specHash: "h" });
    assert.equal(await Promise.all([ctx.store().submit(request(a3)), ctx.store().submit(request(d1))]), [
      { kind: "existing", tasks: [a1] },
      { kind: "created", tasks: [d1] },
    ]);
  });

  if (ctx.postgres) {
    test("the unique index on idempotency keys is per project", async () => {
      const client = new pg.Client({ connectionString: ctx.config().databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ indexname: string; indexdef: string }>(
          `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks' AND indexdef LIKE '%idempotency_key%'`,
        );
        assert.equal(
          rows.map((r) => r.indexname),
          ["tasks_project_idempotency_key_idx"],
        );
        assert.match(rows[0].indexdef, /UNIQUE INDEX .* \(project, idempotency_key\) WHERE \(idempotency_key IS NOT NULL\)/);
      } finally {
        await client.end();
      }
    });
  }
}
