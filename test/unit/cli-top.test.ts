// `taskgrid top`, pure parts: view from RPC answers, one frame of text, the live loop on a fake terminal.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GetSchedulerInfoResponse, Worker } from "../../src/gen/taskgrid/v1/admin_service.js";
import { Priority, QueueClass, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";
import { buildTopView, renderTopFrame, type TopView } from "../../src/cli/render-top.js";
import { parseIntervalMs } from "../../src/cli/commands/top.js";
import { ENTER_SCREEN, HOME, LEAVE_SCREEN, runLiveView, type LiveTerminal } from "../../src/cli/top-live.js";
import { UsageError } from "../../src/cli/usage-error.js";

// Local fields, so the header clock reads 15:04:05 in any time zone.
const NOW = new Date(2025, 0, 2, 15, 4, 5);
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);

const info = GetSchedulerInfoResponse.fromPartial({
  orderingPolicy: "priority",
  placementStrategy: "rts",
  weightsVersion: "3fa2c1d0e4b5",
  decisionsByStrategy: { rts: 38, round_robin: 2 },
  fallbacksByReason: { no_fresh_telemetry: 2 },
  queueLengths: [
    { queueClass: QueueClass.QUEUE_CLASS_LIVE, priority: Priority.PRIORITY_HIGH, length: 2 },
    { queueClass: QueueClass.QUEUE_CLASS_DEFAULT, priority: Priority.PRIORITY_NORMAL, length: 5 },
    { queueClass: QueueClass.QUEUE_CLASS_BATCH, priority: Priority.PRIORITY_LOW, length: 0 },
  ],
  workersByStatus: [
    { status: WorkerStatus.WORKER_STATUS_ONLINE, count: 2 },
    { status: WorkerStatus.WORKER_STATUS_SUSPECT, count: 1 },
    { status: WorkerStatus.WORKER_STATUS_OFFLINE, count: 0 },
  ],
  deadlineMisses: 4,
});

const worker = (id: string, status: WorkerStatus, extra: Partial<Worker> = {}) =>
  Worker.fromPartial({ id, status, tags: [], capacity: { maxTasks: 4, cpuMillis: 4000, gpus: [] }, lastSeenAt: ago(1), ...extra });

const workers = [
  worker("cpu-b", WorkerStatus.WORKER_STATUS_SUSPECT, { lastSeenAt: ago(12) }),
  worker("gpu-a", WorkerStatus.WORKER_STATUS_ONLINE, {
    tags: ["gpu", "a100"],
    runningAttempts: 2,
    capacity: {
      maxTasks: 8,
      cpuMillis: 8000,
      memoryMib: 0,
      gpus: [
        { index: 0, uuid: "u0", model: "A100", memoryMib: 40960, numaNode: 0 },
        { index: 1, uuid: "u1", model: "A100", memoryMib: 40960, numaNode: 0 },
      ],
    },
    telemetry: {
      cpuLoad: 0.456,
      memoryUsedMib: 0,
      memoryTotalMib: 0,
      ioPressure: 0,
      runningAttempts: 2,
      gpus: [
        { index: 0, utilizationPercent: 90, memoryUsedMib: 0 },
        { index: 1, utilizationPercent: 10, memoryUsedMib: 0 },
      ],
      probeErrors: [],
    },
  }),
  worker("cpu-a", WorkerStatus.WORKER_STATUS_ONLINE, {
    telemetry: { cpuLoad: 1.2, memoryUsedMib: 0, memoryTotalMib: 0, ioPressure: 0, runningAttempts: 0, gpus: [], probeErrors: [] },
  }),
];

const view = (): TopView => buildTopView({ master: "127.0.0.1:50051", now: NOW, info, workers, tasks: { RUNNING: 2, ASSIGNED: 1 } });

