// `taskgrid shares`: fair share per project, like Slurm's sshare (issue 15): shares, decayed usage,
// the fair-share factor F = 2^(-usage_norm / shares_norm), running and queued tasks.
import { GetSharesResponse } from "../../gen/taskgrid/v1/admin_service.js";
import { boolFlag } from "../args.js";
import { CLIENT_FLAGS, printJson, withClient, type Command } from "../command.js";
import { formatSharesTable } from "../render-sharing.js";
import { UsageError } from "../usage-error.js";

export const sharesCommand: Command = {
  name: "shares",
  summary: "Fair share per project (like sshare): shares, decayed usage, fair-share factor, running, queued",
  usage: "shares [flags]",
  flags: { ...CLIENT_FLAGS },
  notes:
    "USAGE is decayed usage in billing-unit seconds (1 GPU-second = 1 by default; a core-second 1/32, a\n" +
    "GiB-second of memory 1/256), halved every half-life. NORM SHARES and NORM USAGE are each project's part\n" +
    "of the total; FAIRSHARE is F = 2^(-NORM USAGE / NORM SHARES): 1 has used nothing, 0.5 used exactly its\n" +
    "share, lower used more. Under the multifactor ordering a higher F goes first (see 'taskgrid get' of a\n" +
    "queued task for its whole priority).",
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`shares takes no arguments (got "${args.positionals[0]}")`);
    return withClient(args, io, async (client) => {
      const res = await client.getShares();
      if (boolFlag(args, "json")) printJson(io, GetSharesResponse.toJSON(res));
      else io.out(formatSharesTable(res));
      return 0;
    });
  },
};
