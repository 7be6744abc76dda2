// Deterministic contention: `clean` runs (the built CLI, spawned) racing each other and the
// pool-resource's own claims and releases. Every interleaving is forced with the fake ATC's
// beforeAnswer hook, which holds a run at an exact request until the world has moved on; no timer
// decides who goes first. After each test, every commit of the resulting history is checked
// (history.ts): no lock lost or duplicated, no content changed, every Pool Boy commit one release
// of a lock whose owner had finished when it was pushed, nothing but the branch pushed.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPoolRepo, type Claimer, type PoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import type { BuildStatus } from "../../src/core/model.js";
import { json, poolBoy, type CliRun, type JsonReport } from "../support/cli.js";
import { checkHead, checkHistory, installPushLog, type HistoryReport, type Owner , cliEnv } from "./history.js";

const USER = { username: "pool-boy", password: "contention-secret-7", teams: ["main"] };
const LOCKS = { aws: ["env-1", "env-2", "env-3", "env-4", "env-5"], gcp: ["vm-1", "vm-2", "vm-3"] };
const HOUR = 3_600_000;
// X: claimed by a build that failed; Y: claimed by hand long ago; Z: a one-off build that was
// aborted; V: a build that succeeded with nobody downstream.
const X = "aws/env-2";
const Y = "aws/env-4";
const STALE = ["aws/env-2", "aws/env-3", "aws/env-4", "gcp/vm-1"];
const X_OWNER_PATH = "/jobs/deploy/builds/2";

interface World {
  repo: PoolRepo;
  atc: FakeAtc;
  env: Record<string, string>;
  owners: Map<string, Owner>;
  pushLog: string;
  /** a pool-resource user: claims with a build registered in the ATC */
  claim(pool: string, lock: string, owner: { status: BuildStatus; format?: "team-build" | "build-url" | "one-off" }, by?: Claimer, date?: Date): Promise<string>;
  history(): Promise<HistoryReport>;
  cleanup(): Promise<void>;
}

async function makeWorld(): Promise<World> {
  const now = Date.now();
  const repo = await createPoolRepo({ pools: { aws: { unclaimed: LOCKS.aws }, gcp: { unclaimed: LOCKS.gcp } }, date: new Date(now - 240 * HOUR) });
  const pushLog = await installPushLog(repo);
  const seed = await repo.claimer();
  // from here on, a failure closes the API server (world.cleanup() below)
  const atc = await startFakeAtc({ version: "8.2.5", users: [USER] });
  const owners = new Map<string, Owner>();
  const pipelineOf: Record<string, { pipeline: string; job: string }> = { aws: { pipeline: "app", job: "deploy" }, gcp: { pipeline: "infra", job: "provision" } };

  const world: World = {
    repo,
    atc,
    pushLog,
    owners,
    env: cliEnv(repo, atc, USER),
    async claim(pool, lock, owner, by = seed, date) {
      const { pipeline, job } = pipelineOf[pool] ?? { pipeline: "app", job: "deploy" };
      const format = owner.format ?? "team-build";
      // A build is running when it claims; it may finish (or die) afterwards.
      const build = format === "one-off" ? atc.addBuild({ team: "main", pipeline: null, status: "started" }) : atc.addBuild({ team: "main", pipeline, job, status: "started" });
      const message =
        format === "one-off"
          ? `one-off build ${build.id} claiming: ${lock}`
          : format === "build-url"
            ? `claiming: ${lock}\nBuild URL: ${atc.url}/teams/main/pipelines/${pipeline}/jobs/${job}/builds/${build.name}`
            : `main/${pipeline}/${job} build ${build.name} claiming: ${lock}`;
      const sha = await by.claim(pool, lock, message, date);
      const label = format === "one-off" ? `one-off #${build.id}` : `${job} #${build.name}`;
      if (owner.status === "started" || owner.status === "pending") {
        owners.set(sha, { label, finishedAt: null });
      } else {
        owners.set(sha, { label, finishedAt: Date.now() });
        atc.setStatus(build.id, owner.status);
      }
      return sha;
    },
    history: async () => {
      const report = await checkHistory(repo, { locks: LOCKS, owners, pushLog });
      await checkHead(repo, report, LOCKS);
      return report;
    },
    async cleanup() {
      atc.beforeAnswer = null;
      await atc.close();
      await repo.cleanup();
    },
  };

  const ago = (hours: number) => new Date(now - hours * HOUR);
  try {
    await world.claim("aws", "env-1", { status: "started" }, seed, ago(30)); // deploy #1, alive for 30h
    await world.claim("aws", "env-2", { status: "failed" }, seed, ago(1)); // X: deploy #2 failed
    await world.claim("aws", "env-3", { status: "aborted", format: "one-off" }, seed, ago(1)); // Z
    owners.set(await seed.claim("aws", "env-4", "Claim env-4 by hand to debug", ago(5)), { label: "a person", finishedAt: null, manual: true }); // Y
    await world.claim("gcp", "vm-1", { status: "succeeded", format: "build-url" }, seed, ago(1)); // V: provision #1
    await world.claim("gcp", "vm-2", { status: "started", format: "build-url" }, seed, ago(3)); // provision #2 runs
  } catch (error) {
    // a listening API server keeps the test process alive
    await world.cleanup();
    throw error;
  }
  return world;
}

