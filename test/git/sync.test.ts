import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { createPoolRepo, type Claimer, type PoolRepo } from "../support/pool-repo.js";
import { PoolBoyError } from "../../src/core/errors.js";
import { linkObjects, refresh, syncRepo, type SyncedRepo } from "../../src/io/git/sync.js";

// One repository for the whole file, on a branch that is not master; tests that change it each
// claim locks of their own. A second repository for the test that needs another one.
let pool: PoolRepo;
let other: PoolRepo;
let claimer: Claimer;
let caches = 0;

before(async () => {
  const pools = { alpha: { unclaimed: ["a", "b", "c", "d", "e", "f"] } };
  [pool, other] = await Promise.all([createPoolRepo({ pools, branch: "trunk" }), createPoolRepo({ pools })]);
  claimer = await pool.claimer();
});

after(async () => {
  await pool?.cleanup();
  await other?.cleanup();
});

function newCacheDir(): string {
  return join(pool.root, `cache-${++caches}`);
}

async function sync(
  extra: { from?: PoolRepo; url?: string; branch?: string | null; cacheDir?: string | null; log?: string[] } = {},
): Promise<SyncedRepo> {
  const from = extra.from ?? pool;
  const repo = await syncRepo({
    url: extra.url ?? from.path,
    branch: extra.branch ?? null,
    cacheDir: extra.cacheDir ?? null,
    env: from.env,
    log: (line) => extra.log?.push(line),
  });
  // These tests look at what a cache holds, run after run: each run ends (releasing the cache's
  // lock) before the next starts. A cache's files stay after cleanup().
  if (extra.cacheDir) await repo.cleanup();
  return repo;
}

function isError(pattern: RegExp, kind: "git" | "config" = "git") {
  return (err: unknown) => {
    assert.ok(err instanceof PoolBoyError, String(err));
    assert.equal(err.kind, kind);
    assert.match(err.message, pattern);
    return true;
  };
}

test("a bare repository: the remote's default branch (not master), into a temp dir removed by cleanup()", async () => {
  const repo = await sync();
  assert.equal(repo.branch, "trunk");
  assert.equal(repo.head, await pool.head());
  assert.equal(repo.cached, false);
  assert.ok(existsSync(repo.gitDir));
  await repo.cleanup();
  assert.ok(!existsSync(repo.gitDir));
});

test("a non-bare repository, by absolute and by relative path, with an explicit branch given as refs/heads/…", async () => {
  const head = await claimer.claim("alpha", "a");
  const relative = join(...Array<string>(12).fill(".."), claimer.dir);
  for (const [url, branch] of [
    [claimer.dir, null],
    [relative, "refs/heads/trunk"],
  ] as const) {
    const repo = await sync({ url, branch });
    try {
      assert.equal(repo.branch, "trunk");
      assert.equal(repo.head, head);
    } finally {
      await repo.cleanup();
    }
  }
});

test("a branch that does not exist: a git error naming branch and repository, listing the branches", async () => {
  await assert.rejects(sync({ branch: "main" }), (err: unknown) => {
    isError(/branch "main" does not exist in .*pool\.git/)(err);
    assert.match((err as PoolBoyError).hint ?? "", /trunk/);
    return true;
  });
});

test("a repository that does not exist, or an invalid branch name", async () => {
  const missing = join(pool.root, "no-such-repo.git");
  await assert.rejects(sync({ url: missing }), isError(/cannot read the pool repository .*no-such-repo\.git/));
  await assert.rejects(sync({ url: missing, branch: "trunk" }), isError(/no-such-repo\.git \(branch trunk\)/));
  for (const bad of ["a..b", "-x", "a b", "x:y", "a/.b", "c.lock", "*"]) {
    await assert.rejects(sync({ branch: bad }), isError(/not a valid branch name/, "config"), bad);
  }
});

