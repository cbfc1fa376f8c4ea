// The example config documents every key: it must parse and resolve cleanly, so it cannot rot, and
// it lists every setting of MASTER_SETTINGS with its default.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { resolveMasterConfig } from "../../master/config.js";
import { parseConfigFile } from "../../src/cli/master-options.js";
import { MASTER_SETTINGS } from "../../src/config/master-settings.js";
import type { Setting } from "../../src/config/schema.js";

const path = new URL("../../config/taskgrid.example.json", import.meta.url);

test("config/taskgrid.example.json parses and resolves", () => {
  const options = parseConfigFile(readFileSync(path, "utf8"), "taskgrid.example.json");
  const config = resolveMasterConfig(options as never);
  assert.is(config.placement, "rts");
  assert.is(config.slaMultiplier, 2);
  assert.is(config.weightsPath, "config/ga_output.json");
  assert.is(config.staleMarginMs, 30_000);
});

test("config/taskgrid.example.json lists every setting with its default (null: no fixed default)", () => {
  const example = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  assert.equal(Object.keys(example), Object.keys(MASTER_SETTINGS), "the same keys, in the table's order");
  for (const [key, s] of Object.entries(MASTER_SETTINGS) as [string, Setting][]) {
    const fixed = s.cliDefault ?? (typeof s.default === "function" ? undefined : s.default);
    assert.equal(example[key], fixed ?? null, key);
  }
});

test("invalid values are rejected naming the key", () => {
  assert.throws(() => resolveMasterConfig({ slaMultiplier: 0.5 }), /sla_multiplier/);
  assert.throws(() => resolveMasterConfig({ placement: "random" as never }), /placement/);
  assert.throws(() => resolveMasterConfig({ weightsPollMs: 60_000 }), /weights_poll_ms/);
  assert.throws(() => resolveMasterConfig({ suspectAfterMs: 30_000, offlineAfterMs: 20_000 }), /offline_after_ms/);
  assert.throws(() => resolveMasterConfig({ staleMarginMs: 0 }), /stale_margin_ms/);
  assert.throws(() => resolveMasterConfig({ staleMarginMs: Number.NaN }), /stale_margin_ms/);
});

test.run();