const names = (report: JsonReport) => (report.released ?? []).map((r) => `${r.pool}/${r.name}`).sort();
const ok = (run: CliRun, what: string) => {
  assert.equal(run.code, 0, `${what} exited ${run.code}: ${run.stderr}`);
  return json(run);
};
/** A promise and its resolve function. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = () => resolve();
  });
  return { promise, open };
}
/** Releases X and Y in one commit (contents kept), like two jobs' puts squashed by a person. */
async function releaseTogether(by: Claimer, keys: string[]): Promise<string> {
  const write: Record<string, Buffer> = {};
  const remove: string[] = [];
  for (const key of keys) {
    const [pool, lock] = key.split("/") as [string, string];
    write[`${pool}/unclaimed/${lock}`] = await readFile(join(by.dir, pool, "claimed", lock));
    remove.push(`${pool}/claimed/${lock}`);
  }
  return by.bulk([{ op: "commit", remove, write, message: `unclaiming: ${keys.map((k) => k.split("/")[1]).join(" and ")}` }]);
}
function poolBoyCommits(history: HistoryReport): string[] {
  return history.commits.filter((c) => c.author.startsWith("Pool Boy")).map((c) => c.sha);
}

interface GitShim {
  /** PATH for the CLI: the shim's directory first */
  path: string;
  /** forget the arrivals of the previous round */
  reset(): Promise<void>;
}

/**
 * A `git` first on PATH that runs the real one, with what a test asks for on top:
 * - barrier: each `git fast-import` waits, after it has written its commits and marks, until the
 *   other run's has too, so that the two runs' release writes overlap for sure, not by luck;
 * - sameSecond: Pool Boy's commits get one fixed date, as when two runs write in the same second;
 * - serialPushes: one `git push` at a time, in the order they come;
 * - fetchTogether: the first two `git fetch`es start only when both have been asked for.
 */
async function gitShim(dir: string, options: { barrier?: boolean; sameSecond?: boolean; serialPushes?: boolean; fetchTogether?: boolean }): Promise<GitShim> {
  const realGit = await new Promise<string>((resolve, reject) =>
    execFile("sh", ["-c", "command -v git"], (err, out) => (err ? reject(err) : resolve(out.trim()))),
  );
  const bin = join(dir, "bin");
  const barrier = join(dir, "barrier");
  const mutex = join(dir, "push.lock");
  const fetches = join(dir, "fetches");
  await mkdir(bin, { recursive: true });
  await mkdir(barrier, { recursive: true });
  await mkdir(fetches, { recursive: true });
  const importer = options.sameSecond
    ? `sed -E 's/^((author|committer) Pool Boy <pool-boy@localhost>) [0-9]{10} /\\1 1767225600 /' | '${realGit}' "$@"`
    : `'${realGit}' "$@"`;
  await writeFile(
    join(bin, "git"),
    `#!/bin/sh
if [ "$1" = "fast-import" ]; then
  ${importer}; code=$?
  ${options.barrier ? "" : "exit $code"}
  : > '${barrier}'/done.$$
  n=0
  while [ "$(ls '${barrier}' | wc -l)" -lt 2 ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
  exit $code
fi
if [ "$1" = "fetch" ] && ${options.fetchTogether ? "true" : "false"}; then
  : > '${fetches}'/fetch.$$
  n=0
  # At most 3 s: with the cache lock, the other run's fetch only comes after this run has ended.
  while [ "$(ls '${fetches}' | wc -l)" -lt 2 ] && [ $n -lt 60 ]; do sleep 0.05; n=$((n + 1)); done
fi
if [ "$1" = "push" ] && ${options.serialPushes ? "true" : "false"}; then
  n=0
  until mkdir '${mutex}' 2>/dev/null || [ $n -ge 600 ]; do sleep 0.05; n=$((n + 1)); done
  '${realGit}' "$@"; code=$?
  rmdir '${mutex}'
  exit $code
fi
exec '${realGit}' "$@"
`,
    { mode: 0o755 },
  );
  return {
    path: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    reset: async () => {
      for (const d of [barrier, fetches]) {
        await rm(d, { recursive: true, force: true });
        await mkdir(d);
      }
    },
  };
}

