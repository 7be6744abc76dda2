import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { everyVerdictScenario } from "../support/scenario.js";
import { filesAt } from "../support/pool-repo.js";
import { poolBoy, json } from "../support/cli.js";

test("status --metrics-file writes the run's figures for the textfile collector", async () => {
  const s = await everyVerdictScenario();
  const dir = await mkdtemp(join(tmpdir(), "pool-boy-metrics-"));
  try {
    const file = join(dir, "pool-boy.prom");
    const run = await poolBoy(["status", "--metrics-file", file], s.env);
    assert.equal(run.code, 0, run.stderr);
    const text = await readFile(file, "utf8");
    assert.match(text, /^pool_boy_locks\{pool="aws",state="claimed"\} 6$/m);
    assert.match(text, /^pool_boy_verdicts\{pool="aws",verdict="keep",reason="alive"\} 2$/m);
    assert.match(text, /^pool_boy_verdicts\{pool="gcp",verdict="keep",reason="conflict"\} 1$/m);
    assert.match(text, /^pool_boy_released_locks\{pool="aws"\} 0$/m);
    assert.match(text, /^pool_boy_last_success_timestamp_seconds \d+/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await s.cleanup();
  }
});

test("a Pushgateway that cannot be reached: exit 4 after the release, which is not undone", async () => {
  const s = await everyVerdictScenario();
  try {
    // credentials in the URL only through the environment: as a flag they would show in ps
    const run = await poolBoy(["clean", "--json"], { ...s.env, POOL_BOY_PUSHGATEWAY: "http://admin:gw-secret-77@127.0.0.1:9" });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /^pool-boy: .*127\.0\.0\.1:9/m);
    assert.doesNotMatch(run.stderr + run.stdout, /gw-secret-77/);
    const report = json(run);
    assert.equal(report.released?.length, 3, "the result is still printed");
    const files = await filesAt(s.repo.path, "HEAD");
    assert.ok(files.includes("aws/unclaimed/env-2"), "the release was pushed and stays");
  } finally {
    await s.cleanup();
  }
});
