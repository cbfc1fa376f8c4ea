// pg-boss (pinned devDependency, benchmarks only) as a PeerDriver, in its own database on the
// benchmark's Postgres. Settings are the ones its docs give for throughput and latency: a batched
// `insert` for bulk submits, `work` with batchSize + localConcurrency and burst fetching while
// batches come back full, and LISTEN/NOTIFY (instance `useListenNotify` + a queue with `notify`)
// for the paced-latency queue only, since the NOTIFY costs every insert a little.
import { PgBoss, type Job } from "pg-boss";
import pg from "pg";
import { createFreshDatabase } from "../../helpers/db.js";
import { installedVersion, type PeerDriver } from "./peer-driver.js";

const QUEUE = "bench";
const NOTIFY_QUEUE = "bench-notify";
const POOL = 10; // pg-boss's default pool size (`max`).
// Its docs give no figures; a sweep of batchSize x localConcurrency on this machine (100x4, 250x4,
// 500x2, 1000x1, 50x8) drained fastest with 500x2 and 1000x1, so the benchmark uses 500x2.
const BATCH_SIZE = 500;
const LOCAL_CONCURRENCY = 2;
const POLL_S = 0.5; // The lowest polling interval pg-boss accepts.

interface Payload {
  seq: number;
}

export async function startPgBoss(adminUrl: string): Promise<PeerDriver> {
  const db = await createFreshDatabase(adminUrl);
  const url = db.databaseUrl!;
  const boss = new PgBoss({ connectionString: url, max: POOL, useListenNotify: true, schedule: false });
  boss.on("error", (err: Error) => process.stderr.write(`pg-boss: ${err.message}\n`));
  await boss.start();
  await boss.createQueue(QUEUE);
  await boss.createQueue(NOTIFY_QUEUE, { notify: true });
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const workers: string[] = [];
  const queueOf = (latency?: boolean) => (latency ? NOTIFY_QUEUE : QUEUE);
  return {
    name: "pg-boss",
    version: installedVersion("pg-boss"),
    settings:
      `pool max ${POOL}; insert() for batches; work() with batchSize ${BATCH_SIZE}, localConcurrency ${LOCAL_CONCURRENCY}, ` +
      `pollingIntervalSeconds ${POLL_S}, burstWhenBatchFull; latency queue with notify + useListenNotify`,
    async submitOne(seq, latency) {
      await boss.send(queueOf(latency), { seq } satisfies Payload);
    },
    async submitBatch(firstSeq, count) {
      await boss.insert(
        QUEUE,
        Array.from({ length: count }, (_, i) => ({ data: { seq: firstSeq + i } satisfies Payload })),
      );
    },
    async startWorkers(onStart, latency) {
      const handler = async (jobs: Job<Payload>[]) => {
        for (const job of jobs) onStart(job.data.seq);
      };
      const options = {
        batchSize: BATCH_SIZE,
        localConcurrency: LOCAL_CONCURRENCY,
        pollingIntervalSeconds: POLL_S,
        notifyPollingIntervalSeconds: POLL_S,
        burstWhenBatchFull: true,
      };
      workers.push(await boss.work<Payload>(queueOf(latency), options, handler));
    },
    async stopWorkers() {
      await boss.offWork(QUEUE, { wait: true });
      await boss.offWork(NOTIFY_QUEUE, { wait: true });
      workers.length = 0;
    },
    async unfinished(latency) {
      const r = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state <> 'completed'", [queueOf(latency)]);
      return Number(r.rows[0].n);
    },
    async reset() {
      await admin.query("TRUNCATE pgboss.job");
      await admin.query("VACUUM ANALYZE");
    },
    async close() {
      await boss.stop({ graceful: true, timeout: 10_000 });
      await admin.end();
      await db.drop();
    },
  };
}
