// graphile-worker (pinned devDependency, benchmarks only) as a PeerDriver, in its own database on
// the benchmark's Postgres. Settings are the ones its performance page was measured with
// (worker.graphile.org/docs/performance): concurrentJobs 24, maxPoolSize 25, localQueue size 500,
// completeJobBatchDelay 0 and failJobBatchDelay 0, prepared statements on; bulk submits through
// `addJobs` (one add_jobs call per batch), single ones through `addJob` (one add_job call).
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from "graphile-worker";
import pg from "pg";
import { createFreshDatabase } from "../../helpers/db.js";
import { installedVersion, type PeerDriver } from "./peer-driver.js";

const TASK = "noop";
const CONCURRENCY = 24;
const POOL = 25;
const LOCAL_QUEUE = 500;

interface Payload {
  seq: number;
}

/** graphile-worker logs every job start at info level; the benchmark keeps warnings and errors. */
const quietLogger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

export async function startGraphileWorker(adminUrl: string): Promise<PeerDriver> {
  const db = await createFreshDatabase(adminUrl);
  const url = db.databaseUrl!;
  const common = { connectionString: url, noPreparedStatements: false, logger: quietLogger };
  const utils: WorkerUtils = await makeWorkerUtils({ ...common, maxPoolSize: POOL });
  await utils.migrate();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  let runner: Runner | null = null;
  return {
    name: "graphile-worker",
    version: installedVersion("graphile-worker"),
    settings:
      `concurrentJobs ${CONCURRENCY}, maxPoolSize ${POOL}, localQueue size ${LOCAL_QUEUE}, completeJobBatchDelay 0, ` +
      "failJobBatchDelay 0, prepared statements on; addJob() for single submits, addJobs() for batches",
    async submitOne(seq) {
      await utils.addJob(TASK, { seq } satisfies Payload);
    },
    async submitBatch(firstSeq, count) {
      await utils.addJobs(Array.from({ length: count }, (_, i) => ({ identifier: TASK, payload: { seq: firstSeq + i } satisfies Payload })));
    },
    async startWorkers(onStart) {
      runner = await run({
        ...common,
        concurrency: CONCURRENCY,
        maxPoolSize: POOL,
        noHandleSignals: true,
        taskList: { [TASK]: async (payload) => onStart((payload as Payload).seq) },
        preset: { worker: { localQueue: { size: LOCAL_QUEUE }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
    },
    async stopWorkers() {
      await runner?.stop();
      runner = null;
    },
    async unfinished() {
      // Completed jobs are deleted, so whatever row is left is unfinished.
      return Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM graphile_worker._private_jobs")).rows[0].n);
    },
    async reset() {
      await admin.query("TRUNCATE graphile_worker._private_jobs CASCADE");
      await admin.query("VACUUM ANALYZE");
    },
    async close() {
      await runner?.stop();
      await utils.release();
      await admin.end();
      await db.drop();
    },
  };
}
