// Issue 12 through the built CLI: a hand-edited claim, no credentials, another team's credentials,
// a public pipeline, a proxy's HTML 404 and another Concourse's Build URL. Real git, a real HTTP
// Concourse stand-in, the CLI as a scheduled task runs it.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPoolRepo, filesAt, type Claimer, type PoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc, type FakeUser } from "../support/atc-server.js";
import { json, poolBoy, type JsonLock } from "../support/cli.js";

const PASSWORD = "e2e-trust-Pa55word";
const USERS: FakeUser[] = [
  { username: "bot", password: PASSWORD, teams: ["main"] },
  { username: "outsider", password: PASSWORD, teams: ["other"] },
];
const MINUTE = 60_000;
const ago = (minutes: number) => new Date(Date.now() - minutes * MINUTE);

interface World {
  repo: PoolRepo;
  atc: FakeAtc;
  claimer: Claimer;
  home: string;
  env(auth: "none" | "bot" | "outsider"): Record<string, string>;
  done(): Promise<void>;
}

async function world(locks: string[]): Promise<World> {
  const repo = await createPoolRepo({ pools: { aws: { unclaimed: locks } }, date: ago(10 * 24 * 60) });
  const atc = await startFakeAtc({ version: "8.2.5", users: USERS, externalUrl: "https://ci.example.com" });
  const home = await mkdtemp(join(tmpdir(), "pool-boy-trust-"));
  const claimer = await repo.claimer();
  return {
    repo,
    atc,
    claimer,
    home,
    env: (auth) => ({
      POOL_REPO: repo.path,
      POOLS: "aws:2h",
      CONCOURSE_BASE_URL: atc.url,
      ...(auth === "none" ? {} : { CONCOURSE_USERNAME: auth, CONCOURSE_PASSWORD: PASSWORD }),
      POOL_BOY_API_RETRIES: "0",
      HOME: home,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: join(home, ".gitconfig"),
    }),
    done: async () => {
      await atc.close();
      await repo.cleanup();
      await rm(home, { recursive: true, force: true });
    },
  };
}

function lockOf(report: ReturnType<typeof json>, name: string): JsonLock {
  const found = report.locks.find((l) => l.name === name);
  assert.ok(found, `no lock ${name}`);
  return found;
}

async function claimed(w: World): Promise<string[]> {
  return (await filesAt(w.repo.path, "HEAD")).filter((f) => f.startsWith("aws/claimed/") && !f.endsWith(".gitkeep")).map((f) => f.slice("aws/claimed/".length)).sort();
}