test("view: totals, queues with tasks, fallback rate, workers sorted by status then id", () => {
  const v = view();
  assert.equal(v.tasks, { QUEUED: 7, ASSIGNED: 1, RUNNING: 2, PAUSED: 0 });
  assert.equal(v.queues, [
    { queue: "LIVE", priority: "HIGH", length: 2 },
    { queue: "DEFAULT", priority: "NORMAL", length: 5 },
  ]);
  assert.is(v.decisions, 40);
  assert.is(v.fallbacks, 2);
  assert.is(v.fallbackRate, 0.05);
  assert.equal(v.workersByStatus, { ONLINE: 2, SUSPECT: 1, OFFLINE: 0 });
  assert.equal(
    v.workers.map((w) => w.id),
    ["cpu-a", "gpu-a", "cpu-b"],
  );
  assert.is(v.workers[1].gpuUtilization, 50);
  assert.is(v.workers[2].cpuLoad, null);
  assert.equal(JSON.parse(JSON.stringify(v)), v, "the view is plain JSON (it is the --json snapshot)");
});

test("frame: the whole --once output", () => {
  assert.is(
    renderTopFrame(view()),
    [
      "taskgrid top: master 127.0.0.1:50051 at 15:04:05",
      "Scheduler:  rts placement, priority ordering, weights 3fa2c1d0e4b5",
      "Tasks:      QUEUED 7  ASSIGNED 1  RUNNING 2  PAUSED 0",
      "Queues:     LIVE/HIGH 2  DEFAULT/NORMAL 5",
      "Decisions:  40 (round_robin=2 rts=38)  fallbacks 2 (5%) no_fresh_telemetry=2  deadline misses 4",
      "Workers:    3 (ONLINE=2 SUSPECT=1 OFFLINE=0)",
      "",
      "WORKER  STATUS   RUNNING  LOAD  GPU    SEEN  TAGS",
      "cpu-a   ONLINE   0/4      1.2   -      1s    -",
      "gpu-a   ONLINE   2/8      0.46  50%/2  1s    gpu,a100",
      "cpu-b   SUSPECT  0/4      -     -      12s   -",
      "",
    ].join("\n"),
  );
});

test("frame: live hint, refresh error, weights error, empty cluster, lower-bound counts", () => {
  const empty = buildTopView({
    master: "m:1",
    now: NOW,
    info: GetSchedulerInfoResponse.fromPartial({
      placementStrategy: "rts",
      orderingPolicy: "fifo",
      weightsVersion: "defaults",
      weightsError: "w_load: must be >= 0",
    }),
    workers: [],
    tasks: { RUNNING: 10000 },
    tasksTruncated: true,
  });
  const frame = renderTopFrame(empty, { intervalMs: 2000, error: "UNAVAILABLE: connection refused" });
  assert.match(frame, /^taskgrid top: master m:1 at 15:04:05 {2}\(every 2s, q to quit\)\nerror: UNAVAILABLE: connection refused/);
  assert.match(frame, /Weights: {4}reload error: w_load: must be >= 0/);
  assert.match(frame, /RUNNING 10000\+/);
  assert.match(frame, /Queues: {5}empty/);
  assert.match(frame, /Decisions: {2}0 {2}fallbacks 0 {2}deadline misses 0/);
  assert.match(frame, /No workers have registered\./);
});

test("frame: a short terminal summarises the rows that do not fit; a narrow one cuts lines", () => {
  const many = buildTopView({
    master: "m:1",
    now: NOW,
    info,
    workers: Array.from({ length: 30 }, (_, i) => worker(`w${String(i).padStart(2, "0")}`, WorkerStatus.WORKER_STATUS_ONLINE)),
    tasks: {},
  });
  const lines = renderTopFrame(many, { rows: 15 }).trimEnd().split("\n");
  assert.ok(lines.length <= 15, `${lines.length} lines`);
  assert.match(lines[lines.length - 1], /^… and \d+ more workers/);
  const shownRows = lines.filter((l) => /^w\d\d /.test(l)).length;
  assert.is(shownRows + Number(/and (\d+) more/.exec(lines[lines.length - 1])![1]), 30);
  for (const l of renderTopFrame(many, { columns: 40 }).split("\n")) assert.ok(l.length <= 40, l);
});

