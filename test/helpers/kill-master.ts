// The "SIGKILL under load" scenario (DESIGN §8: zero acknowledged tasks lost), shared by the
// integration test and the benchmark: run the real `taskgrid master` as a child process, keep unary
// submits in flight, record every acknowledged task id, SIGKILL the master once `killAfterAcks`
// were acknowledged, restart it on the same database, and list what the restarted master has.
import * as grpc from "@grpc/grpc-js";
import { TaskServiceClient } from "../../src/gen/taskgrid/v1/task_service.js";
import { TaskSpec } from "../../src/gen/taskgrid/v1/task.js";
import { Proc } from "./processes.js";
import type { TestDatabase } from "./test-master.js";

export interface KillScenario {
  db: TestDatabase;
  /** Unary submits kept in flight. */
  inFlight: number;
  /** HTTP/2 connections they are spread over. */
  channels: number;
  /** SIGKILL once this many submits were acknowledged. */
  killAfterAcks: number;
  /** Started with the first master (e.g. agents that keep dispatch busy); its result is called before the kill. */
  duringLoad?: (address: string) => Promise<() => void>;
}

export interface KillOutcome {
  /** Every task id the first master acknowledged. */
  acked: string[];
  /** Acknowledged ids the restarted master does not know. */
  lost: string[];
  /** Tasks the restarted master has (acknowledged or committed just before the kill). */
  known: number;
  /** Submits that failed (in flight at the kill). */
  failed: number;
  /** Acknowledgements per second before the kill. */
  ackRate: number;
}

const SPEC = TaskSpec.fromPartial({ name: "kill", command: ["true"] });

function masterArgs(db: TestDatabase): string[] {
  const { databaseUrl, dataDir } = db.options;
  return ["master", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", ...(databaseUrl ? ["--database-url", databaseUrl] : ["--data-dir", dataDir!])];
}

async function startMaster(db: TestDatabase): Promise<{ proc: Proc; address: string }> {
  const proc = new Proc(masterArgs(db));
  const [, address] = await proc.waitFor(/master listening on (\S+)/);
  return { proc, address };
}

function clients(address: string, n: number): TaskServiceClient[] {
  return Array.from({ length: n }, () => new TaskServiceClient(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }));
}

/** Every task id the master lists (ListTasks pages of 1,000). */
async function listIds(client: TaskServiceClient): Promise<Set<string>> {
  const ids = new Set<string>();
  let pageToken = "";
  do {
    const page = await new Promise<{ tasks: { id: string }[]; nextPageToken: string }>((resolve, reject) =>
      client.listTasks({ states: [], queueClass: 0, project: "", label: "", pageSize: 1000, pageToken, arrayId: "" }, (err, res) =>
        err ? reject(err) : resolve(res!),
      ),
    );
    for (const t of page.tasks) ids.add(t.id);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return ids;
}

export async function runKillScenario(s: KillScenario): Promise<KillOutcome> {
  const first = await startMaster(s.db);
  const stopLoad = s.duringLoad ? await s.duringLoad(first.address) : () => {};
  const load = clients(first.address, s.channels);
  const acked: string[] = [];
  let failed = 0;
  let killed = false;
  let killedAt = 0;
  const started = performance.now();
  const kill = () => {
    if (killed) return;
    killed = true;
    killedAt = performance.now();
    first.proc.child.kill("SIGKILL");
  };
  const submitter = async (i: number) => {
    const client = load[i % load.length];
    while (!killed) {
      await new Promise<void>((resolve) =>
        client.submitTask({ spec: SPEC }, (err, res) => {
          if (err) failed++;
          else {
            acked.push(res!.task!.id);
            if (acked.length >= s.killAfterAcks) kill();
          }
          resolve();
        }),
      );
    }
  };
  const submitters = Promise.all(Array.from({ length: s.inFlight }, (_, i) => submitter(i)));
  try {
    await Promise.race([submitters, first.proc.exited]);
    kill(); // the master died on its own: still check what it acknowledged
    await submitters;
    await first.proc.exited;
  } finally {
    stopLoad();
    for (const c of load) c.close();
  }
  const second = await startMaster(s.db);
  const reader = clients(second.address, 1)[0];
  try {
    const known = await listIds(reader);
    return {
      acked,
      lost: acked.filter((id) => !known.has(id)),
      known: known.size,
      failed,
      ackRate: acked.length / ((killedAt - started) / 1000),
    };
  } finally {
    reader.close();
    await second.proc.stop();
  }
}
