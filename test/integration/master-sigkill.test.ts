// DESIGN §8: zero acknowledged tasks lost when the master is killed with SIGKILL under load. The
// real `taskgrid master` runs as a child process; submits stay in flight while it is killed (after
// a number of acknowledgements, not a time), and the restarted master must know every task it
// acknowledged. On PGlite by default, on Postgres with TASKGRID_TEST_PG_URL.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runKillScenario } from "../helpers/kill-master.js";
import { createTestDatabase } from "../helpers/test-master.js";

test("every acknowledged submit survives a SIGKILL of the master mid-load", async () => {
  const db = await createTestDatabase();
  try {
    const outcome = await runKillScenario({ db, inFlight: 32, channels: 2, killAfterAcks: 400 });
    assert.ok(outcome.acked.length >= 400, `only ${outcome.acked.length} acknowledged`);
    assert.equal(outcome.lost, [], `${outcome.lost.length} of ${outcome.acked.length} acknowledged tasks lost`);
    assert.ok(outcome.known >= outcome.acked.length);
  } finally {
    await db.drop();
  }
});

test.run();
