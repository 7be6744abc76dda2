import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPoolRepo, log, type BulkOp, type LoggedCommit, type PoolRepo } from "../support/pool-repo.js";
import { PoolBoyError } from "../../src/core/errors.js";
import type { ClaimedLock, RepoSnapshot } from "../../src/core/model.js";
import { gitProcessCount } from "../../src/io/git/git.js";
import { scanRepo, type ScanStats } from "../../src/io/git/scan.js";
import { syncRepo, type SyncedRepo } from "../../src/io/git/sync.js";

const T0 = Date.UTC(2024, 0, 1) / 1000;
/** A date `minutes` after a fixed start. */
const at = (minutes: number) => new Date((T0 + minutes * 60) * 1000);

const V18 = "claiming: a2\nBuild URL: https://ci/teams/main/pipelines/app/jobs/deploy/builds/42";
// Whatever a message may hold (NUL aside, which git cannot store): the log's own marker, tabs,
// control bytes, lines that look like name-status output, unicode.
const ODD = "main/app/deploy build 7 claiming: with space\n\n@pool-boy@\nA\talpha/claimed/a3\n\x01\x7f tab\there ✓ λ\nM";

async function sync(pool: PoolRepo): Promise<SyncedRepo> {
  return syncRepo({ url: pool.path, branch: null, cacheDir: null, env: pool.env });
}

function lock(snapshot: RepoSnapshot, pool: string, name: string): ClaimedLock {
  const found = snapshot.locks.find((l) => l.pool === pool && l.name === name);
  assert.ok(found, `no lock ${pool}/${name} in ${snapshot.locks.map((l) => l.path).join(", ")}`);
  return found;
}

function commitWith(history: LoggedCommit[], message: string): LoggedCommit {
  const found = history.find((c) => c.message === message);
  assert.ok(found, `no commit "${message}"`);
  return found;
}

function isConfigError(pattern: RegExp, hint?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof PoolBoyError, String(err));
    assert.equal(err.kind, "config");
    assert.match(err.message, pattern);
    if (hint) assert.match(err.hint ?? "", hint);
    return true;
  };
}