test("--interval: durations or bare seconds; too short is a usage error naming the flag", () => {
  assert.is(parseIntervalMs("2s"), 2000);
  assert.is(parseIntervalMs("500ms"), 500);
  assert.is(parseIntervalMs("1.5"), 1500);
  assert.throws(
    () => parseIntervalMs("10ms"),
    (e: unknown) => e instanceof UsageError && /--interval/.test((e as Error).message),
  );
  assert.throws(
    () => parseIntervalMs("soon"),
    (e: unknown) => e instanceof UsageError && /--interval/.test((e as Error).message),
  );
});

/** A terminal that records writes and lets the test press q when a frame appears. */
function fakeTerminal(ansi: boolean, onWrite: (text: string, term: { quit(): void }) => void) {
  const events = { quit: () => {}, redraw: () => {} };
  let listening = false;
  const term: LiveTerminal & { text: string; listening(): boolean } = {
    ansi,
    text: "",
    write(t) {
      term.text += t;
      onWrite(t, { quit: () => events.quit() });
    },
    size: () => ({ rows: 40, columns: 200 }),
    listen(e) {
      Object.assign(events, e);
      listening = true;
      return () => void (listening = false);
    },
    listening: () => listening,
  };
  return term;
}

const render = (v: TopView, o: object) => renderTopFrame(v, o);

test("live loop on a terminal: alternate screen, frames drawn from home, q restores the screen", async () => {
  let frames = 0;
  const term = fakeTerminal(true, (t, k) => {
    if (t.startsWith(HOME) && ++frames === 2) k.quit();
  });
  await runLiveView({ term, intervalMs: 0, fetch: async () => view(), render, describeError: String });
  assert.ok(term.text.startsWith(ENTER_SCREEN));
  assert.ok(term.text.endsWith(LEAVE_SCREEN));
  assert.is(frames, 2);
  assert.match(term.text, /\(every 0ms, q to quit\)\x1b\[K\r\n/);
  assert.is(term.listening(), false, "keys and signals are released");
});

test("live loop: a failed refresh keeps the last figures with the error; a failed first fetch rejects", async () => {
  let calls = 0;
  const term = fakeTerminal(false, (t, k) => {
    if (t.includes("error: UNAVAILABLE")) k.quit();
  });
  await runLiveView({
    term,
    intervalMs: 0,
    fetch: async () => {
      if (++calls === 2) throw new Error("UNAVAILABLE: master went away");
      return view();
    },
    render,
    describeError: (e) => (e as Error).message,
  });
  assert.not.match(term.text, /\x1b/, "no terminal codes when piped");
  assert.match(term.text, /error: UNAVAILABLE: master went away \(showing the last figures; retrying\)\n(.|\n)*gpu-a/);

  const failing = fakeTerminal(true, () => {});
  const err = await runLiveView({
    term: failing,
    intervalMs: 0,
    fetch: async () => {
      throw new Error("nope");
    },
    render,
    describeError: String,
  }).catch((e: unknown) => e);
  assert.is((err as Error).message, "nope");
  assert.is(failing.text, ENTER_SCREEN + LEAVE_SCREEN, "the screen is restored before the error is printed");
  assert.is(failing.listening(), false);
});

test("live loop: quitting while a fetch hangs ends at once", async () => {
  let quit = () => {};
  const term = fakeTerminal(true, () => {});
  const origListen = term.listen.bind(term);
  term.listen = (e) => {
    quit = e.quit;
    return origListen(e);
  };
  let started!: () => void;
  const fetchStarted = new Promise<void>((r) => (started = r));
  const running = runLiveView({ term, intervalMs: 0, fetch: () => (started(), new Promise<TopView>(() => {})), render, describeError: String });
  await fetchStarted;
  quit();
  await running;
  assert.is(term.text, ENTER_SCREEN + LEAVE_SCREEN);
});

test.run();