describe("a private pipeline without access: kept, said once per team, exit 5", () => {
  let w: World;
  before(async () => {
    w = await world(["env-1", "env-2", "env-3"]);
    // env-1: a failed build of team main, 3 days old: released if pool-boy could see it
    await w.claimer.claim("aws", "env-1", "main/app/deploy build 1 claiming: env-1", ago(3 * 24 * 60));
    w.atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "failed" });
    // env-2: the same team, another build, 5 hours old
    await w.claimer.claim("aws", "env-2", "main/app/deploy build 2 claiming: env-2", ago(5 * 60));
    w.atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "2", status: "started" });
    // env-3: claimed by hand 5 hours ago: the timeout may judge it, access or not
    await w.claimer.claim("aws", "env-3", "grab env-3 to debug", ago(5 * 60));
  });
  after(async () => w?.done());

  test("no credentials: status keeps both, names team main once with the fix, exits 5; the metrics count them", async () => {
    const metrics = join(w.home, "pool-boy.prom");
    const run = await poolBoy(["status", "--json", "--metrics-file", metrics], w.env("none"));
    assert.equal(run.code, 5, run.stderr);
    const report = json(run);
    for (const name of ["env-1", "env-2"]) {
      const l = lockOf(report, name);
      assert.deepEqual([l.verdict, l.reason, l.cause], ["keep", "unknown", "no-access"], name);
      assert.match(l.detail, /^no access to team main: .*HTTP 401/);
    }
    assert.deepEqual([lockOf(report, "env-3").verdict, lockOf(report, "env-3").cause], ["release", "no-owner"]);
    const warnings = (report as unknown as { warnings: string[] }).warnings.filter((x) => x.includes("no access"));
    assert.equal(warnings.length, 1, "once per team");
    assert.match(warnings[0]!, /^no access to team main: 2 locks kept without a judgement \(HTTP 401: the pipelines are not public and no Concourse credentials were given\).*Fix: give pool-boy a user of team main/);
    assert.match(run.stderr, /pool-boy: 2 locks were kept without a judgement: Concourse refused access to main \(HTTP 401\/403\).*\(exit 5\)/);
    const text = await readFile(metrics, "utf8");
    assert.match(text, /^pool_boy_unjudged_locks\{pool="aws",cause="no-access"\} 2$/m);
    assert.match(text, /^pool_boy_unjudged_locks\{pool="aws",cause="api-error"\} 0$/m);
    assert.match(text, /^pool_boy_run_succeeded 1$/m);
  });

  test("another team's user: a warning at login before asking, then 403, kept, exit 5; clean still releases what it can judge", async () => {
    const human = await poolBoy(["status"], w.env("outsider"));
    assert.equal(human.code, 5, human.stderr);
    assert.match(human.stderr, /pool-boy: warning: outsider is not a member of team main, which 2 claims name \(outsider's teams: other\)/);
    assert.match(human.stdout, /warning: no access to team main: 2 locks kept without a judgement \(HTTP 403: outsider is not a member of team main\).*Fix: add outsider to team main: fly -t ADMIN_TARGET set-team -n main --local-user outsider/);
    assert.match(human.stdout, /env-1 .* no access +keep \(unknown\) +no access to team main/);
    assert.doesNotMatch(human.stdout + human.stderr, new RegExp(PASSWORD));

    const clean = await poolBoy(["clean", "--json"], w.env("outsider"));
    assert.equal(clean.code, 5, clean.stderr);
    assert.deepEqual(json(clean).released?.map((r) => r.name), ["env-3"]);
    assert.deepEqual(await claimed(w), ["env-1", "env-2"]);
  });

  test("with a member of the team, the same locks are judged: exit 0", async () => {
    const run = await poolBoy(["status", "--json"], w.env("bot"));
    assert.equal(run.code, 0, run.stderr);
    const report = json(run);
    assert.deepEqual([lockOf(report, "env-1").verdict, lockOf(report, "env-1").reason, lockOf(report, "env-1").cause], ["release", "finished", null]);
    assert.equal(lockOf(report, "env-2").reason, "alive");
    assert.doesNotMatch(run.stderr, /warning/);
  });
});

test("a public pipeline without credentials: judged as before, exit 0", async () => {
  const w = await world(["env-1"]);
  try {
    w.atc.addPipeline({ team: "main", name: "oss", public: true, jobs: [{ name: "build" }] });
    await w.claimer.claim("aws", "env-1", "main/oss/build build 4 claiming: env-1", ago(10));
    w.atc.addBuild({ team: "main", pipeline: "oss", job: "build", name: "4", status: "errored" });
    const run = await poolBoy(["clean", "--json"], w.env("none"));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(json(run).released?.map((r) => r.name), ["env-1"]);
  } finally {
    await w.done();
  }
});

