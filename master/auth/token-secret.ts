// Token secrets: generated from the OS CSPRNG, stored only as a salted scrypt hash. A token secret
// has 256 bits of entropy, so the hash protects a leaked database, not a guessable password; the
// scrypt cost is kept moderate (~10 ms) because verification happens once per token per master
// (the authenticator caches the verified token), never per call.
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { formatToken } from "../../src/core/token-format.js";

const COST = { N: 1 << 14, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(secret: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LENGTH, { ...cost, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** A new token: its public id, the full string to hand out once, and the secret alone (to hash). */
export function newToken(): { id: string; secret: string; token: string } {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, secret, token: formatToken(id, secret) };
}

/** "scrypt$N$r$p$<salt>$<hash>" (base64url), so the cost can be raised later without a migration. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(secret, salt, COST);
  return ["scrypt", COST.N, COST.r, COST.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const key = await derive(secret, Buffer.from(salt, "base64url"), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
