import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { everyVerdictScenario, DEMO_USER, type Scenario } from "../support/scenario.js";
import { createPoolRepo, log, filesAt } from "../support/pool-repo.js";
import { poolBoy, json } from "../support/cli.js";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

function verdicts(report: ReturnType<typeof json>): Record<string, string> {
  return Object.fromEntries(report.locks.map((l) => [`${l.pool}/${l.name}`, `${l.verdict}/${l.reason}`]));
}
function expectedVerdicts(s: Scenario): Record<string, string> {
  return Object.fromEntries(s.expected.map((e) => [`${e.pool}/${e.name}`, `${e.verdict}/${e.reason}`]));
}
function noSecrets(text: string): void {
  assert.doesNotMatch(text, new RegExp(DEMO_USER.password), "the password leaked");
}

for (const version of ["8.2.5", "7.11.2", "6.3.0", "5.8.0"]) {
  describe(`against Concourse ${version}`, () => {
    let s: Scenario;
    before(async () => {
      s = await everyVerdictScenario({ version });
    });
    after(async () => s.cleanup());

    test("status --json judges every lock right and changes nothing", async () => {
      const headBefore = await s.repo.head();
      const run = await poolBoy(["status", "--json"], s.env);
      assert.equal(run.code, 0, run.stderr);
      const report = json(run);
      assert.deepEqual(verdicts(report), expectedVerdicts(s));
      assert.equal(report.mode, "api");
      const env3 = report.locks.find((l) => l.name === "env-3")!;
      assert.equal(env3.handedOff, true);
      assert.equal(env3.holder?.["job"], "test");
      assert.equal(env3.buildStatus, "succeeded");
      assert.deepEqual(report.locks.find((l) => l.name === "env-4")!.waitingFor, ["test"]);
      const env1 = report.locks.find((l) => l.name === "env-1")!;
      assert.deepEqual(env1.owner, { kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", build: "1", url: `${s.atc.url}/teams/main/pipelines/app/jobs/deploy/builds/1` });
      assert.match(env1.claimedAt ?? "", /^\d{4}-\d\d-\d\dT/);
      assert.ok((env1.ageSeconds ?? 0) >= 3 * 86400);
      assert.match(env1.commit ?? "", /^[0-9a-f]{40}$/);
      assert.deepEqual(report.pools, [
        { pool: "aws", claimed: 6, unclaimed: 1, timeoutSeconds: 7200, timeoutSet: true },
        { pool: "gcp", claimed: 3, unclaimed: 2, timeoutSeconds: 3600, timeoutSet: true },
      ]);
      assert.equal(await s.repo.head(), headBefore);
      noSecrets(run.stdout + run.stderr);
    });

    test("clean releases exactly the stale locks, one commit each, and a second run finds nothing", async () => {
      const run = await poolBoy(["clean", "--json"], s.env);
      assert.equal(run.code, 0, run.stderr);
      const report = json(run);
      const wantReleased = s.expected.filter((e) => e.verdict === "release").map((e) => `${e.pool}/${e.name}`).sort();
      assert.deepEqual(report.released?.map((r) => `${r.pool}/${r.name}`).sort(), wantReleased);
      const commits = (await log(s.repo.path, { max: wantReleased.length + 1 }));
      const ours = commits.filter((c) => c.author.startsWith("Pool Boy"));
      assert.equal(ours.length, wantReleased.length);
      assert.deepEqual(report.commits?.slice().sort(), ours.map((c) => c.sha).sort());
      for (const c of ours) {
        assert.equal(c.moves.length, 1);
        const m = c.moves[0]!;
        const name = m.from.split("/").pop();
        assert.equal(m.to, m.from.replace("/claimed/", "/unclaimed/"));
        assert.equal(c.message.split("\n")[0], `unclaiming: ${name}`);
      }
      const files = await filesAt(s.repo.path, "HEAD");
      for (const e of s.expected) {
        const claimed = files.includes(`${e.pool}/claimed/${e.name}`);
        assert.equal(claimed, e.verdict === "keep", `${e.pool}/${e.name}`);
      }
      assert.ok(files.includes("gcp/unclaimed/vm-2"), "the conflict is left as it was");
      noSecrets(run.stdout + run.stderr);

      const again = await poolBoy(["clean", "--json"], s.env);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(json(again).released, []);
      assert.equal(await s.repo.head(), ours.map((c) => c.sha).find((sha) => sha === commits[0]!.sha));
    });
  });
}

describe("the human report", () => {
  let s: Scenario;
  before(async () => {
    s = await everyVerdictScenario();
  });
  after(async () => s.cleanup());

  test("a table per pool, hand-offs spelled out, and a summary line", async () => {
    const run = await poolBoy(["status"], s.env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^aws · 6 claimed, 1 unclaimed · timeout 2h$/m);
    assert.match(run.stdout, /env-3 +test #1 \(from deploy #3\) +5h +keep \(alive\) +started/);
    assert.match(run.stdout, /env-4 +deploy #4 +30m +keep \(young\) +waiting for test/);
    assert.match((run.stdout.trim().split("\n\n").pop() ?? "").replace(/\n/g, " "), /^9 claimed locks in 2 pools: 3 to release \(finished 2, stale 1\), 6 kept \(alive 2, young 2, unknown 1, conflict 1\)\.$/m);
    assert.doesNotMatch(run.stdout, /\x1b\[/, "NO_COLOR: no escape codes");
    assert.equal(run.stderr, "", "nothing on stderr without --verbose");
  });

  test("--verbose logs to stderr, never a secret", async () => {
    const run = await poolBoy(["status", "--verbose"], s.env);
    assert.equal(run.code, 0);
    assert.match(run.stderr, /pool-boy: synced /);
    noSecrets(run.stdout + run.stderr);
  });
});

describe("timeout-only mode", () => {
  test("without an API, the output says so and only ages decide", async () => {
    const s = await everyVerdictScenario();
    try {
      const env = { ...s.env };
      delete env.CONCOURSE_BASE_URL;
      delete env.CONCOURSE_USERNAME;
      delete env.CONCOURSE_PASSWORD;
      const human = await poolBoy(["status"], env);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^No Concourse API configured: only the pools' timeouts apply\.$/m);
      const report = json(await poolBoy(["status", "--json"], env));
      assert.equal(report.mode, "timeout-only");
      const v = verdicts(report);
      assert.equal(v["aws/env-1"], "release/stale", "3 days old: stale without an API");
      assert.equal(v["aws/env-2"], "keep/young");
      assert.equal(v["gcp/vm-2"], "keep/conflict");
    } finally {
      await s.cleanup();
    }
  });
});

describe("a misconfigured API never turns into timeout-only reaping", () => {
  let s: Scenario;
  before(async () => {
    s = await everyVerdictScenario();
  });
  after(async () => s.cleanup());

  test("a wrong password: exit 3, nothing changed, no secret shown", async () => {
    const head = await s.repo.head();
    const run = await poolBoy(["clean"], { ...s.env, CONCOURSE_PASSWORD: "wrong-password-456" });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^pool-boy: .*(refused|Invalid username or password)/m);
    assert.doesNotMatch(run.stderr, /wrong-password-456/);
    assert.equal(run.stdout, "");
    assert.equal(await s.repo.head(), head);
  });

  test("an API that is down: exit 3, nothing changed", async () => {
    const head = await s.repo.head();
    const run = await poolBoy(["clean"], { ...s.env, CONCOURSE_BASE_URL: "http://127.0.0.1:9" });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /cannot reach Concourse at http:\/\/127\.0\.0\.1:9/);
    assert.equal(await s.repo.head(), head);
  });
});

describe("bad input: a clear error, exit 2 or 3, nothing changed", () => {
  let s: Scenario;
  before(async () => {
    s = await everyVerdictScenario();
  });
  after(async () => s.cleanup());

  const cases: Array<[string, string[], Record<string, string>, number, RegExp]> = [
    ["a malformed --pools entry", ["--pools", "aws:2x"], {}, 2, /--pools: "aws:2x": "2x" is not a duration/],
    ["a pool name escaping the repo", ["--pools", "../x:2h"], {}, 2, /"\.\.\/x" is not a pool name/],
    ["a pool that does not exist", ["--pools", "azure:2h"], {}, 2, /pool "azure" does not exist/],
    ["an unknown flag", ["--frobnicate"], {}, 2, /unknown option '--frobnicate'/],
    ["a password as a flag", ["--password", "hunter2-secret"], {}, 2, /--password is not accepted/],
    ["a bad API URL", [], { CONCOURSE_BASE_URL: "not a url" }, 2, /CONCOURSE_BASE_URL: "not a url" is not an http\(s\) URL/],
    ["a local repo path that does not exist", ["--repo", "/nonexistent/pool.git"], {}, 2, /\/nonexistent\/pool\.git does not exist/],
    ["a repo that cannot be reached", ["--repo", "http://127.0.0.1:1/pool.git"], {}, 3, /127\.0\.0\.1:1/],
    ["a branch that does not exist", ["--branch", "no-such-branch"], {}, 3, /no-such-branch/],
  ];
  for (const [name, args, env, code, message] of cases) {
    test(name, async () => {
      const head = await s.repo.head();
      const run = await poolBoy(["clean", ...args], { ...s.env, ...env });
      assert.equal(run.code, code, `stderr: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /^pool-boy: /);
      assert.doesNotMatch(run.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, "no stack trace");
      assert.doesNotMatch(run.stderr, /hunter2-secret/);
      assert.equal(run.stdout, "");
      assert.equal(await s.repo.head(), head);
    });
  }
});

describe("the command line", () => {
  test("--help shows examples, environment variables and exit codes", async () => {
    const run = await poolBoy(["clean", "--help"], {});
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Examples:/);
    assert.match(run.stdout, /\(env\s+POOL_REPO\)/);
    assert.match(run.stdout, /Exit codes:\n\s+0 +done/);
    assert.doesNotMatch(run.stdout, /--password </, "the refused --password flag is hidden");
  });

  test("--version prints the package version", async () => {
    const run = await poolBoy(["--version"], {});
    assert.equal(run.code, 0);
    assert.match(run.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  test("no command: usage on stderr, exit 2", async () => {
    const run = await poolBoy([], {});
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Usage: pool-boy/);
  });
});

describe("a lost race leads to a fresh judgement", () => {
  test("while clean asks about the locks, X and Y are released and a running build claims X again", async () => {
    const s = await everyVerdictScenario();
    try {
      const other = await s.repo.claimer();
      let raced = false;
      // At the first owner lookup, before clean has judged anything, the world moves on:
      // env-2 (failed owner) and env-5 (stale) are released by their jobs in one commit, and a
      // new, running build claims env-2 again.
      s.atc.beforeAnswer = async (path) => {
        if (raced || !path.includes("/jobs/")) return;
        raced = true;
        await other.bulk([
          { op: "commit", remove: ["aws/claimed/env-2", "aws/claimed/env-5"], write: { "aws/unclaimed/env-2": "", "aws/unclaimed/env-5": "" }, message: "unclaiming: env-2 and env-5" },
        ]);
        await other.claim("aws", "env-2", "main/app/deploy build 5 claiming: env-2");
        s.atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "5", status: "started" });
      };
      const run = await poolBoy(["clean", "--json", "--verbose"], s.env);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(raced);
      const report = json(run);
      assert.equal(report.attempts, 2, "the refused push was followed by one fresh judgement");
      assert.match(run.stderr, /push refused/);
      const released = report.released?.map((r) => `${r.pool}/${r.name}`).sort();
      assert.deepEqual(released, ["gcp/vm-3"], "env-2 is held by a running build now; env-5 was already released");
      assert.equal(verdicts(report)["aws/env-2"], "keep/alive");
      const files = await filesAt(s.repo.path, "HEAD");
      assert.ok(files.includes("aws/claimed/env-2"));
      assert.ok(files.includes("aws/unclaimed/env-5") && !files.includes("aws/claimed/env-5"));
      const history = await log(s.repo.path, { max: 5 });
      assert.equal(history.filter((c) => c.author.startsWith("Pool Boy")).length, 1, "no stray commit was pushed");
    } finally {
      await s.cleanup();
    }
  });

  test("others pushing every time: clean gives up after --max-attempts, exit 3, nothing pushed", async () => {
    const s = await everyVerdictScenario();
    const dir = await mkdtemp(join(tmpdir(), "pool-boy-always-late-"));
    try {
      // A git first on PATH that, before each push of pool-boy's, lets someone else push a commit
      // first (an empty bookkeeping commit): every push of pool-boy's arrives one commit late.
      const realGit = execFileSync("sh", ["-c", "command -v git"]).toString().trim();
      const bare = s.repo.path;
      const branch = s.repo.branch;
      await writeFile(
        join(dir, "git"),
        `#!/bin/sh
if [ "$1" = "push" ]; then
  (
    unset GIT_DIR GIT_CONFIG_COUNT
    export GIT_DIR='${bare}' GIT_AUTHOR_NAME=other GIT_AUTHOR_EMAIL=other@localhost GIT_COMMITTER_NAME=other GIT_COMMITTER_EMAIL=other@localhost
    parent=$('${realGit}' rev-parse refs/heads/${branch})
    commit=$(echo bookkeeping | '${realGit}' commit-tree "$parent^{tree}" -p "$parent")
    '${realGit}' update-ref refs/heads/${branch} "$commit" "$parent"
  )
fi
exec '${realGit}' "$@"
`,
        { mode: 0o755 },
      );
      const run = await poolBoy(["clean", "--max-attempts", "2"], { ...s.env, PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}` });
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /refused 2 times/);
      const history = await log(s.repo.path, { max: 5 });
      assert.equal(history.filter((c) => c.author.startsWith("Pool Boy")).length, 0);
    } finally {
      await s.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("repositories", () => {
  test("the remote's default branch is used when none is given (not master)", async () => {
    const repo = await createPoolRepo({ pools: { p: { unclaimed: ["a"] } }, branch: "locks" });
    try {
      const c = await repo.claimer();
      await c.claim("p", "a", "main/x/y build 1 claiming: a", new Date(Date.now() - 86400_000));
      const run = await poolBoy(["status", "--json", "--repo", repo.path, "--pools", "*:1h"], { HOME: "/nonexistent" });
      assert.equal(run.code, 0, run.stderr);
      const report = json(run);
      assert.equal(report.branch, "locks");
      assert.deepEqual(verdicts(report), { "p/a": "release/stale" });
    } finally {
      await repo.cleanup();
    }
  });
});
