// Read-only cluster views: `workers` (table, or one worker in detail) and `info` (scheduler state).
import { GetSchedulerInfoResponse, ListWorkersResponse, Worker } from "../../gen/taskgrid/v1/admin_service.js";
import { boolFlag, listFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { formatSchedulerInfo, formatWorkerDetail, formatWorkerTable } from "../render-cluster.js";
import { parseList } from "../parse.js";
import { UsageError } from "../usage-error.js";
import { WorkerStatus } from "../../gen/taskgrid/v1/types.js";

const STATUSES: Record<string, WorkerStatus> = {
  ONLINE: WorkerStatus.WORKER_STATUS_ONLINE,
  SUSPECT: WorkerStatus.WORKER_STATUS_SUSPECT,
  OFFLINE: WorkerStatus.WORKER_STATUS_OFFLINE,
  DRAINING: WorkerStatus.WORKER_STATUS_DRAINING,
};

function parseStatuses(texts: string[]): WorkerStatus[] {
  return parseList(texts).map((t) => {
    const s = STATUSES[t.toUpperCase().replace(/^WORKER_STATUS_/, "")];
    if (s === undefined) throw new UsageError(`--status: "${t}" is not one of online, suspect, offline, draining`);
    return s;
  });
}

export const workersCommand: Command = {
  name: "workers",
  summary: "List workers (or show one in detail)",
  usage: "workers [flags] [WORKER_ID]",
  flags: {
    status: { type: "string", value: "STATUS[,STATUS]", multiple: true, description: "only workers with these statuses" },
    ...CLIENT_FLAGS,
  },
  async run(args, io) {
    if (args.positionals.length > 1) throw new UsageError("workers takes at most one worker id");
    const statuses = parseStatuses(listFlag(args, "status"));
    const json = boolFlag(args, "json");
    return withClient(args, io, async (client) => {
      if (args.positionals.length === 1) {
        const worker = await client.getWorker(args.positionals[0]);
        if (json) printJson(io, Worker.toJSON(worker));
        else io.out(formatWorkerDetail(worker, io.now()));
        return 0;
      }
      const workers = await client.listWorkers(statuses);
      if (json) printJson(io, ListWorkersResponse.toJSON({ workers }));
      else io.out(formatWorkerTable(workers, io.now()));
      return 0;
    });
  },
};

export const infoCommand: Command = {
  name: "info",
  summary: "Show the scheduler: ordering, placement, weights, decisions, fallbacks, queues, workers",
  usage: "info [flags]",
  flags: { ...CLIENT_FLAGS },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError("info takes no arguments");
    return withClient(args, io, async (client) => {
      const info = await client.getSchedulerInfo();
      if (boolFlag(args, "json")) printJson(io, GetSchedulerInfoResponse.toJSON(info));
      else io.out(formatSchedulerInfo(info, io.now()));
      return 0;
    });
  },
};
