// `taskgrid dev`: a master and one agent in one process. Its settings are the master's and the
// agent's (same defaults, same checks), but the master's are flags only: dev always runs the
// embedded database and must not pick up a real deployment's TASKGRID_* variables.
import { AGENT_SETTINGS } from "./agent-settings.js";
import { LOG_SETTINGS } from "./log-settings.js";
import { MASTER_SETTINGS } from "./master-settings.js";
import { pick, type Settings } from "./schema.js";

/** Where the agent of `taskgrid dev` keeps its state unless --state-dir says otherwise. */
export const devStateDir = (dataDir: string): string => `${dataDir}/agent`;

export const DEV_SETTINGS = {
  ...pick(MASTER_SETTINGS, ["listen", "dataDir", "metrics", "weightsPath"], { env: undefined }),
  ...pick(AGENT_SETTINGS, ["tags", "maxTasks", "workerId"]),
  ...pick(AGENT_SETTINGS, ["stateDir"], { defaultText: `${devStateDir("DIR")}, DIR being --data-dir` }),
  ...LOG_SETTINGS,
} satisfies Settings;
