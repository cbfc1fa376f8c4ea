// Where the simulator's inputs live in the repository, so `npm run sim:*` works from a fresh clone:
// src/sim/traces holds the SWF workload traces (copies of ../shared/traces: the Parallel Workloads
// Archive's KTH-SP2 log and the two Lublin model traces of the RLScheduler evaluation, with their
// README giving sources and the published figures).
export const TRACES_DIR = new URL("./traces/", import.meta.url).pathname;
