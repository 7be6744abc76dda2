// --summary-file / POOL_BOY_SUMMARY_FILE: the plain-text summary a notification step reads,
// written after a run and also after a failure, never with a secret in it.
import { test, describe, before, after } from "node:test";
import { closeAll } from "../support/cleanup.js";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { everyVerdictScenario, DEMO_USER, type Scenario } from "../support/scenario.js";
import { poolBoy } from "../support/cli.js";

describe("--summary-file", () => {
  let s: Scenario;
  let dir: string;
  before(async () => {
    s = await everyVerdictScenario();
    dir = await mkdtemp(join(tmpdir(), "pool-boy-summary-"));
  });
  after(async () => {
    await closeAll(
      () => s?.cleanup(),
      () => dir && rm(dir, { recursive: true, force: true }),
    );
  });

  test("status: one line per lock to release or to look at, no colour, no secret", async () => {
    const file = join(dir, "status.txt");
    const run = await poolBoy(["status", "--summary-file", file], s.env);
    assert.equal(run.code, 0, run.stderr);
    const text = await readFile(file, "utf8");
    assert.match(text, /^pool-boy status · .*: 9 claimed locks in 2 pools: 3 to release/);
    for (const lock of ["aws/env-2", "aws/env-5", "gcp/vm-3"]) assert.match(text, new RegExp(`^would release ${lock} `, "m"));
    for (const lock of ["gcp/vm-1", "gcp/vm-2"]) assert.match(text, new RegExp(`^kept ${lock} `, "m"));
    assert.doesNotMatch(text, /env-1|\x1b\[/);
    assert.ok(!text.includes(DEMO_USER.password));
  });

  test("POOL_BOY_SUMMARY_FILE on a failed run says why", async () => {
    const file = join(dir, "failed.txt");
    const run = await poolBoy(["clean"], { ...s.env, POOL_REPO: join(dir, "no-such-repo.git"), POOL_BOY_SUMMARY_FILE: file });
    assert.equal(run.code, 2, run.stderr);
    const text = await readFile(file, "utf8");
    assert.match(text, /^pool-boy clean FAILED: /);
    assert.match(text, /no-such-repo\.git does not exist/);
    assert.ok(!text.includes(DEMO_USER.password));
  });

  test("bad input: every problem on its own line, exit 2", async () => {
    const file = join(dir, "bad.txt");
    const run = await poolBoy(["status", "--summary-file", file], { ...s.env, POOLS: "aws", POOL_BOY_MAX_ATTEMPTS: "zero" });
    assert.equal(run.code, 2, run.stderr);
    const lines = (await readFile(file, "utf8")).trim().split("\n");
    assert.match(lines[0] ?? "", /^pool-boy status FAILED: /);
    assert.ok(lines.some((l) => /"aws" has no timeout/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /POOL_BOY_MAX_ATTEMPTS/.test(l)), lines.join("\n"));
    assert.ok(!lines.join("\n").includes(DEMO_USER.password));
  });

  test("an unwritable summary file is exit 4 after the run, with the file named", async () => {
    const run = await poolBoy(["status", "--summary-file", join(dir, "missing", "x.txt")], s.env);
    assert.equal(run.code, 4);
    assert.match(run.stderr, /cannot write the summary file ".*missing\/x\.txt"/);
  });

  test("--json with an unwritable summary file: still one document on stdout, the error said once", async () => {
    const run = await poolBoy(["status", "--json", "--summary-file", join(dir, "missing", "x.txt")], s.env);
    assert.equal(run.code, 4, run.stderr);
    const doc = JSON.parse(run.stdout) as { command: string };
    assert.equal(doc.command, "status");
    assert.equal(run.stderr.match(/cannot write the summary file/g)?.length, 1, run.stderr);
  });
});
