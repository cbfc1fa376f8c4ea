// SIGKILL under load (DESIGN §8: zero acknowledged tasks lost when the master is killed with
// SIGKILL under load). Not a speed figure: a loss count, measured under benchmark-sized load.
//
// The real `taskgrid master` runs as a child process on Postgres; this process keeps unary submits
// in flight, while fake agents take assignments and report, records every acknowledged task id,
// SIGKILLs the master after a number of acknowledgements, restarts it on the same database and
// lists every task it has (test/helpers/kill-master.ts, also run by test/integration/master-sigkill).
import { runKillScenario, type KillOutcome } from "../helpers/kill-master.js";
import { createBenchDatabase } from "./bench-db.js";
import { FakeAgents } from "./load/fake-agents.js";
import { num, tableMarkdown, tableText, verdict, type Table } from "./report.js";
import type { BenchEnv, BenchModule, BenchResult } from "./bench-module.js";

const KILL_AFTER = [2000, 5000, 10_000];
const IN_FLIGHT = 128;
const CHANNELS = 4;
const AGENTS = 8;

export const sigkillBench: BenchModule = {
  name: "sigkill",
  section: "SIGKILL under load",
  async run(env: BenchEnv): Promise<BenchResult> {
    const db = await createBenchDatabase();
    const rounds: Array<{ killAfter: number; outcome: KillOutcome }> = [];
    try {
      for (const killAfter of KILL_AFTER) {
        const outcome = await runKillScenario({
          db,
          inFlight: IN_FLIGHT,
          channels: CHANNELS,
          killAfterAcks: killAfter,
          duringLoad: async (address) => {
            const agents = new FakeAgents({ address, agents: AGENTS, channels: 2, slots: 64, idPrefix: `kill-${killAfter}` });
            await agents.start();
            return () => agents.close();
          },
        });
        rounds.push({ killAfter, outcome });
      }
    } finally {
      await db.drop();
    }
    const table: Table = {
      header: [
        "killed after",
        "acknowledged",
        "lost",
        "target",
        "in flight at the kill (failed)",
        "tasks in the restarted master (cumulative)",
        "ack rate before the kill",
      ],
      rows: rounds.map(({ killAfter, outcome: o }) => [
        `${num(killAfter)} acks`,
        num(o.acked.length),
        num(o.lost.length),
        `0: ${verdict(o.lost.length === 0)}`,
        num(o.failed),
        num(o.known),
        `${num(o.ackRate)}/s`,
      ]),
    };
    const markdown = [
      `Measured ${env.date} on ${env.machine}, ${db.label}.`,
      "",
      `Method: the real \`taskgrid master\` as a child process; this process keeps ${IN_FLIGHT} unary \`SubmitTask\` calls in flight over ${CHANNELS} channels ` +
        `while ${AGENTS} fake agents take assignments and report, records every acknowledged task id, sends SIGKILL after the given number of acknowledgements, ` +
        'restarts the master on the same database and lists its tasks (ListTasks). "lost" = acknowledged ids the restarted master does not have. ' +
        "Rounds run in turn on one database. The same scenario, smaller, is the integration test test/integration/master-sigkill.test.ts.",
      "",
      tableMarkdown(table),
      "",
      "Target (DESIGN §8): zero acknowledged tasks lost when the master is killed with SIGKILL under load.",
    ].join("\n");
    return { text: tableText(table), markdown };
  },
};