describe("while clean waits on the API about X, X and Y are released in one commit and a running build claims X", () => {
  test("the push is refused, clean judges again: X stays claimed, Y is not moved twice, no stray commit", async () => {
    const w = await makeWorld();
    try {
      const other = await w.repo.claimer();
      let held = 0;
      let reclaim = "";
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(X_OWNER_PATH) || held++ > 0) return;
        await releaseTogether(other, [X, Y]);
        reclaim = await w.claim("aws", "env-2", { status: "started" }, other);
      };
      const run = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "120s"], w.env);
      const report = ok(run, "clean");
      assert.equal(held, 1, "clean asked about X once: the second judgement is about X's new claim");
      // One refused push; then the release already decided (Z: its owner's final answer reused) is
      // pushed at once, and one more round pushes what the new answers add (V's hand-off re-checked).
      assert.equal(report.attempts, 3, "one refused push, then two pushes");
      assert.match(run.stderr, /push refused/);
      assert.deepEqual(names(report), ["aws/env-3", "gcp/vm-1"], "X is held by a running build now; Y was released by its owner");
      const x = report.locks.find((l) => `${l.pool}/${l.name}` === X);
      assert.equal(`${x?.verdict}/${x?.reason}`, "keep/alive");
      assert.equal(x?.commit, reclaim, "the second judgement is about the new claim");
      assert.ok(!report.locks.some((l) => `${l.pool}/${l.name}` === Y), "Y is no longer claimed");
      assert.ok(w.atc.requests.some((r) => r.path.endsWith("/jobs/deploy/builds/3")), "X's new owner was asked about");

      const history = await w.history();
      assert.deepEqual(history.poolBoyMoves.map((m) => `${m.pool}/${m.lock}`).sort(), ["aws/env-3", "gcp/vm-1"]);
      assert.deepEqual(poolBoyCommits(history).sort(), [...(report.commits ?? [])].sort(), "exactly the reported commits were pushed, nothing from the refused attempt");
      const yReleases = history.commits.filter((c) => /unclaiming: .*env-4/.test(c.message));
      assert.equal(yReleases.length, 1, "Y was released once, by its owner");
      assert.ok(history.claimedAtHead.has(X) && history.claimCommitAtHead.get(X) === reclaim, "X is claimed by the running build");
    } finally {
      await w.cleanup();
    }
  });
});

describe("a lost race asks again only what may have changed", () => {
  test("final owners of untouched locks are reused, running owners and succeeded hand-offs asked again, a new claim judged from scratch", async () => {
    const w = await makeWorld();
    try {
      const other = await w.repo.claimer();
      let moved = false;
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(X_OWNER_PATH) || moved) return;
        moved = true;
        // While clean waits on the API, a build claims env-5 and dies: the push is refused.
        await w.claim("aws", "env-5", { status: "failed" }, other);
      };
      const run = await poolBoy(["clean", "--json", "--verbose", "--api-timeout", "120s"], w.env);
      const report = ok(run, "clean");
      // Refused once; then X and env-3 (final answers reused) are pushed at once, and one more
      // round pushes what the new answers add (env-5's dead owner, vm-1's hand-off re-checked).
      assert.equal(report.attempts, 3, run.stderr);
      assert.match(run.stderr, /judging again: 5 answer\(s\) reused, 0 hand-off\(s\) and 0 owner\(s\) asked again/);
      assert.match(run.stderr, /judging again: 2 answer\(s\) reused, 1 hand-off\(s\) and 4 owner\(s\) asked again/);
      assert.match(run.stderr, /read 1 new commit\(s\); 1 lock\(s\) touched since/);
      assert.deepEqual(names(report), [...STALE, "aws/env-5"].sort());
      const count = (suffix: string) => w.atc.requests.filter((r) => (r.path.split("?")[0] ?? "").endsWith(suffix)).length;
      // Reused: X (failed) and env-3 (aborted); asked: env-1, vm-2 (running), env-4 (a person: no request), env-5 (new).
      // Builds in the order the world made them: deploy #1 (env-1, running), deploy #2 (X, failed),
      // one-off 3 (env-3, aborted), provision #1 (vm-1, succeeded), provision #2 (vm-2, running), deploy #3 (env-5).
      assert.deepEqual(
        {
          running: [count("/jobs/deploy/builds/1"), count("/jobs/provision/builds/2")],
          failed: count(X_OWNER_PATH),
          aborted: count("/api/v1/builds/3"),
          succeededOwner: count("/jobs/provision/builds/1"),
          succeededHandoff: count("/pipelines/infra/jobs"),
          newClaim: count("/jobs/deploy/builds/3"),
        },
        { running: [2, 2], failed: 1, aborted: 1, succeededOwner: 1, succeededHandoff: 2, newClaim: 1 },
        "requests per lock over both rounds",
      );
      const history = await w.history();
      assert.deepEqual(history.poolBoyMoves.map((m) => `${m.pool}/${m.lock}`).sort(), [...STALE, "aws/env-5"].sort());
    } finally {
      await w.cleanup();
    }
  });
});