test("credentials in the URL appear nowhere in the error", async () => {
  for (const url of [
    "http://deployer:Sup3r-s3cret-pw@127.0.0.1:9/pools.git",
    "https://ghp_0123456789abcdefTOKEN@127.0.0.1:9/pools.git",
  ]) {
    for (const branch of [null, "main"]) {
      await assert.rejects(sync({ url, branch }), (err: unknown) => {
        isError(/127\.0\.0\.1:9\/pools\.git/)(err);
        const all = `${(err as PoolBoyError).message}\n${(err as PoolBoyError).hint}\n${String((err as Error).cause)}`;
        assert.doesNotMatch(all, /Sup3r-s3cret-pw|0123456789abcdefTOKEN/);
        return true;
      });
    }
  }
});

test("refresh() fetches the branch again and returns the new head", async () => {
  const repo = await sync();
  try {
    const newHead = await claimer.claim("alpha", "b");
    assert.notEqual(repo.head, newHead);
    assert.equal(await refresh(repo), newHead);
    assert.equal(repo.head, newHead);
  } finally {
    await repo.cleanup();
  }
});

test("a cache is kept between runs and only fetched into", async () => {
  const cacheDir = newCacheDir();
  const first = await sync({ cacheDir });
  await first.cleanup();
  assert.ok(existsSync(join(cacheDir, "HEAD")), "cleanup() leaves a cache in place");
  // A file left in the cache by the first run: a rebuild would remove it.
  const planted = join(cacheDir, "objects", "planted-by-test");
  await writeFile(planted, "");

  const newHead = await claimer.claim("alpha", "c");
  const log: string[] = [];
  const second = await sync({ cacheDir, log });
  assert.equal(second.cached, true);
  assert.equal(second.gitDir, cacheDir);
  assert.equal(second.head, newHead);
  assert.ok(existsSync(planted), "the cache was not rebuilt");
  assert.ok(!log.some((l) => /rebuild/.test(l)), log.join("\n"));
});

test("a damaged cache is detected and rebuilt", async () => {
  const cacheDir = newCacheDir();
  const head = (await sync({ cacheDir })).head;

  // objects gone
  for (const entry of await readdir(join(cacheDir, "objects"))) {
    if (entry !== "info") await rm(join(cacheDir, "objects", entry), { recursive: true });
  }
  let log: string[] = [];
  assert.equal((await sync({ cacheDir, log })).head, head);
  assert.ok(log.some((l) => /is damaged .*; rebuilding it/.test(l)), log.join("\n"));

  // config garbled
  await writeFile(join(cacheDir, "config"), "[[[ not a git config\n");
  log = [];
  assert.equal((await sync({ cacheDir, log })).head, head);
  assert.ok(log.some((l) => /is not a readable git repository .*; rebuilding it/.test(l)), log.join("\n"));
});

test("after an interrupted run, objects missing deep in the history are found too", async () => {
  await claimer.claim("alpha", "d");
  const cacheDir = newCacheDir();
  const first = await sync({ cacheDir });
  // The claimed/ tree of the previous commit, which the tip's tree does not reach.
  const old = execFileSync("git", ["rev-parse", `${first.head}~1:alpha/claimed`], { cwd: cacheDir, env: first.target.env })
    .toString()
    .trim();
  const loose = join(cacheDir, "objects", old.slice(0, 2), old.slice(2));
  assert.ok(existsSync(loose), "the test expects loose objects in a small cache");
  await rm(loose);
  await writeFile(join(cacheDir, "pool-boy-sync-in-progress"), "");

  const log: string[] = [];
  const again = await sync({ cacheDir, log });
  assert.equal(again.head, first.head);
  assert.ok(log.some((l) => /is damaged .*; rebuilding it/.test(l)), log.join("\n"));
  assert.ok(!existsSync(join(cacheDir, "pool-boy-sync-in-progress")));
});

test("a cache that holds another repository is rebuilt", async () => {
  const cacheDir = newCacheDir();
  await sync({ cacheDir });
  const log: string[] = [];
  const repo = await sync({ from: other, cacheDir, log });
  assert.equal(repo.head, await other.head());
  assert.equal(repo.branch, "main");
  assert.ok(log.some((l) => /holds another repository .*pool\.git\); rebuilding/.test(l)), log.join("\n"));
});

