// The bearer token a client presents: "tg1.<id>.<secret>". The id is public (it names the token in
// lists, audit records and revocations); only the secret is checked against the stored hash. The
// version prefix lets the format change without guessing. Parsing is strict and bounded, so garbage
// or a huge header costs nothing and never reaches the database.
import { UnauthenticatedError } from "./errors.js";

export const TOKEN_VERSION = "tg1";
/** 8 random bytes as hex. */
export const TOKEN_ID_PATTERN = /^[0-9a-f]{16}$/;
/** 32 random bytes as base64url. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Longer values are rejected before any parsing. */
export const MAX_AUTHORIZATION_LENGTH = 256;

export interface PresentedToken {
  id: string;
  secret: string;
}

export function formatToken(id: string, secret: string): string {
  return `${TOKEN_VERSION}.${id}.${secret}`;
}

/** Parses a bare token ("tg1.<id>.<secret>"). */
export function parseToken(value: string): PresentedToken {
  const parts = value.split(".");
  if (parts.length !== 3 || parts[0] !== TOKEN_VERSION || !TOKEN_ID_PATTERN.test(parts[1]!) || !SECRET_PATTERN.test(parts[2]!)) {
    throw new UnauthenticatedError("malformed", `authorization: not a Taskgrid token (expected "Bearer ${TOKEN_VERSION}.<id>.<secret>")`);
  }
  return { id: parts[1]!, secret: parts[2]! };
}

/** Parses the `authorization` metadata value ("Bearer <token>"); undefined means none was sent. */
export function parseAuthorization(value: string | undefined): PresentedToken {
  if (value === undefined || value === "") throw new UnauthenticatedError("missing", 'authorization: required (metadata "authorization: Bearer <token>")');
  if (value.length > MAX_AUTHORIZATION_LENGTH) throw new UnauthenticatedError("malformed", `authorization: at most ${MAX_AUTHORIZATION_LENGTH} characters`);
  const match = /^Bearer +(\S+)$/i.exec(value.trim());
  if (!match) throw new UnauthenticatedError("malformed", 'authorization: must be "Bearer <token>"');
  return parseToken(match[1]!);
}
