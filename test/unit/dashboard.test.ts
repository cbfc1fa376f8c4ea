// config/grafana/taskgrid.json and config/prometheus.yml: every metric a dashboard query uses is
// one the master exports (src/telemetry/metric-names.ts), the dashboard imports without edits (a
// ${DS_PROMETHEUS} input used by every panel and target), and Prometheus scrapes the default
// metrics address.
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { documentedMetric, EXPORTED_METRICS, TASKGRID_METRICS } from "../../src/telemetry/metric-names.js";

const ROOT = new URL("../../", import.meta.url);
const dashboard = JSON.parse(readFileSync(new URL("config/grafana/taskgrid.json", ROOT), "utf8"));

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string }; refId: string }>;
  panels?: Panel[];
  gridPos: { x: number; y: number; w: number; h: number };
}

function allPanels(): Panel[] {
  const out: Panel[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      out.push(p);
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

function exprs(): Array<{ panel: string; expr: string }> {
  return allPanels().flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

// PromQL words that can stand before "(" or "{" or are keywords, never metric names.
const PROMQL_WORDS = new Set([
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "quantile",
  "count_values",
  "group",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "offset",
  "bool",
  "le",
  "rate",
  "irate",
  "increase",
  "delta",
  "idelta",
  "deriv",
  "histogram_quantile",
  "clamp_min",
  "clamp_max",
  "clamp",
  "abs",
  "ceil",
  "floor",
  "round",
  "label_replace",
  "label_join",
  "time",
  "vector",
  "scalar",
  "absent",
  "changes",
  "resets",
  "avg_over_time",
  "max_over_time",
  "min_over_time",
  "sum_over_time",
  "count_over_time",
  "last_over_time",
]);

/**
 * Metric names used by a PromQL expression: identifiers not inside a string, a label matcher
 * `{...}`, a grouping `by (...)`, or a range `[...]`, that are not functions or keywords.
 */
function metricNamesIn(expr: string): string[] {
  // Drop strings, then label matchers, ranges and grouping clauses.
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  e = e.replace(/\{[^}]*\}/g, " ").replace(/\[[^\]]*\]/g, " ");
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  e = e.replace(/(?<![a-zA-Z0-9_:])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/g, " "); // number literals (1e-9)
  const names = new Set<string>();
  for (const m of e.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    if (PROMQL_WORDS.has(word)) continue;
    const after = e.slice(m.index! + word.length).trimStart();
    if (after.startsWith("(")) continue; // a function call
    names.add(word);
  }
  return [...names];
}

test("the expression parser finds metric names and nothing else", () => {
  assert.equal(metricNamesIn('histogram_quantile(0.99, sum by (le) (rate(taskgrid_task_wait_seconds_bucket{job=~"$job"}[$__rate_interval])))'), [
    "taskgrid_task_wait_seconds_bucket",
  ]);
  assert.equal(metricNamesIn("sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total[5m])), 1e-9)").sort(), ["a_total", "b_total"]);
  assert.equal(metricNamesIn('topk(20, avg by (worker) (x{worker=~"$worker"}))'), ["x"]);
  // The lookup rejects unknown names and histogram suffixes on non-histograms.
  assert.is(documentedMetric("taskgrid_bogus"), undefined);
  assert.is(documentedMetric("taskgrid_tasks_bucket"), undefined);
  assert.is(documentedMetric("taskgrid_task_wait_seconds_bucket")?.name, "taskgrid_task_wait_seconds");
});

test("every metric the dashboard queries is exported by the master", () => {
  const used = new Map<string, string[]>();
  for (const { panel, expr } of exprs()) {
    const names = metricNamesIn(expr);
    assert.ok(names.length > 0, `panel "${panel}" queries no metric: ${expr}`);
    for (const name of names) used.set(name, [...(used.get(name) ?? []), panel]);
  }
  for (const [name, panels] of used) {
    const doc = documentedMetric(name);
    assert.ok(doc, `"${name}" (panels: ${panels.join(", ")}) is not an exported metric`);
    // _bucket/_sum/_count only on histograms.
    if (/_(bucket|sum|count)$/.test(name) && doc!.name !== name) assert.is(doc!.kind, "histogram", name);
  }
  // Template variables query exported metrics too.
  for (const v of dashboard.templating.list)
    for (const name of metricNamesIn(v.definition.replace(/^label_values\((.*),\s*\w+\)$/, "$1")))
      assert.ok(documentedMetric(name), `variable ${v.name}: ${name}`);
});

test("the dashboard shows every DESIGN §7 metric, wait/run quantiles, queue lengths, miss and fallback rates", () => {
  const used = new Set(
    exprs()
      .flatMap(({ expr }) => metricNamesIn(expr))
      .map((n) => documentedMetric(n)?.name),
  );
  // Every DESIGN §7 metric is on the dashboard.
  for (const m of TASKGRID_METRICS) assert.ok(used.has(m.name), `dashboard does not show ${m.name}`);
  const all = exprs()
    .map((e) => e.expr)
    .join("\n");
  for (const p of ["0.5", "0.95", "0.99"])
    assert.ok(all.includes(`histogram_quantile(${p}, sum by (le) (rate(taskgrid_task_wait_seconds_bucket`), `wait p${p}`);
  for (const p of ["0.5", "0.95", "0.99"]) assert.ok(all.includes(`histogram_quantile(${p}, sum by (le) (rate(taskgrid_task_run_seconds_bucket`), `run p${p}`);
  assert.match(all, /sum by \(queue, priority\) \(taskgrid_queue_length/);
  assert.match(all, /rate\(taskgrid_deadline_misses_total/);
  assert.match(all, /taskgrid_scheduler_fallbacks_total.*\/.*taskgrid_scheduler_decisions_total/);
  assert.ok(EXPORTED_METRICS.length > TASKGRID_METRICS.length);
});

test("importable without edits: ${DS_PROMETHEUS} input used everywhere, schema ~39, unique ids, sane grid", () => {
  assert.is(dashboard.schemaVersion, 39);
  assert.is(dashboard.id, null);
  assert.ok(typeof dashboard.uid === "string" && dashboard.uid.length > 0 && dashboard.uid.length <= 40);
  const inputs = dashboard.__inputs as Array<{ name: string; type: string; pluginId: string }>;
  assert.equal(
    inputs.map((i) => [i.name, i.type, i.pluginId]),
    [["DS_PROMETHEUS", "datasource", "prometheus"]],
  );
  const ids = new Set<number>();
  for (const p of allPanels()) {
    assert.not.ok(ids.has(p.id), `duplicate panel id ${p.id}`);
    ids.add(p.id);
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" fits the 24-column grid`);
    if (p.type === "row") continue;
    assert.equal(p.datasource, { type: "prometheus", uid: "${DS_PROMETHEUS}" }, `panel "${p.title}" datasource`);
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`);
    for (const t of p.targets ?? []) assert.is(t.datasource?.uid, "${DS_PROMETHEUS}", `panel "${p.title}" target ${t.refId}`);
  }
  for (const v of dashboard.templating.list) assert.is(v.datasource.uid, "${DS_PROMETHEUS}", `variable ${v.name}`);
  // No datasource uid other than the input anywhere in the file.
  const text = JSON.stringify(dashboard);
  for (const m of text.matchAll(/"uid":"([^"]*)"/g))
    assert.ok(m[1] === "${DS_PROMETHEUS}" || m[1] === "-- Grafana --" || m[1] === dashboard.uid, `unexpected uid ${m[1]}`);
});

test("prometheus.yml scrapes the default metrics address at /metrics", () => {
  const yml = readFileSync(new URL("config/prometheus.yml", ROOT), "utf8");
  assert.match(yml, /^scrape_configs:/m);
  assert.match(yml, /metrics_path:\s*\/metrics/);
  assert.match(yml, /targets:\s*\["127\.0\.0\.1:9464"\]/);
  assert.match(yml, /job_name:\s*taskgrid-master/);
});

test.run();