test("a cache directory that is not empty and not pool-boy's is left alone", async () => {
  const cacheDir = newCacheDir();
  await mkdir(cacheDir);
  await writeFile(join(cacheDir, "thesis.tex"), "do not delete");
  await assert.rejects(sync({ cacheDir }), isError(/is not empty and is not a pool-boy cache/, "config"));
  assert.ok(existsSync(join(cacheDir, "thesis.tex")));
});

test("the fixture's claimer redoes its change on a rejected push, like the pool-resource", async () => {
  const stale = await pool.claimer();
  await claimer.claim("alpha", "e");
  const head = await stale.claim("alpha", "f");
  const repo = await sync();
  try {
    assert.equal(repo.head, head);
  } finally {
    await repo.cleanup();
  }
  const files = execFileSync("git", ["ls-tree", "--name-only", `${head}:alpha/claimed`], { cwd: pool.path, env: pool.env }).toString();
  assert.deepEqual(files.split("\n").filter((f) => /^[ef]$/.test(f)), ["e", "f"]);
});

test("--cache-dir under folders that do not exist yet: made with its parents", async () => {
  const cacheDir = join(pool.root, "missing", "parents", "cache");
  const repo = await sync({ cacheDir });
  assert.ok(existsSync(join(cacheDir, "HEAD")), "the cache is a bare repository");
  assert.ok(!existsSync(`${cacheDir}.lock`), "the lock is gone after the run");
  assert.equal(repo.head, await pool.head());
});

test("--cache-dir that cannot be made: a config error naming the path and the fix, nothing left behind", async () => {
  const file = join(pool.root, "a-file");
  await writeFile(file, "not a directory\n");
  for (const cacheDir of [join(file, "cache"), join(file, "deeper", "cache")]) {
    await assert.rejects(sync({ cacheDir }), (err: unknown) => {
      assert.ok(err instanceof PoolBoyError, String(err));
      assert.equal(err.kind, "config");
      assert.equal(err.message, `--cache-dir ${cacheDir}: cannot create its folder ${join(cacheDir, "..")}: a part of that path is a file, not a directory`);
      assert.match(err.hint ?? "", /choose a --cache-dir \(POOL_BOY_CACHE_DIR\) in a directory this user can write/);
      return true;
    });
  }
});

// ---- local repositories: objects borrowed by hard links, not fetched ----

/** Every object file (packs and loose) of a git directory, by path under objects/, with its inode. */
async function objectFiles(gitDir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const objects = join(gitDir, "objects");
  for (const dir of await readdir(objects)) {
    if (!/^([0-9a-f]{2}|pack)$/.test(dir)) continue;
    for (const file of await readdir(join(objects, dir))) {
      if (dir === "pack" && !/\.(pack|idx)$/.test(file)) continue;
      out.set(`${dir}/${file}`, (await stat(join(objects, dir, file))).ino);
    }
  }
  return out;
}

test("a local repository (bare or not) is read without a fetch: its object files are hard links to the source's", async () => {
  await claimer.claim("alpha", "a").catch(() => undefined);
  for (const url of [pool.path, claimer.dir]) {
    const log: string[] = [];
    const repo = await syncRepo({ url, branch: null, cacheDir: null, env: pool.env, log: (l) => log.push(l) });
    try {
      assert.ok(log.some((l) => /borrowing the objects of/.test(l)), log.join("\n"));
      assert.ok(!log.some((l) => /cloning/.test(l)), log.join("\n"));
      const source = await objectFiles(url === pool.path ? pool.path : join(claimer.dir, ".git"));
      const mine = await objectFiles(repo.gitDir);
      assert.ok(mine.size > 0);
      assert.deepEqual([...mine.keys()].sort(), [...source.keys()].sort(), "every pack and loose object, nothing else");
      for (const [file, ino] of mine) assert.equal(ino, source.get(file), `${file} is a hard link`);
      const fsck = execFileSync("git", ["fsck", "--connectivity-only", "--no-dangling", "--no-progress", repo.head], { env: { ...repo.target.env, GIT_DIR: repo.gitDir } });
      assert.equal(fsck.toString().trim(), "");
    } finally {
      await repo.cleanup();
    }
    assert.ok((await objectFiles(url === pool.path ? pool.path : join(claimer.dir, ".git"))).size > 0, "cleanup() left the source alone");
  }
});

