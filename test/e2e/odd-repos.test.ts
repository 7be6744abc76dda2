// Odd pool repositories, end to end on real bare repositories: a pool without claimed/.gitkeep.
// Git keeps no empty folder, so when the last lock leaves such a claimed/, the folder is gone: the
// next run must still see the pool, and the pool-resource's own `git mv` into claimed/ must still
// work. `clean` adds claimed/.gitkeep in the commit that empties it, and says so.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPoolRepo, filesAt, log, type PoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import { DEMO_USER } from "../support/scenario.js";
import { json, poolBoy } from "../support/cli.js";
import { closeAll } from "../support/cleanup.js";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

const HOUR = 3_600_000;

let atc: FakeAtc;
before(async () => {
  atc = await startFakeAtc({ version: "8.2.5", users: [DEMO_USER] });
});
after(async () => {
  await closeAll(() => atc?.close());
});

function env(repo: PoolRepo, pools: string): Record<string, string> {
  return {
    POOL_REPO: repo.path,
    POOLS: pools,
    CONCOURSE_BASE_URL: atc.url,
    CONCOURSE_USERNAME: DEMO_USER.username,
    CONCOURSE_PASSWORD: DEMO_USER.password,
    POOL_BOY_API_RETRIES: "1",
    HOME: repo.env.HOME ?? repo.root,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: `${repo.root}/no-global-gitconfig`,
  };
}

/** A pool "aws" whose claimed/ holds `claimed` (claimed by failed builds, a day ago) and no .gitkeep. */
async function poolWithoutGitkeep(claimed: string[], unclaimed: string[]): Promise<PoolRepo> {
  const repo = await createPoolRepo({ pools: { aws: { unclaimed: [...claimed, ...unclaimed] } }, date: new Date(Date.now() - 48 * HOUR) });
  try {
    const c = await repo.claimer();
    for (const lock of claimed) {
      const build = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "failed" });
      await c.claim("aws", lock, `main/app/deploy build ${build.name} claiming: ${lock}`, new Date(Date.now() - 24 * HOUR));
    }
    await c.commit({ remove: ["aws/claimed/.gitkeep"] }, "tidy up: no .gitkeep", new Date(Date.now() - 23 * HOUR));
    return repo;
  } catch (error) {
    await repo.cleanup();
    throw error;
  }
}

describe("a pool without claimed/.gitkeep", () => {
  test("clean releases the last claimed lock and adds claimed/.gitkeep in the same commit, saying so", async () => {
    const repo = await poolWithoutGitkeep(["env-1", "env-2"], ["env-3"]);
    try {
      const before = await repo.head();
      assert.ok(!(await filesAt(repo.path, before)).includes("aws/claimed/.gitkeep"));

      const run = await poolBoy(["clean", "--json"], env(repo, "aws:2h"));
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual((json(run).released ?? []).map((r) => r.name), ["env-1", "env-2"]);

      const commits = await log(repo.path, { rev: `${before}..HEAD` });
      assert.equal(commits.length, 2);
      const [last, first] = commits as [(typeof commits)[0], (typeof commits)[0]];
      assert.deepEqual(first.moves, [{ from: "aws/claimed/env-1", to: "aws/unclaimed/env-1" }]);
      assert.doesNotMatch(first.message, /gitkeep/, "claimed/ still holds env-2 after the first commit");
      assert.deepEqual(last.moves, [{ from: "aws/claimed/env-2", to: "aws/unclaimed/env-2" }]);
      assert.deepEqual(last.files.filter((f) => f.path === "aws/claimed/.gitkeep").map((f) => f.status), ["A"]);
      assert.match(last.message, /^unclaiming: env-2\n/);
      assert.match(last.message, /Added aws\/claimed\/\.gitkeep: this commit moves the last lock out of claimed\//);
      const files = await filesAt(repo.path, "HEAD");
      assert.ok(files.includes("aws/claimed/.gitkeep"));

      // The next runs see the pool, named or by "*".
      const named = await poolBoy(["status", "--json"], env(repo, "aws:2h"));
      assert.equal(named.code, 0, named.stderr);
      assert.deepEqual(json(named).pools, [{ pool: "aws", claimed: 0, unclaimed: 3 }]);
      const all = await poolBoy(["status", "--json"], env(repo, "*:1h"));
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(json(all).pools.map((p) => p.pool), ["aws"]);

      // The pool-resource's claim is a `git mv` into claimed/: it works.
      await (await repo.claimer()).claim("aws", "env-3", "main/app/deploy build 99 claiming: env-3");
      assert.ok((await filesAt(repo.path, "HEAD")).includes("aws/claimed/env-3"));
    } finally {
      await repo.cleanup();
    }
  });

  test("a lock that stays claimed keeps claimed/: nothing added", async () => {
    const repo = await poolWithoutGitkeep(["env-1"], []);
    try {
      const c = await repo.claimer();
      const alive = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
      await c.addClaimed("aws", "env-9", "lock: env-9\n", `main/app/deploy build ${alive.name} claiming: env-9`);
      const run = await poolBoy(["clean", "--json"], env(repo, "aws:2h"));
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual((json(run).released ?? []).map((r) => r.name), ["env-1"]);
      const files = await filesAt(repo.path, "HEAD");
      assert.ok(!files.includes("aws/claimed/.gitkeep"));
      assert.ok(files.includes("aws/claimed/env-9"));
    } finally {
      await repo.cleanup();
    }
  });

  test("a pool whose claimed/ is already gone (only unclaimed/) is a pool, named or by \"*\"", async () => {
    const repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1"] } } });
    try {
      await (await repo.claimer()).commit({ remove: ["aws/claimed/.gitkeep"] }, "tidy up: no .gitkeep");
      assert.ok(!(await filesAt(repo.path, "HEAD")).some((f) => f.startsWith("aws/claimed/")));
      for (const pools of ["aws:1h", "*:1h"]) {
        const run = await poolBoy(["status", "--json"], env(repo, pools));
        assert.equal(run.code, 0, `${pools}: ${run.stderr}`);
        assert.deepEqual(json(run).pools, [{ pool: "aws", claimed: 0, unclaimed: 1 }], pools);
      }
      // a folder with neither is still not a pool
      const run = await poolBoy(["status", "--json"], env(repo, "nope:1h"));
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /pool "nope" does not exist .*there is no nope\/claimed\/ or nope\/unclaimed\/ folder/);
    } finally {
      await repo.cleanup();
    }
  });
});

describe("--cache-dir", () => {
  test("under folders that do not exist: made; under a file: exit 2 naming the path and the fix, nothing changed", async () => {
    const repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1"] } } });
    try {
      const cache = join(repo.root, "not", "yet", "cache");
      const made = await poolBoy(["status", "--json", "--cache-dir", cache], env(repo, "aws:1h"));
      assert.equal(made.code, 0, made.stderr);
      assert.ok(existsSync(join(cache, "HEAD")));

      const file = join(repo.root, "a-file");
      await writeFile(file, "x\n");
      const refused = await poolBoy(["status", "--cache-dir", join(file, "cache")], env(repo, "aws:1h"));
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`--cache-dir ${join(file, "cache")}: cannot create its folder ${file}: a part of that path is a file`));
      assert.match(refused.stderr, /POOL_BOY_CACHE_DIR/);
      assert.doesNotMatch(refused.stderr, /ENOENT|ENOTDIR|\n\s+at /, "no raw error code or stack");
    } finally {
      await repo.cleanup();
    }
  });
});
