// The authenticator against an in-memory token store and a hand-moved clock: it verifies a token
// once and then serves it from memory, forgets revoked and expired tokens (ending their streams),
// says nothing about a token to whoever lacks its secret, and brakes a peer that keeps failing.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Caller } from "../../src/core/access.js";
import { UnauthenticatedError } from "../../src/core/errors.js";
import type { TokenRecord, TokenStore } from "../../src/store/store-types.js";
import { Authenticator } from "../../master/auth/authenticator.js";
import { FailureLimiter, hostOf } from "../../master/auth/failure-limiter.js";
import { hashSecret, newToken, verifySecret } from "../../master/auth/token-secret.js";
import { createLogger } from "../../master/logger.js";

function memoryTokens() {
  const rows = new Map<string, TokenRecord>();
  let reads = 0;
  const store: TokenStore = {
    insert: async (t) => void rows.set(t.id, { ...t }),
    get: async (ids) => (reads++, ids.flatMap((id) => (rows.has(id) ? [{ ...rows.get(id)! }] : []))),
    list: async () => [...rows.values()],
    revoke: async (id, now) => {
      const row = rows.get(id);
      if (row && row.revokedAtMs === null) row.revokedAtMs = now;
      return row ?? null;
    },
    recordLastUsed: async (used) => used.forEach((ms, id) => rows.get(id) && (rows.get(id)!.lastUsedAtMs = ms)),
  };
  return { store, rows, reads: () => reads };
}

async function setup(extra: Partial<TokenRecord> = {}) {
  const tokens = memoryTokens();
  const { id, secret, token } = newToken();
  const record: TokenRecord = {
    id,
    name: "ci",
    project: "A",
    role: "submitter",
    workerPattern: "",
    secretHash: await hashSecret(secret),
    createdAtMs: 0,
    createdBy: "",
    expiresAtMs: null,
    lastUsedAtMs: null,
    revokedAtMs: null,
    ...extra,
  };
  await tokens.store.insert(record);
  const clock = {
    ms: 1_000,
    now() {
      return this.ms;
    },
  };
  const failures: string[] = [];
  const auth = new Authenticator({
    tokens: tokens.store,
    clock,
    log: createLogger({ level: "error", write: () => {} }),
    refreshMs: 1000,
    onFailure: (r) => failures.push(r),
    failureLimit: { burst: 3, refillPerSecond: 1 },
  });
  return { tokens, record, token, header: `Bearer ${token}`, clock, failures, auth };
}

const reasonOf = async (p: Caller | Promise<Caller>) => {
  try {
    await p;
    return "ok";
  } catch (err) {
    assert.instance(err, UnauthenticatedError);
    return (err as UnauthenticatedError).reason;
  }
};

test("token secrets: hash verifies only the same secret; a token is tg1.<id>.<secret>", async () => {
  const { id, secret, token } = newToken();
  assert.is(token, `tg1.${id}.${secret}`);
  const hash = await hashSecret(secret);
  assert.not.ok(hash.includes(secret));
  assert.ok(await verifySecret(secret, hash));
  assert.not.ok(await verifySecret(`${secret.slice(1)}x`, hash));
  assert.not.ok(await verifySecret(secret, "plain"));
});

test("a token is read and verified once, then answered from memory without waiting", async () => {
  const s = await setup();
  const first = await s.auth.authenticate(s.header, "ipv4:10.0.0.1:5000");
  assert.equal(first, { tokenId: s.record.id, role: "submitter", project: "A", workerPattern: "", actor: `token ${s.record.id} (ci)` });
  const second = s.auth.authenticate(s.header, "ipv4:10.0.0.1:5001");
  assert.not.instance(second, Promise, "cached: synchronous");
  assert.is(s.tokens.reads(), 1);
  // A burst of calls with a new token costs one read.
  const t = await setup();
  await Promise.all([t.auth.authenticate(t.header, "p:1"), t.auth.authenticate(t.header, "p:1"), t.auth.authenticate(t.header, "p:1")]);
  assert.is(t.tokens.reads(), 1);
});

test("admins see every project; the caller's project is null for them", async () => {
  const s = await setup({ role: "admin" });
  assert.is((await s.auth.authenticate(s.header, "p:1")).project, null);
});

test("unknown id and wrong secret read the same; revoked/expired are told only with the secret", async () => {
  const s = await setup({ revokedAtMs: 5 });
  const wrong = `Bearer tg1.${s.record.id}.${"B".repeat(43)}`;
  const unknown = `Bearer tg1.ffffffffffffffff.${"B".repeat(43)}`;
  const messages: string[] = [];
  for (const h of [wrong, unknown]) {
    try {
      await s.auth.authenticate(h, "p:1");
    } catch (err) {
      messages.push((err as Error).message);
    }
  }
  assert.is(messages.length, 2);
  assert.is(messages[0], messages[1]);
  assert.is(await reasonOf(s.auth.authenticate(s.header, "p:2")), "revoked");
  assert.equal(s.failures, ["bad_secret", "unknown", "revoked"]);
});

