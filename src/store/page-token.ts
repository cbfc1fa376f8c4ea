// Opaque keyset-pagination tokens for listTasks: the (created_at_ms, id) of the last task on the
// previous page. Keyset rather than OFFSET so that tasks inserted while a client pages through do
// not shift pages (no duplicates, no gaps) and deep pages cost the same as the first.
import { InvalidArgumentError } from "../core/errors.js";

export interface PageCursor {
  createdAtMs: number;
  id: string;
}

export function encodePageToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAtMs, cursor.id]), "utf8").toString("base64url");
}

/** "" means the first page; anything malformed is the client's error. */
export function decodePageToken(token: string): PageCursor | null {
  if (token === "") return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.length === 2 && Number.isSafeInteger(parsed[0]) && typeof parsed[1] === "string") {
      return { createdAtMs: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError("page_token", "is not a token returned by a previous call");
}
