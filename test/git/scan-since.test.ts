// The scan on top of an older head's claim commits (scanSince with a base) gives exactly what a
// full scan gives, whatever happened in between; it walks only base..head when the history is a
// linear run on top of the base, and says why it walked everything otherwise.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPoolRepo, type BulkOp, type Claimer, type PoolRepo } from "../support/pool-repo.js";
import { prng } from "../support/prng.js";
import type { RepoSnapshot } from "../../src/core/model.js";
import { baseOf as snapshotBase, chainProblem, scanSince, type ClaimBase } from "../../src/io/git/scan.js";
import { refresh, syncRepo, type SyncedRepo } from "../../src/io/git/sync.js";

const POOLS = { aws: ["e1", "e2", "e3", "e4", "e5", "e6"], gcp: ["v1", "v2", "v3", "v4"] };
const T0 = Date.UTC(2024, 0, 1);

let pool: PoolRepo;
let claimer: Claimer;
let repo: SyncedRepo;
let minute = 0;
/** what the test believes is claimed: pool/lock */
const claimed = new Set<string>();
let added = 0;

before(async () => {
  pool = await createPoolRepo({ pools: { aws: { unclaimed: POOLS.aws }, gcp: { unclaimed: POOLS.gcp } }, date: new Date(T0) });
  claimer = await pool.claimer();
  repo = await syncRepo({ url: pool.path, branch: null, cacheDir: null, env: pool.env });
});
after(async () => {
  await repo?.cleanup();
  await pool?.cleanup();
});

/** n random pool-resource commits: claims, releases, `updating:` edits, locks added claimed. */
function randomOps(n: number, seed: number): BulkOp[] {
  const rng = prng(seed);
  const ops: BulkOp[] = [];
  const all = Object.entries(POOLS).flatMap(([p, locks]) => locks.map((l) => `${p}/${l}`));
  for (let i = 0; i < n; i++) {
    const date = new Date(T0 + ++minute * 60_000);
    const r = rng();
    const free = all.filter((k) => !claimed.has(k));
    const held = all.filter((k) => claimed.has(k));
    if (r < 0.45 && free.length) {
      const key = free[Math.floor(rng() * free.length)] as string;
      const [p, l] = key.split("/") as [string, string];
      claimed.add(key);
      ops.push({ op: "claim", pool: p, lock: l, message: `main/app/deploy build ${i + 1} claiming: ${l}`, date });
    } else if (r < 0.8 && held.length) {
      const key = held[Math.floor(rng() * held.length)] as string;
      const [p, l] = key.split("/") as [string, string];
      claimed.delete(key);
      ops.push({ op: "release", pool: p, lock: l, date });
    } else if (r < 0.93) {
      const key = all[Math.floor(rng() * all.length)] as string;
      const [p, l] = key.split("/") as [string, string];
      ops.push({ op: "update", pool: p, lock: l, content: `content ${i} ${seed}`, date });
    } else {
      const name = `new-${++added}`;
      POOLS.aws.push(name);
      claimed.add(`aws/${name}`);
      ops.push({ op: "add-claimed", pool: "aws", lock: name, date });
    }
  }
  return ops;
}

const pools = ["aws", "gcp"];
const baseOf = (s: RepoSnapshot): ClaimBase => snapshotBase(s);

async function compare(base: ClaimBase, expectWalk: "range" | "full", what: string) {
  await refresh(repo);
  const since = await scanSince(repo, pools, base);
  const full = await scanSince(repo, pools, null);
  assert.deepEqual(since.snapshot, full.snapshot, `${what}: the same snapshot as a full scan, lock for lock`);
  assert.equal(since.stats.walk, expectWalk, `${what}: ${since.stats.fallback ?? ""}`);
  return since;
}

test("linear histories: only base..head is walked, and the result is a full scan's, seed after seed", async () => {
  await claimer.bulk(randomOps(60, 1));
  for (const seed of [2, 3, 4, 5]) {
    await refresh(repo);
    const base = baseOf((await scanSince(repo, pools, null)).snapshot);
    await claimer.bulk(randomOps(5 + seed * 7, seed));
    const since = await compare(base, "range", `seed ${seed}`);
    assert.ok(since.touched !== null);
    const fullCount = (await scanSince(repo, pools, null)).stats.commitsRead;
    assert.ok(since.stats.commitsRead <= 5 + seed * 7, `${since.stats.commitsRead} commits read, the range has ${5 + seed * 7} (a full walk reads ${fullCount})`);
  }
  // Nothing new: nothing walked.
  await refresh(repo);
  const base = baseOf((await scanSince(repo, pools, null)).snapshot);
  const same = await compare(base, "range", "nothing new");
  assert.equal(same.stats.commitsRead, 0);
  assert.equal(same.touched?.size, 0);
});