describe("two cleans at once", () => {
  test("one waits on the API while the other releases everything and a build claims X again: the first judges again and pushes nothing", async () => {
    const w = await makeWorld();
    try {
      const held = gate();
      const resume = gate();
      let first = true;
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(X_OWNER_PATH) || !first) return;
        first = false;
        held.open();
        await resume.promise;
      };
      const a = poolBoy(["clean", "--json", "--verbose", "--api-timeout", "120s"], w.env);
      await held.promise;
      // A is stuck on its question about X. B runs from start to end meanwhile.
      const b = ok(await poolBoy(["clean", "--json"], w.env), "the second clean");
      assert.deepEqual(names(b), STALE);
      assert.equal(b.attempts, 1);
      const other = await w.repo.claimer();
      const reclaim = await w.claim("aws", "env-2", { status: "started" }, other);
      resume.open();
      const aRun = await a;
      const aReport = ok(aRun, "the first clean");
      assert.equal(aReport.attempts, 2, "its push was refused once, then it judged the new state");
      assert.deepEqual(names(aReport), [], "everything stale was released already, and X is alive again");
      assert.equal(aReport.locks.find((l) => `${l.pool}/${l.name}` === X)?.commit, reclaim);

      const history = await w.history();
      assert.deepEqual(history.poolBoyMoves.map((m) => `${m.pool}/${m.lock}`).sort(), STALE, "each stale lock released once");
      assert.deepEqual(poolBoyCommits(history).sort(), [...(b.commits ?? [])].sort());
      assert.equal(history.claimCommitAtHead.get(X), reclaim);
    } finally {
      await w.cleanup();
    }
  });

  test("both judge the same head and push at the same moment: one wins, the other judges again and adds nothing", async () => {
    const w = await makeWorld();
    try {
      const both = gate();
      let waiting = 0;
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(X_OWNER_PATH)) return;
        if (++waiting === 2) both.open();
        await both.promise;
      };
      const runs = await Promise.all([0, 1].map(() => poolBoy(["clean", "--json", "--verbose", "--api-timeout", "120s"], w.env)));
      const reports = runs.map((r, i) => ok(r, `clean ${i + 1}`));
      const winner = reports.findIndex((r) => names(r).length > 0);
      assert.ok(winner >= 0, "one of them released the stale locks");
      const loser = reports[1 - winner] as JsonReport;
      assert.deepEqual(names(reports[winner] as JsonReport), STALE);
      assert.equal(reports[winner]?.attempts, 1);
      assert.deepEqual(names(loser), [], "the other found nothing left to do");
      assert.equal(loser.attempts, 2, "after one refused push");
      assert.match(runs[1 - winner]?.stderr ?? "", /push refused/);

      const history = await w.history();
      assert.deepEqual(history.poolBoyMoves.map((m) => `${m.pool}/${m.lock}`).sort(), STALE);
      assert.deepEqual(poolBoyCommits(history).sort(), [...(reports[winner]?.commits ?? [])].sort());
    } finally {
      await w.cleanup();
    }
  });

  test("both write the very same release commits (same head, plan and second): only the run whose push moved the branch reports them", async () => {
    const w = await makeWorld();
    const dir = await mkdtemp(join(tmpdir(), "pool-boy-same-commits-"));
    try {
      // The second push then finds the branch already at its tip: "up to date", exit 0.
      const shim = await gitShim(dir, { barrier: true, sameSecond: true, serialPushes: true });
      const both = gate();
      let waiting = 0;
      w.atc.beforeAnswer = async (path) => {
        if (!path.endsWith(X_OWNER_PATH)) return;
        if (++waiting === 2) both.open();
        await both.promise;
      };
      const env = { ...w.env, PATH: shim.path };
      const runs = await Promise.all([0, 1].map(() => poolBoy(["clean", "--json", "--verbose", "--api-timeout", "120s"], env)));
      const reports = runs.map((r, i) => ok(r, `clean ${i + 1}`));
      const released = reports.map(names);
      assert.deepEqual(released.flat().sort(), STALE, `each release reported once, not by both runs (${JSON.stringify(released)})`);
      const loser = reports.find((r) => names(r).length === 0);
      assert.equal(loser?.attempts, 2, "the run that found its commits already there judged again");

      const history = await w.history();
      assert.deepEqual(history.poolBoyMoves.map((m) => `${m.pool}/${m.lock}`).sort(), STALE);
    } finally {
      await w.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** Two cleans with one --cache-dir, both held at their first owner lookup and let go together. */
  async function sharedCacheRounds(w: World, cache: string, start: "staggered" | "together", shim?: GitShim): Promise<void> {
    // Round 1: a cold cache. Round 2: the same cache, warm, after new claims.
    for (const round of [1, 2]) {
      if (round === 2) {
        const more = await w.repo.claimer();
        await w.claim("aws", "env-5", { status: "errored" }, more);
        await w.claim("gcp", "vm-3", { status: "failed", format: "one-off" }, more);
      }
      await shim?.reset();
      const first = gate();
      const both = gate();
      let waiting = 0;
      w.atc.beforeAnswer = async (path) => {
        if (!/\/(jobs\/[^/]+\/)?builds\/\d+$/.test(path) || waiting >= 2) return;
        waiting++;
        if (waiting === 1) first.open();
        if (waiting === 2) both.open();
        await both.promise;
      };
      const args = ["clean", "--json", "--verbose", "--api-timeout", "120s", "--cache-dir", cache];
      const env = shim ? { ...w.env, PATH: shim.path } : w.env;
      const one = poolBoy(args, env);
      // staggered: the second starts when the first has synced and waits on the API, so the two
      // never fetch at the same time but do write their release commits and push at the same time.
      if (start === "staggered") await first.promise;
      const runs = await Promise.all([one, poolBoy(args, env)]);
      const reports = runs.map((r, i) => ok(r, `round ${round}, clean ${i + 1}`));
      assert.deepEqual(reports.flatMap(names).sort(), round === 1 ? STALE : ["aws/env-5", "gcp/vm-3"], `round ${round}: each stale lock released by exactly one of them`);
      for (const report of reports) {
        const mine = new Set(names(report));
        assert.equal(report.commits?.length, mine.size, "each run reports the commits it made, no other");
      }
    }
    const history = await w.history();
    assert.equal(history.poolBoyMoves.length, STALE.length + 2);
    await new Promise<void>((resolve, reject) =>
      execFile("git", ["fsck", "--connectivity-only", "--no-dangling"], { env: { ...w.repo.env, GIT_DIR: cache } }, (err) => (err ? reject(err) : resolve())),
    );
  }

  // The cache lock keeps two runs' fetches and release commits on one cache from overlapping
  // (their fast-imports once shared a marks file and a ref): both runs still end correctly.
  test("two runs sharing one --cache-dir, cold and then warm, both end right", async () => {
    const w = await makeWorld();
    const dir = await mkdtemp(join(tmpdir(), "pool-boy-shared-cache-"));
    try {
      await sharedCacheRounds(w, join(dir, "cache"), "staggered", await gitShim(dir, {}));
    } finally {
      await w.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(
    "two runs sharing one --cache-dir started at the same instant: the second waits for the first",
    async () => {
      const w = await makeWorld();
      const dir = await mkdtemp(join(tmpdir(), "pool-boy-shared-cache-"));
      try {
        await sharedCacheRounds(w, join(dir, "cache"), "together", await gitShim(dir, { fetchTogether: true }));
      } finally {
        await w.cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
