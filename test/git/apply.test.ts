import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createPoolRepo, filesAt, log, readAt, type PoolRepo } from "../support/pool-repo.js";
import { PoolBoyError } from "../../src/core/errors.js";
import type { ReleaseMove, ReleasePlan, RepoSnapshot } from "../../src/core/model.js";
import { applyRelease } from "../../src/io/git/apply.js";
import { gitProcessCount } from "../../src/io/git/git.js";
import { scanRepo } from "../../src/io/git/scan.js";
import { refresh, syncRepo, type SyncedRepo } from "../../src/io/git/sync.js";

const POOL_BOY = "Pool Boy <pool-boy@localhost>";
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_v, i) => i)), Buffer.from("\r\n\0\n-- end\r")]);

async function sync(pool: PoolRepo): Promise<SyncedRepo> {
  return syncRepo({ url: pool.path, branch: null, cacheDir: null, env: pool.env });
}

function release(pool: string, name: string, message = `pool-boy releasing: ${name}`): ReleaseMove {
  return { pool, name, from: `${pool}/claimed/${name}`, to: `${pool}/unclaimed/${name}`, message };
}

function planFor(snapshot: RepoSnapshot, moves: ReleaseMove[]): ReleasePlan {
  return { base: snapshot.head, branch: snapshot.branch, moves };
}

/** applyRelease, and the number of git processes it ran. */
async function counted(repo: SyncedRepo, plan: ReleasePlan) {
  const before = gitProcessCount();
  const outcome = await applyRelease(repo, plan);
  return { outcome, processes: gitProcessCount() - before };
}

test("one commit per lock by Pool Boy, content moved byte for byte, all pushed together", async () => {
  const odd = 'we"ird \\ name ü\ttab';
  const pool = await createPoolRepo({ pools: { alpha: { unclaimed: ["a", odd, "keep"] } } });
  const claimer = await pool.claimer();
  await claimer.bulk([
    { op: "claim", pool: "alpha", lock: "a" },
    { op: "claim", pool: "alpha", lock: odd },
    { op: "claim", pool: "alpha", lock: "keep" },
    { op: "add-claimed", pool: "alpha", lock: "bin", content: BINARY },
  ]);
  const repo = await sync(pool);
  try {
    const base = repo.head;
    const snapshot = await scanRepo(repo, ["alpha"]);
    const moves = [release("alpha", "a", "pool-boy: build main/app/deploy/42 finished\n\nreleasing a"), release("alpha", odd), release("alpha", "bin")];
    const { outcome, processes } = await counted(repo, planFor(snapshot, moves));
    assert.equal(outcome.pushed, true);
    assert.ok(outcome.pushed);
    assert.equal(outcome.commits.length, 3);
    assert.equal(processes, 3, "ls-tree, fast-import, push");
    const tip = outcome.commits[2] as string;
    assert.equal(await pool.head(), tip);
    assert.equal(repo.head, tip);

    const history = await log(pool.path, { max: 4 });
    assert.deepEqual(
      history.map((c) => c.sha),
      [...outcome.commits].reverse().concat(base),
    );
    for (const [i, move] of moves.entries()) {
      const commit = history[2 - i];
      assert.ok(commit);
      assert.equal(commit.message, move.message.trimEnd());
      assert.equal(commit.author, POOL_BOY);
      assert.equal(commit.committer, POOL_BOY);
      assert.deepEqual(commit.moves, [{ from: move.from, to: move.to }]);
      assert.deepEqual(await readAt(pool.path, tip, move.to), await readAt(pool.path, base, move.from));
    }
    assert.deepEqual(await readAt(pool.path, tip, "alpha/unclaimed/bin"), BINARY);
    const files = await filesAt(pool.path, tip);
    assert.deepEqual(
      files.filter((f) => f.startsWith("alpha/claimed/")),
      ["alpha/claimed/.gitkeep", "alpha/claimed/keep"],
    );
  } finally {
    await repo.cleanup();
    await pool.cleanup();
  }
});

test("someone pushed meanwhile: a value, nothing pushed; after refresh the release goes through", async () => {
  const pool = await createPoolRepo({ pools: { alpha: { unclaimed: ["a", "b"] } } });
  const claimer = await pool.claimer();
  await claimer.claim("alpha", "a", "main/app/deploy build 1 claiming: a");
  const repo = await sync(pool);
  try {
    const snapshot = await scanRepo(repo, "*");
    const theirs = await claimer.claim("alpha", "b", "main/app/deploy build 2 claiming: b");

    const outcome = await applyRelease(repo, planFor(snapshot, [release("alpha", "a")]));
    assert.equal(outcome.pushed, false);
    assert.ok(!outcome.pushed);
    assert.equal(outcome.reason, "non-fast-forward");
    assert.match(outcome.detail, /fetch first|non-fast-forward/);
    assert.equal(await pool.head(), theirs);
    assert.ok(!(await log(pool.path, { max: 5 })).some((c) => c.author === POOL_BOY));

    assert.equal(await refresh(repo), theirs);
    const again = await scanRepo(repo, "*");
    const { outcome: second, processes } = await counted(repo, planFor(again, [release("alpha", "a")]));
    assert.ok(second.pushed);
    assert.equal(processes, 3, "the same three processes for one move as for three");
    const [top] = await log(pool.path, { max: 1 });
    assert.equal(top?.sha, second.commits[0]);
    assert.deepEqual(top?.moves, [{ from: "alpha/claimed/a", to: "alpha/unclaimed/a" }]);
  } finally {
    await repo.cleanup();
    await pool.cleanup();
  }
});