test("a lock released and claimed again with the same bytes between the heads: touched, with its new claim commit", async () => {
  await refresh(repo);
  const before = (await scanSince(repo, pools, null)).snapshot;
  const key = [...claimed].find((k) => k.startsWith("gcp/")) ?? "gcp/v1";
  const [p, l] = key.split("/") as [string, string];
  if (!claimed.has(key)) await claimer.bulk([{ op: "claim", pool: p, lock: l, date: new Date(T0 + ++minute * 60_000) }]);
  claimed.add(key);
  const base = baseOf(before.head === (await pool.head()) ? before : (await scanSince(await refreshed(), pools, null)).snapshot);
  const reclaim = await claimer.bulk([
    { op: "release", pool: p, lock: l, date: new Date(T0 + ++minute * 60_000) },
    { op: "claim", pool: p, lock: l, message: `main/app/deploy build 999 claiming: ${l}`, date: new Date(T0 + ++minute * 60_000) },
  ]);
  const since = await compare(base, "range", "released and claimed again");
  assert.ok(since.touched?.has(`${p}/claimed/${l}`));
  assert.equal(since.snapshot.locks.find((x) => x.path === `${p}/claimed/${l}`)?.claim?.sha, reclaim);
});

async function refreshed(): Promise<SyncedRepo> {
  await refresh(repo);
  return repo;
}

test("a base that lacks a lock (or is empty) is completed by a walk of the whole history for that lock only", async () => {
  await refresh(repo);
  const full = (await scanSince(repo, pools, null)).snapshot;
  const partial = baseOf(full);
  const dropped = full.locks[0]?.path as string;
  (partial.claims as Map<string, unknown>).delete(dropped);
  const since = await compare(partial, "range", "one lock missing from the base");
  assert.ok(since.stats.searched > 0);
  await compare({ head: full.head, claims: new Map() }, "range", "an empty base");
});

test("a force-push, a merge in between, a base head that is not there: the whole history, and why", async () => {
  await refresh(repo);
  const base = baseOf((await scanSince(repo, pools, null)).snapshot);

  const gone = await compare({ ...base, head: "0123456789abcdef0123456789abcdef01234567" }, "full", "unknown base head");
  assert.match(gone.stats.fallback ?? "", /not in the repository/);
  assert.equal(gone.touched, null);

  // A merge: a side branch from the base, merged with --no-ff.
  const git = (args: string[]) => execFileSync("git", args, { cwd: claimer.dir, env: pool.env }).toString().trim();
  git(["fetch", "--quiet", "origin"]);
  git(["reset", "--quiet", "--hard", `origin/${pool.branch}`]);
  git(["checkout", "--quiet", "-b", "side"]);
  git(["commit", "--quiet", "--allow-empty", "-m", "side work"]);
  git(["checkout", "--quiet", pool.branch]);
  await claimer.bulk(randomOps(3, 77));
  git(["fetch", "--quiet", "origin"]);
  git(["reset", "--quiet", "--hard", `origin/${pool.branch}`]);
  git(["merge", "--quiet", "--no-ff", "-m", "merge side", "side"]);
  git(["push", "--quiet", "origin", `HEAD:refs/heads/${pool.branch}`]);
  const merged = await compare(base, "full", "a merge");
  assert.match(merged.stats.fallback ?? "", /merge/);

  // A force-push: the branch set back to an older commit, then new commits on top.
  await refresh(repo);
  const before = baseOf((await scanSince(repo, pools, null)).snapshot);
  execFileSync("git", ["update-ref", `refs/heads/${pool.branch}`, `${before.head}~3`], { cwd: pool.path, env: pool.env });
  git(["fetch", "--quiet", "origin"]);
  git(["reset", "--quiet", "--hard", `origin/${pool.branch}`]);
  // The test's idea of what is claimed follows the branch.
  claimed.clear();
  for (const line of git(["ls-tree", "-r", "--name-only", "HEAD"]).split("\n")) {
    const m = /^(aws|gcp)\/claimed\/([^/]+)$/.exec(line);
    if (m) claimed.add(`${m[1]}/${m[2]}`);
  }
  await claimer.bulk(randomOps(4, 99));
  const forced = await compare(before, "full", "a force-push");
  assert.match(forced.stats.fallback ?? "", /no longer an ancestor/);
});

test("chainProblem: what the range walk's commits and parents say of base..head", () => {
  const [b, c1, c2, c3, x] = ["b", "1", "2", "3", "x"].map((ch) => ch.repeat(40)) as [string, string, string, string, string];
  // commits newest first, with parents | expected
  const table: Array<[Array<[string, string[]]>, RegExp | null | "unknown"]> = [
    [[[c2, [c1]], [c1, [b]]], null],
    [[[c1, [b]]], null],
    [[], /went back/],
    [[[c2, [c1, x]], [c1, [b]]], /merge/],
    [[[c2, [c1]], [c1, []]], /merge or a root/],
    [[[c2, [c1]], [c1, [x]]], /no longer an ancestor/],
    [[[c3, [c1]], [c1, [b]]], "unknown"],
    [[[c1, [b]]].map(([s, p]) => [s === c1 ? c3 : s, p] as [string, string[]]), "unknown"],
  ];
  for (const [chain, expected] of table) {
    const head = c2;
    const got = chainProblem(chain, b, chain[0]?.[0] === c1 ? c1 : head);
    if (expected === null || expected === "unknown") assert.equal(got, expected, JSON.stringify(chain));
    else assert.match(String(got), expected, JSON.stringify(chain));
  }
});