test("a cache filled by borrowing survives a gc that prunes and repacks the source, then borrows only what it lacks", async () => {
  const source = await createPoolRepo({ pools: { beta: { unclaimed: ["x", "y", "z"] } } });
  try {
    const c = await source.claimer();
    await c.claim("beta", "x");
    const cacheDir = join(source.root, "cache");
    const log: string[] = [];
    const first = await sync({ from: source, cacheDir, log });
    assert.ok(log.some((l) => /borrowing the objects of .* into the cache/.test(l)), log.join("\n"));
    // The source rewrites every object file: all packs replaced, loose objects pruned.
    execFileSync("git", ["gc", "--quiet", "--prune=now", "--aggressive"], { cwd: source.path, env: source.env });
    execFileSync("git", ["repack", "-a", "-d", "-f", "--quiet"], { cwd: source.path, env: source.env });
    execFileSync("git", ["fsck", "--connectivity-only", "--no-dangling", "--no-progress"], { env: { ...source.env, GIT_DIR: cacheDir } });
    const head = await c.claim("beta", "y");
    log.length = 0;
    const second = await sync({ from: source, cacheDir, log });
    assert.equal(second.head, head);
    assert.notEqual(second.head, first.head);
    assert.ok(log.some((l) => /borrowing the objects of .* into the cache .* \(those it lacks\)/.test(l)) && !log.some((l) => /fetching|rebuild/.test(l)), log.join("\n"));
  } finally {
    await source.cleanup();
  }
});

test("a local repository that borrows objects itself (alternates) is fetched as before", async () => {
  const source = await createPoolRepo({ pools: { gamma: { unclaimed: ["p"] } } });
  try {
    const borrower = join(source.root, "borrower.git");
    execFileSync("git", ["clone", "--quiet", "--bare", "--shared", source.path, borrower], { env: source.env });
    const log: string[] = [];
    const repo = await syncRepo({ url: borrower, branch: null, cacheDir: null, env: source.env, log: (l) => log.push(l) });
    try {
      assert.equal(repo.head, await source.head());
      assert.ok(log.some((l) => /cloning/.test(l)) && !log.some((l) => /borrowing/.test(l)), log.join("\n"));
    } finally {
      await repo.cleanup();
    }
  } finally {
    await source.cleanup();
  }
});

test("linkObjects: links every pack and loose object once, links nothing more the second time, fails on a missing source", async () => {
  const source = await createPoolRepo({ pools: { delta: { unclaimed: ["q"] } } });
  try {
    const c = await source.claimer();
    await c.claim("delta", "q");
    const to = join(source.root, "linked-objects");
    const result = await linkObjects(join(source.path, "objects"), to);
    assert.equal(result.passes, 1);
    assert.equal(result.copied, 0);
    assert.equal((await objectFiles(source.path)).size, result.files);
    // Linking again: everything is there already (EEXIST), nothing new.
    assert.equal((await linkObjects(join(source.path, "objects"), to)).files, 0);
    await assert.rejects(linkObjects(join(source.root, "nowhere"), join(source.root, "nowhere-to")), /ENOENT/);
  } finally {
    await source.cleanup();
  }
});

test("a local repository's branch is read from its ref files, loose or packed, without a git process in it", async () => {
  const source = await createPoolRepo({ pools: { eps: { unclaimed: ["r"] } }, branch: "pools/main" });
  try {
    const c = await source.claimer();
    const head = await c.claim("eps", "r");
    for (const pack of [false, true]) {
      if (pack) execFileSync("git", ["pack-refs", "--all", "--prune"], { cwd: source.path, env: source.env });
      assert.equal(existsSync(join(source.path, "refs", "heads", "pools", "main")), !pack);
      const repo = await syncRepo({ url: source.path, branch: "pools/main", cacheDir: null, env: source.env });
      try {
        assert.equal(repo.head, head, pack ? "packed" : "loose");
      } finally {
        await repo.cleanup();
      }
    }
    await assert.rejects(syncRepo({ url: source.path, branch: "nope", cacheDir: null, env: source.env }), isError(/branch "nope" does not exist/));
  } finally {
    await source.cleanup();
  }
});
