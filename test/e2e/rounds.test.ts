// The second round of `clean` (after a lost push race, with the early release of what final
// answers already decide) applies the operator's controls exactly as the first: a hold made while
// clean waits on the API, a keep-failed window or a release-to added to .pool-boy/config.yaml
// meanwhile, and --only. The race is forced with the API's beforeAnswer hook: while clean waits on
// the running build's answer, the other writer pushes, so clean's first push is refused and the
// failed owners' answers are reused (not asked again) in the second round.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPoolRepo, log, type Claimer, type PoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import { poolBoy, json, type CliRun } from "../support/cli.js";

const USER = { username: "pool-boy", password: "rounds-secret-9", teams: ["main"] };
const HOUR = 3_600_000;

interface World {
  repo: PoolRepo;
  atc: FakeAtc;
  env: Record<string, string>;
  other: Claimer;
  /** the running build's API path (deploy #3, owner of aws/env-3) and id */
  runningPath: string;
  runningId: number;
  cleanup(): Promise<void>;
}

/** aws: env-1 and env-2 claimed by failed builds, env-3 by a running one, env-4 unclaimed; aws-dirty: env-2 unclaimed. */
async function makeWorld(): Promise<World> {
  const now = Date.now();
  const repo = await createPoolRepo({
    pools: { aws: { unclaimed: ["env-1", "env-2", "env-3", "env-4"] }, "aws-dirty": { unclaimed: ["env-2"] } },
    date: new Date(now - 48 * HOUR),
  });
  const atc = await startFakeAtc({ version: "8.2.5", users: [USER] });
  try {
    const seed = await repo.claimer();
    let running = { id: 0, name: "" };
    for (const [lock, status] of [["env-1", "failed"], ["env-2", "failed"], ["env-3", "started"]] as const) {
      const b = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
      if (status === "started") running = { id: b.id, name: String(b.name) };
      await seed.claim("aws", lock, `main/app/deploy build ${b.name} claiming: ${lock}`, new Date(now - 3 * HOUR));
      if (status !== "started") atc.setStatus(b.id, status);
    }
    const other = await repo.claimer();
    const env = {
      POOL_REPO: repo.path,
      POOL_BOY_POOLS: "aws:1h",
      CONCOURSE_BASE_URL: atc.url,
      CONCOURSE_USERNAME: USER.username,
      CONCOURSE_PASSWORD: USER.password,
      POOL_BOY_API_RETRIES: "1",
      POOL_BOY_BY: "tester",
      HOME: `${repo.root}/home`,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: `${repo.root}/no-global-gitconfig`,
    };
    return {
      repo,
      atc,
      env,
      other,
      runningPath: `/jobs/deploy/builds/${running.name}`,
      runningId: running.id,
      async cleanup() {
        atc.beforeAnswer = null;
        await atc.close();
        await repo.cleanup();
      },
    };
  } catch (error) {
    await atc.close();
    await repo.cleanup();
    throw error;
  }
}

/** While clean waits on the running build's first answer, `meanwhile` pushes (clean's push is then refused). */
function raceOnce(w: World, meanwhile: () => Promise<unknown>): { fired: () => number } {
  let fired = 0;
  w.atc.beforeAnswer = async (path) => {
    if (!path.endsWith(w.runningPath) || fired++ > 0) return;
    await meanwhile();
  };
  return { fired: () => fired };
}

const ok = (r: CliRun, what: string) => {
  assert.equal(r.code, 0, `${what} exited ${r.code}: ${r.stderr}`);
  return json(r);
};
const verdict = (r: CliRun, name: string) => {
  const l = json(r).locks.find((x) => `${x.pool}/${x.name}` === name);
  return l ? `${l.verdict}/${l.reason}` : "absent";
};
const released = (r: CliRun) => (json(r).released ?? []).map((m) => `${m.pool}/${m.name}`).sort();
/** The locks pool-boy's commits moved out of claimed/ (every commit of the branch). */
async function movedByPoolBoy(repo: PoolRepo): Promise<string[]> {
  const commits = await log(repo.path);
  return commits
    .filter((c) => /^unclaiming: /.test(c.message) && /pool-boy/i.test(c.message))
    .flatMap((c) => c.moves.map((m) => m.from))
    .sort();
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const w = await makeWorld();
  try {
    await body(w);
  } finally {
    await w.cleanup();
  }
}