test("expiry: a cached token stops working when the clock passes expires_at", async () => {
  const s = await setup({ expiresAtMs: 2_000 });
  assert.is(await reasonOf(s.auth.authenticate(s.header, "p:1")), "ok");
  s.clock.ms = 2_000;
  assert.is(await reasonOf(s.auth.authenticate(s.header, "p:1")), "expired");
});

test("revocation: local revoke and a refresh that sees another master's revoke both end the token's streams", async () => {
  const s = await setup();
  const caller = await s.auth.authenticate(s.header, "p:1");
  const ended: string[] = [];
  s.auth.track(caller, (e) => ended.push(`a:${e.reason}`));
  const untrack = s.auth.track(caller, (e) => ended.push(`b:${e.reason}`));
  untrack();
  await s.tokens.store.revoke(s.record.id, s.clock.now()); // as RevokeToken does: the row first, then the cache
  s.auth.revoked(s.record.id);
  assert.equal(ended, ["a:revoked"]);
  assert.is(await reasonOf(s.auth.authenticate(s.header, "p:1")), "revoked");

  const o = await setup();
  const c2 = await o.auth.authenticate(o.header, "p:1");
  const ended2: string[] = [];
  o.auth.track(c2, (e) => ended2.push(e.reason));
  await o.auth.refresh();
  assert.equal(ended2, [], "still valid: nothing ends");
  o.tokens.rows.get(o.record.id)!.revokedAtMs = 1_500; // revoked through another master
  await o.auth.refresh();
  assert.equal(ended2, ["revoked"]);
  assert.is(await reasonOf(o.auth.authenticate(o.header, "p:1")), "revoked");
});

test("last-used times are written in batches, not per call", async () => {
  const s = await setup();
  for (let i = 0; i < 5; i++) await s.auth.authenticate(s.header, "p:1");
  await s.auth.refresh();
  assert.is(s.tokens.rows.get(s.record.id)!.lastUsedAtMs, null, "not yet a minute");
  s.clock.ms += 60_000;
  await s.auth.authenticate(s.header, "p:1");
  await s.auth.refresh();
  assert.is(s.tokens.rows.get(s.record.id)!.lastUsedAtMs, s.clock.ms);
});

test("brute force: a peer that used its failures is refused without a lookup; a verified token still works", async () => {
  const s = await setup();
  await s.auth.authenticate(s.header, "ipv4:10.0.0.9:1");
  const readsBefore = s.tokens.reads();
  for (let i = 0; i < 3; i++) assert.is(await reasonOf(s.auth.authenticate(`Bearer tg1.ffffffffffffffff.${"C".repeat(43)}`, `ipv4:10.0.0.9:${i}`)), "unknown");
  assert.is(await reasonOf(s.auth.authenticate(`Bearer tg1.ffffffffffffffff.${"C".repeat(43)}`, "ipv4:10.0.0.9:77")), "rate_limited");
  assert.is(await reasonOf(s.auth.authenticate("garbage", "ipv4:10.0.0.9:78")), "rate_limited");
  assert.is(s.tokens.reads() - readsBefore, 3, "no lookups once limited");
  assert.is(await reasonOf(s.auth.authenticate(s.header, "ipv4:10.0.0.9:79")), "ok");
  assert.is(await reasonOf(s.auth.authenticate("garbage", "ipv4:10.0.0.10:1")), "malformed", "another peer is not braked");
  s.clock.ms += 1_000;
  assert.is(await reasonOf(s.auth.authenticate("garbage", "ipv4:10.0.0.9:80")), "malformed", "refilled one");
});

test("failure limiter: hosts of grpc peers; refill is capped at the burst", () => {
  assert.is(hostOf("ipv4:10.1.2.3:5000"), "10.1.2.3");
  assert.is(hostOf("ipv6:[::1]:5000"), "::1");
  assert.is(hostOf("127.0.0.1:1"), "127.0.0.1");
  const clock = { ms: 0 };
  const limiter = new FailureLimiter({ burst: 2, refillPerSecond: 1, now: () => clock.ms });
  limiter.recordFailure("h:1");
  limiter.recordFailure("h:1");
  assert.not.ok(limiter.allowed("h:2"));
  assert.is(limiter.retryAfterSeconds("h:2"), 1);
  clock.ms = 100_000;
  limiter.recordFailure("h:1");
  limiter.recordFailure("h:1");
  assert.not.ok(limiter.allowed("h:1"), "the long pause refilled only up to the burst");
});

test.run();
