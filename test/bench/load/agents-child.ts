// Child-process entry for the many-agents benchmark: opens `agents` fake agent streams to the
// master (load/fake-agents.ts: register, then a heartbeat every 3 s) from a process of its own, so
// the load generator's work does not land on the master's event loop. Reports over IPC.
import { FakeAgents } from "./fake-agents.js";

export type AgentsToChild = { type: "count" } | { type: "stop" };
export type AgentsFromChild = { type: "registered"; ms: number } | { type: "count"; registered: number; ended: number };

const { address, agents, channels } = JSON.parse(process.argv[2]) as { address: string; agents: number; channels: number };
const fleet = new FakeAgents({ address, agents, channels, slots: 4, idPrefix: "many" });
const send = (m: AgentsFromChild) => process.send!(m);
const t0 = performance.now();
void fleet.start().then(() => send({ type: "registered", ms: performance.now() - t0 }));
process.on("message", (m: AgentsToChild) => {
  if (m.type === "count") send({ type: "count", registered: fleet.registered, ended: fleet.ended });
  else {
    fleet.close();
    process.exit(0);
  }
});
