// `taskgrid dev`: a master and one agent in one process. Its settings are the master's and the
// agent's (same defaults, same checks). Of the master's, dev reads the variables that say where it
// listens and keeps its data (TASKGRID_LISTEN, TASKGRID_METRICS, TASKGRID_DATA_DIR: a second dev
// next to a first one needs other ports); it never reads TASKGRID_DATABASE_URL (dev always runs
// the embedded database and must not touch a real deployment's) nor the weights path.
import { AGENT_SETTINGS } from "./agent-settings.js";
import { LOG_SETTINGS } from "./log-settings.js";
import { MASTER_SETTINGS } from "./master-settings.js";
import { pick, type Settings } from "./schema.js";

/** Where the agent of `taskgrid dev` keeps its state unless --state-dir says otherwise. */
export const devStateDir = (dataDir: string): string => `${dataDir}/agent`;

export const DEV_SETTINGS = {
  ...pick(MASTER_SETTINGS, ["listen", "dataDir", "metrics"]),
  ...pick(MASTER_SETTINGS, ["weightsPath"], { env: undefined }),
  ...pick(AGENT_SETTINGS, ["tags", "maxTasks", "workerId"]),
  ...pick(AGENT_SETTINGS, ["stateDir"], { defaultText: `${devStateDir("DIR")}, DIR being --data-dir` }),
  ...LOG_SETTINGS,
} satisfies Settings;
