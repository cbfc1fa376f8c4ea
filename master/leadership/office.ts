// What the services ask about leadership: the term in office, if this master leads, and who leads.
import { NotLeaderError } from "../../src/core/errors.js";
import type { LeaderTerm } from "../leader-term.js";
import type { LeadershipView } from "./elector.js";

export interface Office {
  /** The current term, or null on a standby (and while this master is taking office). */
  term(): LeaderTerm | null;
  /** Who leads, as this master last saw it. */
  view(): LeadershipView;
  /** Counts of terms won and lost by this process. */
  terms(): { won: number; lost: number };
  /** The leader's address for a redirect ("" when unknown). */
  leaderAddress(): string;
}

/** The term in office; on a standby a NotLeaderError that names the leader (UNAVAILABLE + metadata). */
export function leading(office: Office): LeaderTerm {
  const term = office.term();
  if (term) return term;
  // Elected but still rebuilding: no address, so that a client does not loop back here at once.
  const view = office.view();
  throw new NotLeaderError(view.role === "leader" ? "" : office.leaderAddress());
}