describe("refusals: nothing is pushed", () => {
  let pool: PoolRepo;
  let repo: SyncedRepo;
  let snapshot: RepoSnapshot;
  let head: string;

  before(async () => {
    pool = await createPoolRepo({ pools: { alpha: { unclaimed: ["a", "b", "free"] } } });
    const claimer = await pool.claimer();
    await claimer.bulk([
      { op: "claim", pool: "alpha", lock: "a" },
      { op: "claim", pool: "alpha", lock: "b" },
      { op: "commit", write: { "alpha/unclaimed/b": "lock: b\n" }, message: "b in both" },
    ]);
    repo = await sync(pool);
    snapshot = await scanRepo(repo, "*");
    head = await pool.head();
  });

  after(async () => {
    await repo?.cleanup();
    await pool?.cleanup();
  });

  const refused = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof PoolBoyError, String(err));
    assert.equal(err.kind, "git");
    assert.match(err.message, pattern);
    assert.match(err.hint ?? "", /nothing was pushed/);
    return true;
  };

  test("an empty plan is nothing to do", async () => {
    const { outcome, processes } = await counted(repo, planFor(snapshot, []));
    assert.deepEqual(outcome, { pushed: false, reason: "nothing-to-do", detail: "no lock to release" });
    assert.equal(processes, 0);
  });

  test("a destination that exists, a source that does not, a path used twice, a path that leaves the tree", async () => {
    const cases: Array<[ReleaseMove[], RegExp]> = [
      [[release("alpha", "a"), release("alpha", "b")], /alpha\/b: alpha\/unclaimed\/b already exists/],
      [[release("alpha", "free")], /alpha\/free: alpha\/claimed\/free does not exist/],
      [[release("alpha", "a"), release("alpha", "a")], /part of another move/],
      [[{ ...release("alpha", "a"), to: "alpha/unclaimed/../../x" }], /'\.\.'/],
      [[{ ...release("alpha", "a"), from: "alpha/claimed" }], /is not a regular file/],
      // the .gitkeep a move adds: only its own pool's claimed/.gitkeep, and only where there is none
      [[{ ...release("alpha", "a"), gitkeep: "alpha/claimed/.gitkeep" }], /alpha\/claimed\/\.gitkeep already exists/],
      [[{ ...release("alpha", "a"), gitkeep: "alpha/unclaimed/.gitkeep" }], /"alpha\/unclaimed\/\.gitkeep" is not alpha\/claimed\/\.gitkeep/],
    ];
    for (const [moves, pattern] of cases) {
      await assert.rejects(applyRelease(repo, planFor(snapshot, moves)), refused(pattern));
    }
    assert.equal(await pool.head(), head);
  });

  test("a plan made on another head is a bug, not a git failure", async () => {
    await assert.rejects(applyRelease(repo, { ...planFor(snapshot, [release("alpha", "a")]), base: "0".repeat(40) }), (err: unknown) => {
      assert.ok(!(err instanceof PoolBoyError));
      assert.match(String(err), /synced head/);
      return true;
    });
  });

  test("a push the remote refuses for another reason (a hook) is an error, not a lost race", async () => {
    const hook = join(pool.path, "hooks", "pre-receive");
    await writeFile(hook, "#!/bin/sh\necho 'branch is protected' >&2\nexit 1\n");
    await chmod(hook, 0o755);
    await assert.rejects(applyRelease(repo, planFor(snapshot, [release("alpha", "a")])), (err: unknown) => {
      assert.ok(err instanceof PoolBoyError, String(err));
      assert.equal(err.kind, "git");
      assert.match(err.message, /refused the push to main: \[remote rejected\] \(pre-receive hook declined\)/);
      return true;
    });
    assert.equal(await pool.head(), head);
  });
});

test("two runs wrote the same first commit: the one that pushes second reports only what it added", async () => {
  // The commits' date is the second they are written in: try until both runs wrote in the same one.
  for (let tries = 0; ; tries++) {
    const pool = await createPoolRepo({ pools: { alpha: { unclaimed: ["x", "y"] } } });
    const claimer = await pool.claimer();
    await claimer.bulk([
      { op: "claim", pool: "alpha", lock: "x" },
      { op: "claim", pool: "alpha", lock: "y" },
    ]);
    const first = await sync(pool);
    const second = await sync(pool);
    try {
      const snapshot = await scanRepo(first, ["alpha"]);
      const start = Math.floor(Date.now() / 1000);
      const a = await applyRelease(first, planFor(snapshot, [release("alpha", "x")]));
      const b = await applyRelease(second, planFor(snapshot, [release("alpha", "x"), release("alpha", "y")]));
      if (Math.floor(Date.now() / 1000) !== start) {
        assert.ok(tries < 5, "could not write both releases within one second");
        continue;
      }
      assert.ok(a.pushed && b.pushed, "the second push is a fast-forward of the first");
      assert.equal(a.commits.length, 1);
      assert.equal(b.from, 1, "the first commit was the other run's");
      assert.equal(b.commits.length, 1);
      assert.notEqual(b.commits[0], a.commits[0]);
      assert.equal(await pool.head(), b.commits[0]);
      return;
    } finally {
      await first.cleanup();
      await second.cleanup();
    }
  }
});
