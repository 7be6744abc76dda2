// The operator's experience, end to end with the built CLI, real bare repos and the test API:
// the table at 80 columns, owners and their URLs, reasons for machines, --only, status without
// --pools, --exit-code, fly's habits, and local repositories clean cannot push to.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { everyVerdictScenario, type Scenario } from "../support/scenario.js";
import { createPoolRepo, log } from "../support/pool-repo.js";
import { gitOk } from "../support/git.js";
import { poolBoy, json, type CliRun } from "../support/cli.js";

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function doc(run: CliRun): Doc {
  return json(run) as unknown as Doc;
}
function lock(report: Doc, name: string): Doc {
  const found = (report.locks as Doc[]).find((l) => l.name === name);
  assert.ok(found, `no lock ${name}`);
  return found;
}
/** The table's row of a lock, split on the two-space column gaps. */
function row(stdout: string, name: string): string[] {
  const line = stdout.split("\n").find((l) => l.startsWith(`  ${name} `));
  assert.ok(line, `no row for ${name} in:\n${stdout}`);
  return line.trim().split(/ {2,}/u);
}
/** The widest line but the summary (the last line), which stays one line for logs. */
function widest(text: string): number {
  return Math.max(...text.trimEnd().split("\n").slice(0, -1).map((l) => [...l].length));
}
function withoutApi(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  delete out.CONCOURSE_BASE_URL;
  delete out.CONCOURSE_USERNAME;
  delete out.CONCOURSE_PASSWORD;
  return out;
}