describe("clean's second round applies the operator controls as the first", () => {
  test("a hold made (pool-boy hold) while clean waits on the API is honoured: the reused failed answer is kept (held)", () =>
    withWorld(async (w) => {
      let hold: CliRun | null = null;
      const race = raceOnce(w, async () => {
        hold = await poolBoy(["hold", "aws/env-2", "--reason", "debugging the failure"], w.env);
      });
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s"], w.env);
      assert.ok(race.fired() >= 1);
      assert.equal((hold as CliRun | null)?.code, 0, (hold as CliRun | null)?.stderr);
      ok(r, "clean");
      assert.match(r.stderr, /push refused/);
      assert.match(r.stderr, /judging again: 2 answer\(s\) reused/, "the failed owners' answers were reused");
      assert.equal(json(r).attempts, 2);
      assert.deepEqual(released(r), ["aws/env-1"]);
      assert.equal(verdict(r, "aws/env-2"), "keep/held");
      assert.equal(verdict(r, "aws/env-3"), "keep/alive");
      assert.deepEqual(await movedByPoolBoy(w.repo), ["aws/claimed/env-1"], "the held lock was never moved");
      assert.deepEqual(json(r).commits, [(await log(w.repo.path, { max: 1 }))[0]!.sha]);
    }));

  test("keep-failed added to .pool-boy/config.yaml meanwhile: the reused failed answers are kept (debug-window)", () =>
    withWorld(async (w) => {
      raceOnce(w, () => w.other.commit({ write: { ".pool-boy/config.yaml": "pools:\n  aws:\n    keep-failed: 30d\n" } }, "keep failed builds' locks"));
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s"], w.env);
      ok(r, "clean");
      assert.match(r.stderr, /push refused/);
      assert.deepEqual(released(r), []);
      assert.equal(verdict(r, "aws/env-1"), "keep/debug-window");
      assert.equal(verdict(r, "aws/env-2"), "keep/debug-window");
      assert.deepEqual(await movedByPoolBoy(w.repo), []);
    }));

  test("release-to added meanwhile: the early release quarantines, a name taken in the target is a conflict and stays", () =>
    withWorld(async (w) => {
      raceOnce(w, () => w.other.commit({ write: { ".pool-boy/config.yaml": "pools:\n  aws:\n    release-to: aws-dirty\n" } }, "quarantine aws"));
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s"], w.env);
      ok(r, "clean");
      assert.match(r.stderr, /push refused/);
      assert.deepEqual(released(r), ["aws/env-1"]);
      assert.equal((json(r).released?.[0] as { to?: string }).to, "aws-dirty/unclaimed/env-1");
      assert.equal(verdict(r, "aws/env-2"), "keep/conflict");
      const [head] = await log(w.repo.path, { max: 1 });
      assert.deepEqual(head!.moves, [{ from: "aws/claimed/env-1", to: "aws-dirty/unclaimed/env-1" }]);
      assert.deepEqual(await movedByPoolBoy(w.repo), ["aws/claimed/env-1"]);
    }));

  test("--only: the early release of the second round moves only what --only names", () =>
    withWorld(async (w) => {
      raceOnce(w, () => w.other.commit({ write: { "notes.txt": "unrelated\n" } }, "an unrelated commit"));
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s", "--only", "aws/env-2", "--only", "aws/env-3"], w.env);
      ok(r, "clean");
      assert.match(r.stderr, /push refused/);
      assert.deepEqual(released(r), ["aws/env-2"]);
      assert.ok(!json(r).locks.some((l) => l.name === "env-1"), "env-1 is not judged");
      assert.deepEqual(await movedByPoolBoy(w.repo), ["aws/claimed/env-2"]);
    }));

  test("--only over three rounds: a lock it names that an earlier round released is not said to be unclaimed", () =>
    withWorld(async (w) => {
      // env-3's build runs at the first answer (a commit lands meanwhile) and has failed by the
      // second: env-2 (reused answer) is released early, env-3 by one more round.
      let calls = 0;
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(w.runningPath)) return;
        calls += 1;
        if (calls === 1) await w.other.commit({ write: { "notes.txt": "unrelated\n" } }, "an unrelated commit");
        else w.atc.setStatus(w.runningId, "failed");
      };
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s", "--only", "aws/env-2", "--only", "aws/env-3"], w.env);
      ok(r, "clean");
      assert.equal(json(r).attempts, 3, r.stderr);
      assert.deepEqual(released(r), ["aws/env-2", "aws/env-3"]);
      const warnings = (json(r) as unknown as { warnings: Array<{ code: string; message: string }> }).warnings;
      assert.deepEqual(warnings.filter((x) => x.code === "only-not-claimed"), [], "both were claimed when the run began");
      assert.deepEqual(await movedByPoolBoy(w.repo), ["aws/claimed/env-2", "aws/claimed/env-3"]);
    }));

  test("three rounds release a whole pool: the last commit keeps claimed/ (.gitkeep); released, commits and counts add up", () =>
    withWorld(async (w) => {
      await w.other.commit({ remove: ["aws/claimed/.gitkeep"] }, "no .gitkeep in claimed/");
      let calls = 0;
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(w.runningPath)) return;
        calls += 1;
        if (calls === 1) await w.other.commit({ write: { "notes.txt": "unrelated\n" } }, "an unrelated commit");
        else w.atc.setStatus(w.runningId, "failed");
      };
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s"], w.env);
      const doc = ok(r, "clean");
      assert.equal(doc.attempts, 3, r.stderr);
      assert.deepEqual(released(r), ["aws/env-1", "aws/env-2", "aws/env-3"]);
      const ours = (await log(w.repo.path)).filter((c) => /^unclaiming: /.test(c.message)).reverse();
      assert.deepEqual(doc.commits, ours.map((c) => c.sha), "every commit pushed is reported, in order");
      assert.deepEqual(doc.released?.map((m) => (m as { commit?: string }).commit), doc.commits);
      assert.equal(doc.head, ours[ours.length - 1]!.sha);
      const last = ours[ours.length - 1]!;
      assert.ok(last.files.some((f) => f.path === "aws/claimed/.gitkeep"), "the commit that empties claimed/ adds .gitkeep");
      assert.ok(!ours.slice(0, -1).some((c) => c.files.some((f) => f.path.endsWith(".gitkeep"))));
      const aws = doc.pools.find((p) => p.pool === "aws");
      assert.deepEqual([aws?.claimed, aws?.unclaimed], [0, 4]);
      assert.deepEqual(doc.locks.map((l) => `${l.name}:${l.verdict}/${l.reason}`), ["env-1:release/finished", "env-2:release/finished", "env-3:release/finished"]);
    }));

  test("clean --dry-run while another writer pushes: one round, nothing written to the branch", () =>
    withWorld(async (w) => {
      const before = (await log(w.repo.path, { max: 1 }))[0]!.sha;
      raceOnce(w, () => w.other.commit({ write: { ".pool-boy/holds/aws/env-2": "by: bob\nreason: debug\nsince: 2026-01-01T00:00:00Z\nuntil: unhold\n" } }, "hold env-2"));
      const r = await poolBoy(["clean", "--dry-run", "--json", "--verbose", "--api-timeout", "60s"], w.env);
      const doc = ok(r, "clean --dry-run") as unknown as { attempts: number; plan: { base: string; moves: Array<{ from: string }> }; commits: string[]; released: unknown[] };
      assert.doesNotMatch(r.stderr, /push refused|judging again/);
      assert.equal(doc.plan.base, before);
      assert.deepEqual(doc.plan.moves.map((m) => m.from), ["aws/claimed/env-1", "aws/claimed/env-2"]);
      assert.deepEqual(doc.released ?? [], []);
      assert.deepEqual(await movedByPoolBoy(w.repo), []);
      assert.equal((await log(w.repo.path, { max: 1 }))[0]!.message, "hold env-2", "only the other writer's commit was pushed");
    }));

  test("a round that fails after an earlier round pushed: the releases pushed are reported, not 'nothing was changed'", () =>
    withWorld(async (w) => {
      // Round 1 loses the race; round 2 pushes env-1 and env-2 at once (reused answers) and its
      // answers find env-3's build failed; before round 3 a broken .pool-boy/config.yaml lands.
      let calls = 0;
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(w.runningPath)) return;
        calls += 1;
        if (calls === 1) {
          await w.other.commit({ write: { "notes.txt": "unrelated\n" } }, "an unrelated commit");
          return;
        }
        if (calls > 2) return;
        for (let i = 0; i < 200 && !/^unclaiming: /.test((await log(w.repo.path, { max: 1 }))[0]!.message); i++) await new Promise((r) => setTimeout(r, 25));
        await w.other.commit({ write: { ".pool-boy/config.yaml": "pools:\n  aws:\n    timeout: 9x\n" } }, "a broken config");
        w.atc.setStatus(w.runningId, "failed");
      };
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s"], w.env);
      assert.deepEqual(await movedByPoolBoy(w.repo), ["aws/claimed/env-1", "aws/claimed/env-2"], r.stderr);
      assert.doesNotMatch(r.stderr, /nothing was changed/);
      const doc = ok(r, "clean");
      assert.deepEqual(released(r), ["aws/env-1", "aws/env-2"]);
      assert.equal(doc.commits?.length, 2);
      const warnings = (doc as unknown as { warnings: Array<{ code: string; message: string }> }).warnings;
      assert.match(warnings.map((x) => `${x.code}: ${x.message}`).join("\n"), /round-failed: .*timeout/);
    }));

  test("a hold file is honoured in the round after this run's own early push (the answers found more)", () =>
    withWorld(async (w) => {
      // env-3's build fails while clean waits on its answer; a hold on env-1 lands meanwhile.
      raceOnce(w, async () => {
        w.atc.setStatus(w.runningId, "failed");
        await w.other.commit({ write: { ".pool-boy/holds/aws/env-1": "by: bob\nreason: debug\nsince: 2026-01-01T00:00:00Z\nuntil: unhold\n" } }, "hold env-1");
      });
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s"], w.env);
      ok(r, "clean");
      assert.equal(verdict(r, "aws/env-1"), "keep/held");
      assert.deepEqual(released(r), ["aws/env-2", "aws/env-3"]);
      assert.deepEqual(await movedByPoolBoy(w.repo), ["aws/claimed/env-2", "aws/claimed/env-3"]);
      const doc = json(r);
      assert.equal(doc.commits?.length, 2);
      assert.deepEqual(doc.released?.map((m) => (m as { commit?: string }).commit), doc.commits);
    }));
});

