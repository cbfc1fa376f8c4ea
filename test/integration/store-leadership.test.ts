// One database per backend for the suite; the tests run in order (the epochs carry on).
// The database side of leadership (DESIGN §9), on every backend: the epoch claim, the lease row,
// and the fence that makes a deposed leader's writes roll back. Postgres only: the advisory lock
// between two sessions, and ending a silent leader's sessions.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { FencedError } from "../../src/core/errors.js";
import { openStore, type TaskgridStore } from "../../src/store/index.js";
import pg from "pg";
import { applicationNameOf, fenceStatement } from "../../src/store/leader-sql.js";
import { backends } from "../helpers/db.js";
import { request, task } from "../helpers/store-rows.js";
import { eventually } from "../helpers/task-watch.js";

for (const backend of backends()) {
  const test = suite<{ store: TaskgridStore; fenced: FencedError[]; url: string | undefined; cleanup: () => Promise<void> }>(
    `store leadership [${backend.name}]`,
  );
  test.before(async (ctx) => {
    const db = await backend.create();
    const fenced: FencedError[] = [];
    const store = await openStore({ ...db.config, onFenced: (e) => fenced.push(e) });
    await store.migrate();
    Object.assign(ctx, { store, fenced, url: db.config.databaseUrl, cleanup: async () => (await store.close(), await db.cleanup()) });
  });
  test.after(async (ctx) => {
    await ctx.cleanup();
  });

  test("each claim takes the next epoch; renew holds only for the holder of the current epoch", async ({ store }) => {
    const lock = store.leaderLock(applicationNameOf("a"), 5000);
    try {
      assert.ok(await lock.tryAcquire());
      const before = await lock.read();
      assert.equal([before.epoch, before.holder], [0, ""], "a new database: nobody has led");
      const first = await lock.claim("a", "127.0.0.1:1", 5000);
      const second = await lock.claim("b", "127.0.0.1:2", 5000);
      assert.equal([first.epoch, second.epoch], [1, 2]);
      assert.not.ok(await lock.renew(1, "a"), "epoch 1 was superseded");
      assert.ok(await lock.renew(2, "b"));
      const row = await lock.read();
      assert.equal([row.epoch, row.holder, row.address, row.leaseMs], [2, "b", "127.0.0.1:2", 5000]);
      assert.ok(row.renewedAtMs > 0 && row.nowMs >= row.renewedAtMs);
      await lock.resign(2, "b");
      assert.is((await lock.read()).renewedAtMs, 0, "a resignation ends the lease at once");
    } finally {
      await lock.reset();
    }
  });

  test("a fenced store commits only under the database's epoch; a deposed epoch's write rolls back and is reported", async ({ store, fenced }) => {
    const lock = store.leaderLock(applicationNameOf("a"), 5000);
    try {
      const { epoch } = await lock.claim("a", "127.0.0.1:1", 5000);
      store.setFence(epoch);
      const t1 = task();
      assert.is((await store.submit(request(t1))).kind, "created");
      // The next leader claims; this store still writes under the old epoch.
      await lock.claim("b", "127.0.0.1:2", 5000);
      const t2 = task();
      const failed = await store.submit(request(t2)).then(
        () => null,
        (e: unknown) => e,
      );
      assert.instance(failed, FencedError);
      assert.is(fenced.length, 1, "the store reported the later epoch once");
      assert.equal([fenced[0].ownEpoch, fenced[0].currentEpoch], [epoch, epoch + 1]);
      assert.is(await store.getTask(t2.id), null, "nothing of the fenced transaction committed");
      assert.ok(await store.getTask(t1.id));
      // A job queued under one epoch never runs under the next one.
      store.setFence(null);
      const refused = await store
        .write([
          {
            kind: "append_event",
            event: { taskId: t1.id, state: "QUEUED", progress: 0, progressMessage: "", timeMs: 1, attemptId: "", workerId: "", result: null, actor: "" },
          },
        ])
        .then(
          () => null,
          (e: unknown) => e,
        );
      assert.instance(refused, FencedError);
      assert.is(fenced.length, 1, "a write refused before reaching the database is not a deposition");
    } finally {
      await lock.reset();
    }
  });

  if (backend.name === "postgres") {
    test("a long write transaction (the fence held) does not hold up the lease renewal, but a claim waits for it", async ({ store, url }) => {
      const lock = store.leaderLock(applicationNameOf("a"), 5000);
      const other = store.leaderLock(applicationNameOf("b"), 5000);
      const tx = new pg.Client({ connectionString: url });
      const probe = new pg.Client({ connectionString: url }); // outside tx: its statistics snapshot is per transaction
      await tx.connect();
      await probe.connect();
      try {
        const { epoch } = await lock.claim("a", "127.0.0.1:1", 5000);
        await tx.query("BEGIN");
        await tx.query(fenceStatement(epoch).sql);
        // The renewal goes through while the transaction is open (it would hang here under FOR SHARE).
        const renewed = await Promise.race([lock.renew(epoch, "a"), new Promise<string>((r) => setTimeout(() => r("blocked"), 5000).unref())]);
        assert.is(renewed, true, "renewed while a write transaction holds the fence");
        // A claim waits for the transaction: it shows as waiting on a lock until the COMMIT.
        let claimed = false;
        const claim = other.claim("b", "127.0.0.1:2", 5000).then(
          (c) => ((claimed = true), c),
          (e: unknown) => e as Error,
        );
        await eventually(async () => {
          const { rows } = await probe.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
          return rows[0].n >= 1;
        }, "the claim waits on the row lock");
        assert.not.ok(claimed, "no claim while the deposed epoch's transaction is open");
        await tx.query("COMMIT");
        const outcome = await claim;
        assert.not.instance(outcome, Error, String(outcome));
        assert.is((outcome as { epoch: number }).epoch, epoch + 1);
      } finally {
        await tx.end();
        await probe.end();
        await lock.reset();
        await other.reset();
      }
    });

    test("one session holds the advisory lock; ending a silent holder's sessions frees it for another", async ({ store }) => {
      const a = store.leaderLock(applicationNameOf("aaaa"), 5000);
      const b = store.leaderLock(applicationNameOf("bbbb"), 5000);
      try {
        assert.ok(await a.tryAcquire());
        assert.ok(await a.tryAcquire(), "holding it again is a no-op, not a second count");
        assert.not.ok(await b.tryAcquire(), "taken by the other session");
        const ended = await b.terminate("aaaa");
        assert.ok(ended >= 1, `ended ${ended} session(s)`);
        // The ended backend exits (and drops its locks) a moment after pg_terminate_backend returns.
        await eventually(() => b.tryAcquire(), "the lock died with the holder's session", 10_000);
        // The ended session notices at its next use: the lock is not its own any more.
        const again = await a.tryAcquire().catch(() => "error");
        assert.ok(again === "error" || again === false);
        assert.not.ok(await a.tryAcquire(), "a fresh session of the old holder cannot take it back");
      } finally {
        await a.reset();
        await b.reset();
      }
    });
  }

  test.run();
}