describe("status of the demo scenario", () => {
  let s: Scenario;
  before(async () => {
    s = await everyVerdictScenario();
  });
  after(async () => s.cleanup());

  for (const columns of ["80", "60"]) {
    test(`fits ${columns} columns; lock, owner, age and verdict are never cut`, async () => {
      const run = await poolBoy(["status"], { ...s.env, COLUMNS: columns });
      assert.equal(run.code, 0, run.stderr);
      assert.ok(widest(run.stdout) <= Number(columns), `a line is ${widest(run.stdout)} wide:\n${run.stdout}`);
      assert.deepEqual(row(run.stdout, "env-1").slice(0, 4), ["env-1", "deploy #1", "3d", "keep (alive)"]);
      assert.deepEqual(row(run.stdout, "env-2").slice(0, 4), ["env-2", "deploy #2", "20m", "release (finished)"]);
      assert.deepEqual(row(run.stdout, "env-3").slice(0, 4), ["env-3", "test #1 (from deploy #3)", "5h", "keep (alive)"]);
      assert.deepEqual(row(run.stdout, "env-6").slice(0, 4), ["env-6", "deploy #99", "10m", "keep (young)"]);
      assert.deepEqual(row(run.stdout, "vm-3").slice(0, 4), ["vm-3", `one-off #${lock(doc(await poolBoy(["status", "--json"], s.env)), "vm-3").owner.id}`, "3h", "release (finished)"]);
      // A person's note stands for the owner, in quotes, shortened when long.
      assert.match(row(run.stdout, "env-5")[1] ?? "", /^"Claim env-5 by hand/);
      assert.doesNotMatch(run.stdout, /unknown +5h/);
    });
  }

  test("at 80 columns WHY is short and run-wide facts are said once above the table", async () => {
    const run = await poolBoy(["status"], { ...s.env, COLUMNS: "80" });
    assert.deepEqual(row(run.stdout, "env-2")[4], "failed");
    assert.deepEqual(row(run.stdout, "env-4")[4], "waiting for test");
    assert.deepEqual(row(run.stdout, "env-6")[4], "not found");
    assert.deepEqual(row(run.stdout, "vm-1")[4], "API error, kept this run");
    assert.doesNotMatch(run.stdout, /\/api\/v1\//, "no request path in the table");
    assert.match(run.stdout.split("\n")[0] ?? "", /^pool-boy status · http:\/\/127\.0\.0\.1:\d+ \(team main\) · Concourse 8\.2\.5$/);
    const timeoutOnly = await poolBoy(["status"], { ...withoutApi(s.env), COLUMNS: "80" });
    assert.equal(timeoutOnly.stdout.match(/No Concourse API configured/g)?.length, 1);
    assert.deepEqual(row(timeoutOnly.stdout, "env-2")[4], "within the 2h timeout");
    assert.ok(widest(timeoutOnly.stdout) <= 80);
  });

  test("not a terminal and no COLUMNS: 80 columns; --verbose gives the full detail and the URL", async () => {
    const run = await poolBoy(["status", "--verbose"], s.env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /why: build main\/app\/deploy #99: not found \(HTTP 404\); claimed 10m \d+s ago,/);
    assert.match(run.stdout, /^ {6}http:\/\/127\.0\.0\.1:\d+\/teams\/main\/pipelines\/app\/jobs\/deploy\/builds\/1$/m);
    const rows = run.stdout.split("\n").filter((l) => /^ {2}(LOCK|env-\d|vm-\d) /.test(l));
    assert.equal(rows.length, 11);
    assert.ok(rows.every((l) => [...l].length <= 80), rows.join("\n"));
    assert.doesNotMatch(run.stdout, /\u001b/, "no hyperlinks or colour outside a terminal");
  });

  test("--json: a URL for every owner and holder, a cause when the owner could not be judged, a person's note", async () => {
    const report = doc(await poolBoy(["status", "--json"], s.env));
    const base = s.atc.url;
    assert.equal(lock(report, "env-1").owner.url, `${base}/teams/main/pipelines/app/jobs/deploy/builds/1`);
    assert.equal(lock(report, "env-3").holder.url, `${base}/teams/main/pipelines/app/jobs/test/builds/1`);
    const vm3 = lock(report, "vm-3");
    assert.equal(vm3.owner.url, `${base}/builds/${vm3.owner.id}`);
    for (const l of report.locks as Doc[]) {
      if (l.owner) assert.match(l.owner.url, /^http:\/\/127\.0\.0\.1:\d+\//, `${l.name} owner`);
      if (l.holder) assert.match(l.holder.url, /^http:\/\/127\.0\.0\.1:\d+\//, `${l.name} holder`);
    }
    const causes = Object.fromEntries((report.locks as Doc[]).map((l) => [l.name, l.cause]));
    assert.deepEqual(causes, { "env-1": null, "env-2": null, "env-3": null, "env-4": null, "env-5": "no-owner", "env-6": "not-found", "vm-1": "api-error", "vm-2": null, "vm-3": null });
    assert.equal(lock(report, "env-5").note, "Claim env-5 by hand to debug the VPC");
    assert.equal(lock(report, "env-1").note, null);
    assert.equal(report.wouldRelease, 3);
    assert.deepEqual(report.warnings, []);

    const offline = doc(await poolBoy(["status", "--json"], withoutApi(s.env)));
    assert.equal(lock(offline, "env-1").owner.url, null, "no API: no URL to give");
    assert.equal(lock(offline, "env-1").cause, "no-api");
  });

  test("--only POOL and POOL/LOCK (repeatable, or POOL_BOY_ONLY); a lock that is not claimed is a warning object", async () => {
    const report = doc(await poolBoy(["status", "--json", "--only", "gcp", "--only", "aws/env-2", "--only", "aws/env-7"], s.env));
    assert.deepEqual((report.locks as Doc[]).map((l) => `${l.pool}/${l.name}`), ["aws/env-2", "gcp/vm-1", "gcp/vm-2", "gcp/vm-3"]);
    assert.deepEqual(report.only, ["gcp", "aws/env-2", "aws/env-7"]);
    assert.deepEqual(report.warnings, [{ code: "only-not-claimed", message: "--only aws/env-7: the lock is not claimed" }]);
    const fromEnv = doc(await poolBoy(["status", "--json"], { ...s.env, POOL_BOY_ONLY: "aws/env-1,aws/env-3" }));
    assert.deepEqual((fromEnv.locks as Doc[]).map((l) => l.name), ["env-1", "env-3"]);
    const human = await poolBoy(["status", "--only", "aws/env-1"], s.env);
    assert.match(human.stdout, /^aws · 1 of 6 claimed, 1 unclaimed · timeout 2h$/m);
    assert.doesNotMatch(human.stdout, /^gcp/m);
  });

  const refused: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["a pool that does not exist", ["--only", "azure", "--pools", "*:2h"], {}, /--only azure: pool "azure" does not exist\n {2}the repository has: aws, gcp/],
    ["a pool not among --pools", ["--only", "gcp", "--pools", "aws:2h"], {}, /--only gcp: pool "gcp" is not among the pools judged \(aws\)/],
    ["an empty lock name", ["--only", "aws/"], {}, /--only: "aws\/" is not POOL or POOL\/LOCK/],
    ["a bare number as --api-timeout", ["--api-timeout", "10"], {}, /--api-timeout: "10" has no unit \(write e\.g\. "10s"/],
    ["a bare number in POOL_BOY_API_TIMEOUT", [], { POOL_BOY_API_TIMEOUT: "30" }, /POOL_BOY_API_TIMEOUT: "30" has no unit/],
    ["--exit-code for clean", ["--exit-code"], {}, /unknown option '--exit-code'/],
  ];
  for (const [name, args, env, message] of refused) {
    test(`refused, exit 2, nothing changed: ${name}`, async () => {
      const head = await s.repo.head();
      const run = await poolBoy([name.includes("clean") ? "clean" : "status", ...args], { ...s.env, ...env });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, "");
      assert.equal(await s.repo.head(), head);
    });
  }

  test("status --exit-code: 6 when something would be released, 0 when nothing would", async () => {
    const some = await poolBoy(["status", "--exit-code"], s.env);
    assert.equal(some.code, 6, some.stderr);
    assert.match(some.stdout, /3 to release/, "the report is printed all the same");
    const none = await poolBoy(["status", "--exit-code", "--only", "aws/env-1", "--json"], s.env);
    assert.equal(none.code, 0, none.stderr);
    assert.equal((await poolBoy(["status"], { ...s.env, POOL_BOY_EXIT_CODE: "1" })).code, 6);
    const help = await poolBoy(["status", "--help"], {});
    assert.match(help.stdout, /--exit-code +exit 6 when something would be released/);
    assert.match(help.stdout, /^ {2}6 {2}status --exit-code/m);
  });

  test("status without --pools: every pool, no timeout; what only a timeout can judge is kept", async () => {
    const env = { ...s.env };
    delete env.POOLS;
    const run = await poolBoy(["status"], { ...env, COLUMNS: "100" });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^aws · 6 claimed, 1 unclaimed · no timeout$/m);
    assert.match(run.stdout, /^gcp · 3 claimed, 2 unclaimed · no timeout$/m);
    assert.match(run.stdout, /No timeouts given \(--pools\): only the API judges/);
    assert.deepEqual(row(run.stdout, "env-5").slice(3), ["keep (no-timeout)", "a person's note; no timeout"]);
    const report = doc(await poolBoy(["status", "--json"], env));
    assert.equal(lock(report, "env-2").verdict, "release", "the API still judges");
    assert.match(lock(report, "env-5").detail, /no timeout given for the pool \(--pools\), so only the API can release it/);
    assert.deepEqual(report.pools.map((p: Doc) => [p.pool, p.timeoutSeconds, p.timeoutSet]), [["aws", null, false], ["gcp", null, false]]);
  });

  test("fly's habits: options before the command, and the header names the target and its team", async () => {
    const home = await mkdtemp(join(tmpdir(), "pool-boy-fly-"));
    try {
      const token = s.atc.issueToken("pool-boy");
      await writeFile(join(home, ".flyrc"), `targets:\n  ci:\n    api: ${s.atc.url}\n    team: main\n    token:\n      type: bearer\n      value: ${token}\n`);
      const env = { ...withoutApi(s.env), HOME: home };
      const run = await poolBoy(["-t", "ci", "--pools", "aws:2h", "status"], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout.split("\n")[0] ?? "", /^pool-boy status · target ci \(team main\) · Concourse 8\.2\.5$/);
      const report = doc(await poolBoy(["--target", "ci", "--json", "status", "--only", "aws"], env));
      assert.equal(report.target, "ci");
      assert.equal(report.team, "main");
      assert.equal(report.mode, "api");
      // After the command, as before; the command's own options win.
      const after = doc(await poolBoy(["--only", "gcp", "status", "-t", "ci", "--json"], env));
      assert.deepEqual([...new Set((after.locks as Doc[]).map((l) => l.pool))], ["gcp"]);
      assert.equal((await poolBoy(["--frobnicate", "status"], env)).code, 2);
      const noCommand = await poolBoy(["-t", "ci"], env);
      assert.equal(noCommand.code, 2, "options but no command: usage");
      assert.match(noCommand.stderr, /Usage: pool-boy/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe("clean", () => {
  test("pools in one order in the table and the JSON; header counts match the rows; released entries carry reason, detail, commit", async () => {
    const s = await everyVerdictScenario();
    try {
      const env = { ...s.env, POOLS: "gcp:1h,aws:2h" };
      const run = await poolBoy(["clean", "--json"], env);
      assert.equal(run.code, 0, run.stderr);
      const report = doc(run);
      assert.deepEqual(report.pools.map((p: Doc) => p.pool), ["aws", "gcp"]);
      assert.deepEqual([...new Set((report.locks as Doc[]).map((l) => l.pool))], ["aws", "gcp"]);
      const released = report.released as Doc[];
      assert.deepEqual(released.map((r) => [r.pool, r.name, r.reason]), [["aws", "env-2", "finished"], ["aws", "env-5", "stale"], ["gcp", "vm-3", "finished"]]);
      const history = await log(s.repo.path, { max: 3 });
      for (const r of released) {
        assert.match(r.detail, /failed|aborted|over the 2h timeout/);
        const commit = history.find((c) => c.sha === r.commit);
        assert.ok(commit, `the commit of ${r.name} is on the branch`);
        assert.equal(commit.moves[0]?.from, `${r.pool}/claimed/${r.name}`);
      }

      const s2 = await everyVerdictScenario();
      try {
        const human = await poolBoy(["clean"], { ...s2.env, POOLS: "gcp:1h,aws:2h" });
        assert.equal(human.code, 0, human.stderr);
        assert.match(human.stdout, /^aws · 4 claimed, 2 released, 3 unclaimed · timeout 2h$/m);
        assert.match(human.stdout, /^gcp · 2 claimed, 1 released, 3 unclaimed · timeout 1h$/m);
        assert.ok(human.stdout.indexOf("\naws ") < human.stdout.indexOf("\ngcp "));
        assert.equal(row(human.stdout, "env-2")[3], "released (finished)");
      } finally {
        await s2.cleanup();
      }
    } finally {
      await s.cleanup();
    }
  });

  test("--only narrows what clean may release", async () => {
    const s = await everyVerdictScenario();
    try {
      const report = doc(await poolBoy(["clean", "--json", "--only", "aws/env-2"], s.env));
      assert.deepEqual((report.released as Doc[]).map((r) => r.name), ["env-2"]);
    } finally {
      await s.cleanup();
    }
  });

  test("without --pools: the API judges, a lock only a timeout could judge is kept and says why", async () => {
    const s = await everyVerdictScenario();
    try {
      const env = { ...s.env };
      delete env.POOLS;
      const report = doc(await poolBoy(["clean", "--json"], env));
      assert.deepEqual((report.released as Doc[]).map((r) => r.name).sort(), ["env-2", "vm-3"]);
      assert.equal(lock(report, "env-5").verdict, "keep");
      assert.equal(lock(report, "env-5").reason, "no-timeout");
    } finally {
      await s.cleanup();
    }
  });
});

describe("a person's claim message", () => {
  test("shows its first line as the owner, marked as a note", async () => {
    const repo = await createPoolRepo({ pools: { perf: { unclaimed: ["perf-a", "perf-b"] } } });
    try {
      const c = await repo.claimer();
      await c.claim("perf", "perf-b", "alice: grabbing perf-b to debug the load balancer\n\nback by friday", new Date(Date.now() - 3 * 3600_000));
      const env = { HOME: "/nonexistent", COLUMNS: "80" };
      const run = await poolBoy(["status", "--repo", repo.path, "--pools", "perf:1d"], env);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(row(run.stdout, "perf-b").slice(0, 3), ["perf-b", '"alice: grabbing perf-…"', "3h"]);
      const report = doc(await poolBoy(["status", "--json", "--repo", repo.path, "--pools", "perf:1d"], env));
      assert.equal(lock(report, "perf-b").note, "alice: grabbing perf-b to debug the load balancer");
      assert.equal(lock(report, "perf-b").cause, "no-owner");
    } finally {
      await repo.cleanup();
    }
  });

  test("control characters in a message never reach the terminal", async () => {
    const repo = await createPoolRepo({ pools: { p: { unclaimed: ["a"] } } });
    try {
      const c = await repo.claimer();
      await c.claim("p", "a", "bob \u001b]8;;http://evil\u0007x\u001b[2J");
      const run = await poolBoy(["status", "--repo", repo.path, "--pools", "p:1d", "--verbose"], { HOME: "/nonexistent" });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stdout, /[\u0000-\u0009\u000b-\u001f\u007f]/u);
    } finally {
      await repo.cleanup();
    }
  });
});

describe("local repositories", () => {
  test("a clone with the branch checked out: clean refuses before it starts and says what to do; status works", async () => {
    const repo = await createPoolRepo({ pools: { p: { unclaimed: ["a", "b"] } } });
    try {
      const c = await repo.claimer();
      await c.claim("p", "a", "main/x/y build 1 claiming: a", new Date(Date.now() - 86400_000));
      const clone = join(repo.root, "clone");
      await gitOk(["clone", "-q", repo.path, clone], repo.env);
      const head = await gitOk(["rev-parse", "HEAD"], repo.env, clone);
      const env = { HOME: "/nonexistent" };
      const run = await poolBoy(["clean", "--repo", clone, "--pools", "p:1h"], env);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /has branch "main" checked out, so git would refuse clean's push to it \(receive\.denyCurrentBranch\)/);
      assert.match(run.stderr, /push the pools to a bare repository .* or use --branch with a branch that is not checked out/);
      assert.equal(run.stdout, "");
      assert.equal(await gitOk(["rev-parse", "HEAD"], repo.env, clone), head);
      const status = await poolBoy(["status", "--json", "--repo", clone, "--pools", "p:1h"], env);
      assert.equal(status.code, 0, status.stderr);
      assert.equal(lock(doc(status), "a").verdict, "release");
      // A clone that accepts pushes to its checked-out branch is fine.
      await gitOk(["config", "receive.denyCurrentBranch", "updateInstead"], repo.env, clone);
      const allowed = await poolBoy(["clean", "--json", "--repo", clone, "--pools", "p:1h"], env);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.deepEqual((doc(allowed).released as Doc[]).map((r) => r.name), ["a"]);
    } finally {
      await repo.cleanup();
    }
  });

  test("a folder that is not a git repository says exactly that", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pool-boy-notgit-"));
    try {
      await mkdir(join(dir, "p", "claimed"), { recursive: true });
      const run = await poolBoy(["status", "--repo", dir, "--pools", "p:1h"], { HOME: "/nonexistent" });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /is not a git repository/);
      assert.doesNotMatch(run.stderr, /not found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a local path that does not exist says so, as a path or a file:// URL, with the fix (exit 2)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pool-boy-missing-"));
    try {
      for (const repo of [join(dir, "nope.git"), `file://${join(dir, "nope.git")}`]) {
        const run = await poolBoy(["status", "--repo", repo, "--pools", "p:1h"], { HOME: "/nonexistent" });
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, new RegExp(`pool-boy: ${repo.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} does not exist\n`));
        assert.match(run.stderr, /point --repo \(or POOL_REPO\) at the pool repository/);
        assert.doesNotMatch(run.stderr, /GitHub|credentials/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
