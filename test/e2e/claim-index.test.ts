// The claim index in a --cache-dir: a warm run walks only the commits since the indexed head, and
// its report is a cold run's, lock for lock, whatever happened in between: new claims, releases,
// edits, nothing new, a force-push, a damaged index, another repository's index, another pool set.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { everyVerdictScenario, type Scenario } from "../support/scenario.js";
import { createPoolRepo, type Claimer } from "../support/pool-repo.js";
import { json, poolBoy, type CliRun } from "../support/cli.js";

let s: Scenario;
let dir: string;
let cache: string;
let c: Claimer;
const INDEX = "pool-boy-claims.json";

before(async () => {
  s = await everyVerdictScenario();
  dir = await mkdtemp(join(tmpdir(), "pool-boy-claim-index-"));
  cache = join(dir, "cache");
  c = await s.repo.claimer();
});
after(async () => {
  await s?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** The report without what differs from run to run (times, ages, the API's counters). */
function comparable(run: CliRun): unknown {
  assert.equal(run.code, 0, run.stderr);
  const report = json(run) as unknown as Record<string, unknown> & { locks: Array<Record<string, unknown>> };
  const { generatedAt: _g, durationSeconds: _d, api: _a, ...rest } = report as Record<string, unknown>;
  return {
    ...rest,
    locks: report.locks.map(({ ageSeconds: _age, detail, ...lock }) => ({ ...lock, detail: String(detail).replace(/\b\d+[a-z]+\b( \d+[a-z]+\b)*/g, "T").replace(/\d+/g, "N") })),
  };
}

async function warmAndCold(extra: string[] = []): Promise<{ warm: CliRun; cold: CliRun }> {
  const warm = await poolBoy(["status", "--json", "--verbose", "--cache-dir", cache, ...extra], s.env);
  const cold = await poolBoy(["status", "--json", ...extra], s.env);
  assert.deepEqual(comparable(warm), comparable(cold), "the warm run's report is the cold run's");
  return { warm, cold };
}

const date = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);

test("a warm run reads only the commits since the index's head, with a cold run's result, history after history", async () => {
  const first = await warmAndCold();
  assert.match(first.warm.stderr, /no claim index yet: walking the whole history/);
  const index = JSON.parse(await readFile(join(cache, INDEX), "utf8")) as { body: { head: string; claims: Record<string, unknown> } };
  assert.equal(index.body.head, json(first.cold).head);
  assert.equal(Object.keys(index.body.claims).length, json(first.cold).locks.length);

  // New claims, a release, a lock edited in place after its claim, a lock added claimed.
  await c.claim("aws", "env-7", "main/app/deploy build 40 claiming: env-7", date(30));
  await c.release("aws", "env-5");
  await c.update("aws", "env-1", "edited by hand", "tweak env-1 by hand", date(10));
  await c.addClaimed("gcp", "vm-9", "new", "adding claimed: vm-9", date(5));
  const more = await warmAndCold();
  assert.match(more.warm.stderr, /claim index used: 4 new commit\(s\) read/);

  const same = await warmAndCold();
  assert.match(same.warm.stderr, /claim index used: 0 new commit\(s\) read/);
});

test("a force-push: the whole history is read again, and the index rebuilt", async () => {
  const head = execFileSync("git", ["rev-parse", `refs/heads/${s.repo.branch}`], { cwd: s.repo.path, env: s.repo.env }).toString().trim();
  execFileSync("git", ["update-ref", `refs/heads/${s.repo.branch}`, `${head}~3`], { cwd: s.repo.path, env: s.repo.env });
  const other = await s.repo.claimer();
  await other.addClaimed("gcp", "vm-10", "new", "adding claimed: vm-10", date(3));
  const forced = await warmAndCold();
  assert.match(forced.warm.stderr, /the claim index was not used \(.*no longer an ancestor.*\): the whole history was read/);
  const after = await warmAndCold();
  assert.match(after.warm.stderr, /claim index used: 0 new commit\(s\) read/);
});

test("a damaged index, another repository's index, another pool set: the whole history, the same result", async () => {
  const file = join(cache, INDEX);
  const text = await readFile(file, "utf8");
  // One claim commit changed in the file (a flipped byte): the checksum tells.
  const sha = /"claim":"([0-9a-f]{40})"/.exec(text)?.[1] as string;
  await writeFile(file, text.replace(sha, `${sha.slice(0, 39)}${sha[39] === "0" ? "1" : "0"}`));
  assert.match((await warmAndCold()).warm.stderr, /the claim index is damaged \(checksum\): walking the whole history/);
  await writeFile(file, text.slice(0, text.length / 2));
  assert.match((await warmAndCold()).warm.stderr, /the claim index is damaged \(not JSON\)/);
  assert.match((await warmAndCold()).warm.stderr, /claim index used/, "rebuilt");

  // The index of a cache of another repository.
  const elsewhere = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1"] } } });
  try {
    const otherCache = join(dir, "other-cache");
    const run = await poolBoy(["status", "--json", "--cache-dir", otherCache, "--repo", elsewhere.path, "--pools", "*:1h"], { ...s.env, POOL_REPO: elsewhere.path });
    assert.equal(run.code, 0, run.stderr);
    await copyFile(join(otherCache, INDEX), file);
  } finally {
    await elsewhere.cleanup();
  }
  assert.match((await warmAndCold()).warm.stderr, /the claim index is of another repository: walking the whole history/);

  // Another pool set than the index's.
  const pools = ["--pools", "aws:2h"];
  assert.match((await warmAndCold(pools)).warm.stderr, /the claim index was not used \(the pool set changed\)/);
  assert.match((await warmAndCold(pools)).warm.stderr, /claim index used: 0 new commit/);
});