describe("clean's early release and release-to conflicts", () => {
  test("two pools quarantine a lock of the same name: the one released early is reported released, the other kept (conflict)", async () => {
    const now = Date.now();
    const repo = await createPoolRepo({
      pools: { a: { unclaimed: ["x"] }, b: { unclaimed: ["x"] }, q: { unclaimed: ["other"] } },
      date: new Date(now - 48 * HOUR),
    });
    const atc = await startFakeAtc({ version: "8.2.5", users: [USER] });
    try {
      const seed = await repo.claimer();
      await seed.commit({ write: { ".pool-boy/config.yaml": "pools:\n  a: {timeout: 1h, release-to: q}\n  b: {timeout: 1h, release-to: q}\n  q: {timeout: 1h}\n" } }, "settings");
      const ba = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
      await seed.claim("a", "x", `main/app/deploy build ${ba.name} claiming: x`, new Date(now - 3 * HOUR));
      const bb = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
      await seed.claim("b", "x", `main/app/deploy build ${bb.name} claiming: x`, new Date(now - 3 * HOUR));
      atc.setStatus(bb.id, "failed");
      const other = await repo.claimer();
      let calls = 0;
      // a/x's owner runs at the first answer (a commit lands meanwhile: the push is refused) and
      // has failed by the second: b/x (reused answer) is released early, a/x only by the answers.
      atc.beforeAnswer = async (path) => {
        if (!path.endsWith(`/jobs/deploy/builds/${ba.name}`)) return;
        calls += 1;
        if (calls === 1) await other.commit({ write: { "notes.txt": "unrelated\n" } }, "an unrelated commit");
        else atc.setStatus(ba.id, "failed");
      };
      const env = {
        POOL_REPO: repo.path,
        CONCOURSE_BASE_URL: atc.url,
        CONCOURSE_USERNAME: USER.username,
        CONCOURSE_PASSWORD: USER.password,
        POOL_BOY_API_RETRIES: "1",
        HOME: `${repo.root}/home`,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: `${repo.root}/no-global-gitconfig`,
      };
      const r = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "60s"], env);
      ok(r, "clean");
      assert.match(r.stderr, /push refused/);
      const moved = await movedByPoolBoy(repo);
      assert.equal(moved.length, 1, "one of the two went to q/unclaimed/x");
      const doc = json(r);
      assert.deepEqual(released(r), [moved[0]!.replace("/claimed/", "/")]);
      // the lock released is reported as released; the one kept as a conflict
      const [releasedPath] = moved;
      for (const l of doc.locks) {
        const path = `${l.pool}/claimed/${l.name}`;
        if (path === releasedPath) assert.equal(`${l.verdict}/${l.reason}`, "release/finished", `${path}: ${l.detail}`);
        else assert.equal(`${l.verdict}/${l.reason}`, "keep/conflict", `${path}: ${l.detail}`);
      }
    } finally {
      atc.beforeAnswer = null;
      await atc.close();
      await repo.cleanup();
    }
  });
});