describe("a pool repository with a varied history", () => {
  let pool: PoolRepo;
  let repo: SyncedRepo;
  let all: RepoSnapshot;
  let history: LoggedCommit[];

  before(async () => {
    pool = await createPoolRepo({
      pools: {
        alpha: { unclaimed: ["a1", "a2", "a3", "with space", "ünï-çødé", "dup"] },
        beta: { unclaimed: ["b1", "b2"] },
      },
      date: at(0),
    });
    const claimer = await pool.claimer();
    const ops: BulkOp[] = [
      { op: "claim", pool: "alpha", lock: "a1", message: "main/app/deploy build 42 claiming: a1", date: at(1) },
      { op: "claim", pool: "alpha", lock: "a2", message: V18, date: at(2) },
      { op: "claim", pool: "beta", lock: "b1", message: "main/app/deploy build 43 claiming: b1", date: at(3) },
      { op: "release", pool: "beta", lock: "b1", date: at(4) },
      { op: "claim", pool: "beta", lock: "b1", message: "main/app/deploy build 44 claiming: b1", date: at(5) },
      { op: "claim", pool: "alpha", lock: "with space", message: ODD, date: at(6) },
      { op: "claim", pool: "alpha", lock: "ünï-çødé", date: at(7) },
      { op: "add-claimed", pool: "alpha", lock: "added", date: at(8) },
      { op: "update", pool: "alpha", lock: "a1", content: "new: content\n", message: "main/app/deploy build 45 updating: a1", date: at(9) },
      // later commits that touch other things
      { op: "commit", write: { "docs/README.md": "# pools\n" }, message: "docs", date: at(10) },
      { op: "claim", pool: "beta", lock: "b2", date: at(11) },
      { op: "release", pool: "beta", lock: "b2", date: at(12) },
      {
        op: "commit",
        write: {
          "alpha/claimed/.pending-triggers": "",
          "alpha/unclaimed/.pending-removals": "",
          "gamma/claimed/.gitkeep": "",
          "gamma/claimed/g1": "lock: g1\n",
          ".hidden/claimed/.gitkeep": "",
          ".hidden/unclaimed/.gitkeep": "",
        },
        message: "odd folders",
        date: at(13),
      },
      { op: "commit", write: { "alpha/claimed/dup": "lock: dup\n" }, message: "dup in both", date: at(14) },
      {
        op: "commit",
        symlink: { "alpha/claimed/link": "../unclaimed/a3" },
        write: { "alpha/claimed/subdir/file": "x\n" },
        message: "not files",
        date: at(15),
      },
    ];
    await claimer.bulk(ops);
    repo = await sync(pool);
    all = await scanRepo(repo, "*");
    history = await log(pool.path);
  });

  after(async () => {
    await repo?.cleanup();
    await pool?.cleanup();
  });

  test('"*": every top-level folder with claimed/ and unclaimed/, dot-names left out', () => {
    assert.equal(all.branch, "main");
    assert.equal(all.head, repo.head);
    assert.deepEqual(all.pools, [
      {
        pool: "alpha",
        claimed: ["a1", "a2", "added", "dup", "link", "subdir", "with space", "ünï-çødé"],
        unclaimed: ["a3", "dup"],
      },
      { pool: "beta", claimed: ["b1"], unclaimed: ["b2"] },
    ]);
    assert.deepEqual(
      all.locks.map((l) => l.path),
      ["a1", "a2", "added", "dup", "link", "subdir", "with space", "ünï-çødé"].map((n) => `alpha/claimed/${n}`).concat("beta/claimed/b1"),
    );
  });

  test("named pools: only those, in the order given; a pool with claimed/ only is accepted", async () => {
    const snapshot = await scanRepo(repo, ["beta", "gamma", "beta"]);
    assert.deepEqual(snapshot.pools, [
      { pool: "beta", claimed: ["b1"], unclaimed: ["b2"] },
      { pool: "gamma", claimed: ["g1"], unclaimed: [] },
    ]);
    assert.deepEqual(
      snapshot.locks.map((l) => [l.path, l.claim?.message]),
      [
        ["beta/claimed/b1", "main/app/deploy build 44 claiming: b1"],
        ["gamma/claimed/g1", "odd folders"],
      ],
    );
  });

  test("an unknown pool, or a name that is no pool name, is a config error naming the pools that exist", async () => {
    await assert.rejects(scanRepo(repo, ["alpha", "nope"]), isConfigError(/pool "nope" does not exist/, /alpha, beta/));
    await assert.rejects(scanRepo(repo, ["docs"]), isConfigError(/pool "docs" does not exist.*no docs\/claimed\//, /alpha, beta/));
    for (const bad of ["../x", "alpha/../beta", ".hidden", "", "/alpha", "alpha/", "a//b", "./alpha"]) {
      await assert.rejects(scanRepo(repo, [bad]), isConfigError(/is not a pool name/, /alpha, beta/), bad);
    }
  });

  test("the claim commit of each lock: the newest that put it there, with the full message and its date", () => {
    // a1 was updated in place after its claim: the claim stays the move into claimed/
    const a1 = lock(all, "alpha", "a1");
    assert.equal(a1.claim?.message, "main/app/deploy build 42 claiming: a1");
    assert.equal(a1.claim?.sha, commitWith(history, "main/app/deploy build 42 claiming: a1").sha);
    assert.deepEqual(a1.claim?.committedAt, at(1));
    assert.deepEqual(a1.editedAfterClaim, [{ sha: commitWith(history, "main/app/deploy build 45 updating: a1").sha, committedAt: at(9) }]);

    const a2 = lock(all, "alpha", "a2");
    assert.equal(a2.claim?.message, V18);
    assert.deepEqual(a2.claim?.committedAt, at(2));

    const b1 = lock(all, "beta", "b1");
    assert.equal(b1.claim?.message, "main/app/deploy build 44 claiming: b1");
    assert.equal(b1.claim?.sha, commitWith(history, "main/app/deploy build 44 claiming: b1").sha);

    assert.equal(lock(all, "alpha", "with space").claim?.message, ODD);
    assert.deepEqual(lock(all, "alpha", "with space").claim?.committedAt, at(6));
    assert.equal(lock(all, "alpha", "ünï-çødé").claim?.message, "claiming: ünï-çødé");
    assert.equal(lock(all, "alpha", "added").claim?.message, "adding claimed: added");
    assert.equal(lock(all, "alpha", "dup").claim?.message, "dup in both");
    assert.equal(lock(all, "alpha", "link").claim?.message, "not files");
  });

  test("locks that must not be touched carry a problem; the others none", () => {
    assert.match(lock(all, "alpha", "dup").problem ?? "", /claimed\/ and unclaimed\//);
    assert.match(lock(all, "alpha", "link").problem ?? "", /symbolic link/);
    assert.match(lock(all, "alpha", "subdir").problem ?? "", /directory/);
    assert.equal(lock(all, "alpha", "subdir").claim, null);
    for (const name of ["a1", "a2", "added", "with space", "ünï-çødé"]) assert.equal(lock(all, "alpha", name).problem, null, name);
  });
});

test("the history is read by one process that stops at the last claim: the same count for 1 and 30 locks", async () => {
  const names = Array.from({ length: 30 }, (_v, i) => `l${String(i).padStart(2, "0")}`);
  const pool = await createPoolRepo({ pools: { p: { unclaimed: ["churn", ...names] } }, date: at(0) });
  try {
    const claimer = await pool.claimer();
    // A long history before the claims, which the scan must not read.
    const churn: BulkOp[] = Array.from({ length: 400 }, (_v, i) => ({
      op: i % 2 === 0 ? "claim" : "release",
      pool: "p",
      lock: "churn",
      date: at(1 + i),
    }));
    await claimer.bulk([...churn, { op: "claim", pool: "p", lock: "l00", date: at(500) }]);
    const runs: Array<{ count: number; stats: ScanStats; snapshot: RepoSnapshot }> = [];
    for (const claims of [[], names.slice(1)]) {
      if (claims.length) await claimer.bulk(claims.map((name, i) => ({ op: "claim", pool: "p", lock: name, date: at(600 + i) })));
      const repo = await sync(pool);
      try {
        const stats: ScanStats[] = [];
        const before = gitProcessCount();
        const snapshot = await scanRepo(repo, ["p"], { onStats: (s) => stats.push(s) });
        assert.equal(stats.length, 1);
        runs.push({ count: gitProcessCount() - before, stats: stats[0] as ScanStats, snapshot });
      } finally {
        await repo.cleanup();
      }
    }
    const [one, thirty] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.equal(one.snapshot.locks.length, 1);
    assert.equal(thirty.snapshot.locks.length, 30);
    assert.equal(one.count, 2, "ls-tree and log");
    assert.equal(thirty.count, one.count);
    assert.deepEqual(one.stats, { commitsRead: 1, stoppedEarly: true, searched: 1 });
    assert.deepEqual(thirty.stats, { commitsRead: 30, stoppedEarly: true, searched: 30 });
    for (const [i, l] of thirty.snapshot.locks.entries()) {
      assert.equal(l.claim?.message, `claiming: ${l.name}`);
      assert.deepEqual(l.claim?.committedAt, i === 0 ? at(500) : at(600 + i - 1));
    }
  } finally {
    await pool.cleanup();
  }
});

test("real pool-resource claims, a merge, and a lock present since the first commit", async () => {
  const pool = await createPoolRepo({ pools: { p: { unclaimed: ["m1", "m2", "m3"], claimed: ["old"] } }, date: at(0) });
  try {
    const claimer = await pool.claimer();
    const git = (args: string[], date: Date) =>
      execFileSync("git", args, {
        cwd: claimer.dir,
        env: { ...pool.env, GIT_AUTHOR_DATE: `@${date.getTime() / 1000} +0000`, GIT_COMMITTER_DATE: `@${date.getTime() / 1000} +0000` },
      })
        .toString()
        .trim();
    // m1 is claimed on a side branch that is merged later; m2 on the main line meanwhile.
    git(["checkout", "--quiet", "-b", "side"], at(1));
    git(["mv", "p/unclaimed/m1", "p/claimed/m1"], at(1));
    git(["commit", "--quiet", "-m", "side build 1 claiming: m1"], at(1));
    const side = git(["rev-parse", "HEAD"], at(1));
    git(["checkout", "--quiet", "main"], at(2));
    git(["mv", "p/unclaimed/m2", "p/claimed/m2"], at(2));
    git(["commit", "--quiet", "-m", "main build 2 claiming: m2"], at(2));
    const mainLine = git(["rev-parse", "HEAD"], at(2));
    git(["merge", "--quiet", "--no-ff", "-m", "Merge branch side", "side"], at(3));
    git(["push", "--quiet", "origin", "HEAD:main"], at(3));
    const m3 = await claimer.claim("p", "m3", "main build 4 claiming: m3", at(4));

    const repo = await sync(pool);
    try {
      const snapshot = await scanRepo(repo, "*");
      const claimOf = (name: string) => lock(snapshot, "p", name).claim;
      assert.equal(claimOf("m1")?.sha, side, "credited to the claim on the merged branch, not to the merge");
      assert.equal(claimOf("m1")?.message, "side build 1 claiming: m1");
      assert.equal(claimOf("m2")?.sha, mainLine);
      assert.equal(claimOf("m3")?.sha, m3);
      assert.deepEqual(claimOf("m3")?.committedAt, at(4));
      assert.equal(claimOf("old")?.message, "initial pools");
      assert.deepEqual(claimOf("old")?.committedAt, at(0));
    } finally {
      await repo.cleanup();
    }
  } finally {
    await pool.cleanup();
  }
});

describe("a claimed lock edited in place after its claim keeps its claim commit", () => {
  let pool: PoolRepo;
  let snapshot: RepoSnapshot;
  const shas: Record<string, string> = {};

  before(async () => {
    pool = await createPoolRepo({ pools: { p: { unclaimed: ["content", "mode", "chain", "other-build", "reclaimed", "plain", "typed"] } }, date: at(0) });
    const claimer = await pool.claimer();
    const git = (args: string[], date: Date) =>
      execFileSync("git", args, {
        cwd: claimer.dir,
        env: { ...pool.env, GIT_AUTHOR_DATE: `@${date.getTime() / 1000} +0000`, GIT_COMMITTER_DATE: `@${date.getTime() / 1000} +0000` },
      })
        .toString()
        .trim();
    const claim = (lock: string, minute: number) => claimer.claim("p", lock, `main/app/deploy build ${minute} claiming: ${lock}`, at(minute));
    shas["content"] = await claim("content", 1);
    shas["content-edit"] = await claimer.commit({ write: { "p/claimed/content": "ip: 10.0.0.2\n" } }, "fix the IP of content", at(2));

    shas["mode"] = await claim("mode", 3);
    git(["update-index", "--chmod=+x", "p/claimed/mode"], at(4));
    git(["commit", "--quiet", "-m", "make mode executable"], at(4));
    git(["push", "--quiet", "origin", "HEAD:main"], at(4));
    shas["mode-edit"] = git(["rev-parse", "HEAD"], at(4));

    shas["chain"] = await claim("chain", 5);
    shas["chain-1"] = await claimer.commit({ write: { "p/claimed/chain": "one\n" } }, "edit chain once", at(6));
    shas["chain-2"] = await claimer.commit({ write: { "p/claimed/chain": "two\n" } }, "edit chain twice", at(7));
    git(["update-index", "--chmod=+x", "p/claimed/chain"], at(8));
    git(["commit", "--quiet", "-m", "chmod chain"], at(8));
    git(["push", "--quiet", "origin", "HEAD:main"], at(8));
    shas["chain-3"] = git(["rev-parse", "HEAD"], at(8));

    shas["other-build"] = await claim("other-build", 9);
    // a person's edit whose message looks like a claim by another build
    shas["other-build-edit"] = await claimer.commit(
      { write: { "p/claimed/other-build": "edited\n" } },
      "main/app/deploy build 999 claiming: other-build\nBuild URL: https://ci/teams/main/pipelines/app/jobs/deploy/builds/999",
      at(10),
    );

    await claim("reclaimed", 11);
    await claimer.commit({ write: { "p/claimed/reclaimed": "old edit\n" } }, "edit before the release", at(12));
    await claimer.release("p", "reclaimed", "unclaiming: reclaimed", at(13));
    shas["reclaimed"] = await claim("reclaimed", 14);

    shas["plain"] = await claim("plain", 15);

    // a regular file replaced by a symbolic link in place: a type change, also an edit
    shas["typed"] = await claim("typed", 16);
    git(["rm", "--quiet", "p/claimed/typed"], at(17));
    execFileSync("ln", ["-s", "../unclaimed/plain-target", "p/claimed/typed"], { cwd: claimer.dir });
    git(["add", "p/claimed/typed"], at(17));
    git(["commit", "--quiet", "-m", "typed becomes a link"], at(17));
    git(["push", "--quiet", "origin", "HEAD:main"], at(17));
    shas["typed-edit"] = git(["rev-parse", "HEAD"], at(17));

    const repo = await sync(pool);
    try {
      snapshot = await scanRepo(repo, ["p"]);
    } finally {
      await repo.cleanup();
    }
  });

  after(async () => {
    await pool?.cleanup();
  });

  const check = (name: string, claimMinute: number, edits: Array<[string, number]>) => {
    const l = lock(snapshot, "p", name);
    assert.equal(l.claim?.sha, shas[name], `${name}: the claim is the move into claimed/`);
    assert.equal(l.claim?.message, `main/app/deploy build ${claimMinute} claiming: ${name}`);
    assert.deepEqual(l.claim?.committedAt, at(claimMinute), `${name}: the age counts from the claim`);
    assert.deepEqual(
      l.editedAfterClaim,
      edits.map(([key, minute]) => ({ sha: shas[key], committedAt: at(minute) })),
      `${name}: the edits, newest first`,
    );
  };

  test("a content edit", () => check("content", 1, [["content-edit", 2]]));
  test("a mode edit (chmod +x)", () => check("mode", 3, [["mode-edit", 4]]));
  test("a chain of several edits, content and mode", () => check("chain", 5, [["chain-3", 8], ["chain-2", 7], ["chain-1", 6]]));
  test("an edit whose message names another build", () => check("other-build", 9, [["other-build-edit", 10]]));
  test("re-claimed after a release: the new claim, and no edit of the earlier claim", () => check("reclaimed", 14, []));
  test("never edited", () => check("plain", 15, []));
  test("a type change in place (file to symbolic link) is an edit too", () => {
    check("typed", 16, [["typed-edit", 17]]);
    assert.match(lock(snapshot, "p", "typed").problem ?? "", /symbolic link/);
  });
});
