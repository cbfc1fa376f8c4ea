// TaskService.ListHistory (issue 17): finished tasks with their accounting, from the database, so
// any master answers (standbys too). A caller of one project sees only that project, as ListTasks.
import { visibleProjectFilter, type Caller } from "../../src/core/access.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { hasNul, noNul } from "../../src/core/text-rules.js";
import type { HistoryRow as ProtoHistoryRow, ListHistoryRequest, ListHistoryResponse } from "../../src/gen/taskgrid/v1/history.js";
import { ENDED_STATES, type EndedState, type HistoryRow } from "../../src/store/history-sql.js";
import { decodePageToken } from "../../src/store/page-token.js";
import type { Store } from "../../src/store/store-types.js";
import { taskStateEnum } from "../convert/enums.js";

export const DEFAULT_HISTORY_PAGE = 100;
export const MAX_HISTORY_PAGE = 1000;

export async function listHistory(store: Store, req: ListHistoryRequest, caller: Caller): Promise<ListHistoryResponse> {
  const pageSize = req.pageSize === 0 ? DEFAULT_HISTORY_PAGE : req.pageSize;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_HISTORY_PAGE) {
    throw new InvalidArgumentError("page_size", `must be 1..${MAX_HISTORY_PAGE} (got ${req.pageSize})`);
  }
  const sinceMs = req.since?.getTime();
  const untilMs = req.until?.getTime();
  if (sinceMs !== undefined && untilMs !== undefined && untilMs <= sinceMs) {
    throw new InvalidArgumentError("until", `must be after since (got until ${req.until!.toISOString()} <= since ${req.since!.toISOString()})`);
  }
  const states = req.states.map((s, i) => endedState(taskStateEnum.toDomain(s, `states[${i}]`), `states[${i}]`));
  if (req.label && !/^[^=]+=.*$/.test(req.label)) throw new InvalidArgumentError("label", 'must be "key=value"');
  noNul("project", req.project);
  noNul("label", req.label);
  noNul("kind", req.kind);
  // A token is base64url (never NUL), but a forged one can decode to an id holding one.
  if (hasNul(decodePageToken(req.pageToken)?.id ?? "")) throw new InvalidArgumentError("page_token", "is not a token returned by a previous call");
  const visible = visibleProjectFilter(caller, req.project);
  if (visible.empty) return { rows: [], nextPageToken: "" };
  const page = await store.history.list(
    { sinceMs, untilMs, states, project: visible.project || undefined, label: req.label || undefined, kind: req.kind || undefined },
    pageSize,
    req.pageToken,
  );
  return { rows: page.rows.map(historyRowToProto), nextPageToken: page.nextPageToken };
}

function endedState(state: string, field: string): EndedState {
  if ((ENDED_STATES as readonly string[]).includes(state)) return state as EndedState;
  throw new InvalidArgumentError(field, `must be SUCCEEDED, FAILED or CANCELED: history holds finished tasks (got ${state})`);
}

export function historyRowToProto(row: HistoryRow): ProtoHistoryRow {
  return {
    taskId: row.taskId,
    name: row.name,
    project: row.project,
    kind: row.kind,
    state: taskStateEnum.toProto(row.state),
    exitCode: row.exitCode,
    signal: row.signal,
    workerId: row.workerId,
    attempts: row.attempts,
    submittedAt: new Date(row.submittedAtMs),
    startedAt: row.startedAtMs === null ? undefined : new Date(row.startedAtMs),
    endedAt: new Date(row.endedAtMs),
    waitMs: row.startedAtMs === null ? undefined : Math.max(0, row.startedAtMs - row.submittedAtMs),
    runMs: row.runMs,
    cpuTimeMs: row.cpuTimeMs ?? undefined,
    maxRssKib: row.maxRssKib ?? undefined,
    gpuSeconds: row.gpuMs / 1000,
    labels: row.labels,
  };
}