describe("the claim index with the pools of a config file and --only", () => {
  test("warm runs over named pools, a config file's pools (*) and --only judge what cold runs judge", () =>
    withWorld(async (w) => {
      const cache = `${w.repo.root}/cache`;
      const view = (r: CliRun) => json(r).locks.map((l) => `${l.pool}/${l.name} ${l.commit} ${l.verdict}/${l.reason}`);
      const both = async (args: string[], env: Record<string, string>) => {
        const warm = await poolBoy(["status", "--json", "--verbose", "--cache-dir", cache, ...args], env);
        const cold = await poolBoy(["status", "--json", ...args], env);
        ok(warm, `warm status ${args.join(" ")}`);
        ok(cold, `cold status ${args.join(" ")}`);
        assert.deepEqual(view(warm), view(cold), `${args.join(" ")}: ${warm.stderr}`);
        return warm;
      };
      // claimed before the index is first written, by a run that reads only aws
      await w.other.claim("aws-dirty", "env-2", "claim env-2 by hand", new Date(Date.now() - 5 * HOUR));
      await both([], w.env); // --pools aws:1h (POOL_BOY_POOLS)
      const noFlags: Record<string, string> = { ...w.env };
      delete noFlags.POOL_BOY_POOLS;
      await w.other.commit({ write: { ".pool-boy/config.yaml": "pools:\n  aws: {timeout: 1h}\n  aws-dirty: {timeout: 1h}\n" } }, "settings");
      const fromFile = await both([], noFlags); // the file names every pool
      assert.ok(json(fromFile).locks.some((l) => l.pool === "aws-dirty" && l.name === "env-2"));
      await w.other.claim("aws", "env-4", "claim env-4 by hand", new Date(Date.now() - 5 * HOUR));
      const only = await both(["--only", "aws-dirty", "--only", "aws/env-4"], noFlags);
      assert.match(only.stderr, /claim index used: 1 new commit\(s\) read/);
      assert.deepEqual(view(only).map((l) => l.split(" ")[0]), ["aws/env-4", "aws-dirty/env-2"]);
      await both(["--pools", "aws:1h"], noFlags); // flags and the file: every pool is scanned still
    }));
});