test("a proxy's HTML 404 for the owner build keeps an old lock this run; Concourse's own 404 lets the timeout release it", async () => {
  const w = await world(["env-1"]);
  try {
    await w.claimer.claim("aws", "env-1", "main/app/deploy build 9 claiming: env-1", ago(3 * 24 * 60));
    w.atc.addPipeline({ team: "main", name: "app", jobs: [{ name: "deploy" }] });
    // one request per run (retries 0, each URL asked once): the proxy answers the first run only
    w.atc.inject({ kind: "proxy" }, { path: "/jobs/deploy/builds/9", times: 1 });
    const run = await poolBoy(["clean", "--json"], w.env("bot"));
    assert.equal(run.code, 0, run.stderr);
    const l = lockOf(json(run), "env-1");
    assert.deepEqual([l.verdict, l.reason, l.cause], ["keep", "unknown", "api-error"]);
    assert.match(l.detail, /HTTP 404 with an HTML page, which Concourse never sends.*kept this run/);
    assert.deepEqual(json(run).released, []);
    assert.deepEqual(await claimed(w), ["env-1"]);

    const gone = await poolBoy(["clean", "--json"], w.env("bot"));
    assert.equal(gone.code, 0, gone.stderr);
    assert.deepEqual([lockOf(json(gone), "env-1").reason, lockOf(json(gone), "env-1").cause], ["stale", "not-found"]);
    assert.deepEqual(await claimed(w), []);
  } finally {
    await w.done();
  }
});

test("a Build URL of another Concourse is not asked here, although a same-named failed build exists: the timeout decides", async () => {
  const w = await world(["env-1", "env-2"]);
  try {
    const other = "https://ci.other.org/teams/main/pipelines/app/jobs/deploy/builds/42";
    await w.claimer.claim("aws", "env-1", `claiming: env-1\nBuild URL: ${other}`, ago(30));
    await w.claimer.claim("aws", "env-2", `claiming: env-2\nBuild URL: ${other.replace("/42", "/43")}`, ago(5 * 60));
    w.atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "42", status: "failed" });
    w.atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "43", status: "started" });
    w.atc.clearRecords();
    const run = await poolBoy(["status", "--json"], w.env("bot"));
    assert.equal(run.code, 0, run.stderr);
    const young = lockOf(json(run), "env-1");
    assert.deepEqual([young.verdict, young.reason, young.cause], ["keep", "young", "foreign-concourse"], "never released as finished");
    assert.match(young.detail, /the claim came from another Concourse \(ci\.other\.org\)/);
    const old = lockOf(json(run), "env-2");
    assert.deepEqual([old.verdict, old.reason, old.cause], ["release", "stale", "foreign-concourse"]);
    assert.equal(w.atc.requests.filter((r) => r.path.includes("/builds/4")).length, 0, "no lookup on this Concourse");

    const human = await poolBoy(["status"], w.env("bot"));
    assert.match(human.stdout, /env-1 .*keep \(young\) +the claim came from another Concourse \(ci\.other\.org\)/);
  } finally {
    await w.done();
  }
});

test("a claimed lock edited by hand after its claim stays its running build's: shown, never acted on", async () => {
  const w = await world(["env-1"]);
  try {
    await w.claimer.claim("aws", "env-1", "main/app/deploy build 5 claiming: env-1", ago(3 * 24 * 60));
    w.atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "5", status: "started" });
    w.atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "6", status: "failed" });
    await w.claimer.commit({ write: { "aws/claimed/env-1": "ip: 10.0.0.7\n" } }, "fix the IP of env-1", ago(60));
    await w.claimer.commit({ write: { "aws/claimed/env-1": "ip: 10.0.0.8\n" } }, "main/app/deploy build 6 claiming: env-1", ago(30));
    const run = await poolBoy(["clean", "--json"], w.env("bot"));
    assert.equal(run.code, 0, run.stderr);
    const l = lockOf(json(run), "env-1");
    assert.deepEqual([l.verdict, l.reason], ["keep", "alive"]);
    assert.equal((l.owner as { build?: string } | null)?.build, "5");
    assert.ok((l.ageSeconds ?? 0) >= 3 * 86400, "the age counts from the claim");
    assert.equal(l.editedAfterClaim?.length, 2);
    assert.deepEqual(await claimed(w), ["env-1"]);
    const human = await poolBoy(["status"], w.env("bot"));
    assert.match(human.stdout, /env-1 +deploy #5 .*keep \(alive\) +deploy #5 is started\n +edited after the claim: 2 commits, the last [0-9a-f]{12} at .*\(owner and age are the claim's\)/);
  } finally {
    await w.done();
  }
});
