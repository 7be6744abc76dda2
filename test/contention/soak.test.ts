// A bounded soak: several pool-resource clients claim and release locks in loops (each claim by a
// build registered in the fake ATC, running while it holds the lock; some builds release their
// lock and succeed, others die holding it) while two `clean` loops (the built CLI, spawned again
// and again; one with a --cache-dir, one with a temporary clone) reap what the dead left behind.
// Then a final clean, and the checks over EVERY commit of the history (history.ts):
//   - each lock exactly once per pool (claimed XOR unclaimed) in every commit, content unchanged;
//   - every Pool Boy commit is one release, of a lock whose owner had finished when it was pushed
//     (the push time from a hook in the bare repository, the finish time recorded by the test);
//   - no running build ever lost its lock (its own release always found it claimed);
//   - at the end, every lock whose owner died is released, every lock of a running build is not.
//
// The choices come from a seeded PRNG (POOL_BOY_SOAK_SEED); the interleaving is whatever the
// machine makes of it. It runs for POOL_BOY_SOAK_SECONDS (default 20; up to 10 s more on a slow
// machine, until a few builds have died holding locks), plus the final clean and the checks.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import { json, poolBoy } from "../support/cli.js";
import { checkHead, checkHistory, installPushLog, type Owner, cliEnv } from "./history.js";
import { claimerLoop, cleanLoop, newClaimerStats, type CleanRun } from "./workload.js";

const SEED = Number(process.env.POOL_BOY_SOAK_SEED ?? 20_240_611);
const SECONDS = Number(process.env.POOL_BOY_SOAK_SECONDS ?? 20);
/** On a slow machine the soak goes on (at most this much longer) until this many builds died holding a lock. */
const GRACE_SECONDS = 10;
const MIN_DEATHS = 3;
const CLAIMERS = 4;
const LOCKS = {
  aws: ["env-1", "env-2", "env-3", "env-4", "env-5", "env-6"],
  gcp: ["vm-1", "vm-2", "vm-3", "vm-4", "vm-5", "vm-6"],
};
const POOLS = Object.keys(LOCKS) as Array<keyof typeof LOCKS>;
const USER = { username: "pool-boy", password: "soak-secret-3", teams: ["main"] };

test(`soak: ${CLAIMERS} claimers and two clean loops for ${SECONDS}s (seed ${SEED}), then every commit checked`, { timeout: 240_000 }, async (t) => {
  const repo = await createPoolRepo({ pools: { aws: { unclaimed: LOCKS.aws }, gcp: { unclaimed: LOCKS.gcp } }, date: new Date(Date.now() - 86_400_000) });
  const cache = await mkdtemp(join(tmpdir(), "pool-boy-soak-cache-"));
  // last before the try, whose finally closes it: a listening server keeps the test process alive
  const atc = await startFakeAtc({ version: "8.2.5", users: [USER], latencyMs: 5 });
  try {
    const pushLog = await installPushLog(repo);
    const owners = new Map<string, Owner>();
    const violations: string[] = [];
    const stats = newClaimerStats();
    const env = cliEnv(repo, atc, USER);
    const runs: CleanRun[] = [];
    const deadline = Date.now() + SECONDS * 1000;
    const hardDeadline = deadline + GRACE_SECONDS * 1000;
    const going = () => Date.now() < deadline || (stats.deaths < MIN_DEATHS && Date.now() < hardDeadline);
    const [heldByClaimers] = await Promise.all([
      Promise.all(
        Array.from({ length: CLAIMERS }, (_, i) =>
          claimerLoop({ index: i + 1, seed: SEED, repo, atc, pools: POOLS, owners, going, violations, stats, behaviour: "mixed" }),
        ),
      ),
      cleanLoop(1, env, ["--max-attempts", "20", "--cache-dir", join(cache, "cache")], going, runs),
      cleanLoop(2, env, ["--max-attempts", "20"], going, runs),
    ]);
    const held = heldByClaimers.flat();

    // The soak is over; the builds still holding locks keep running. One last clean.
    const last = await poolBoy(["clean", "--json"], env, { timeoutMs: 120_000 });
    assert.equal(last.code, 0, last.stderr);
    const lastReport = json(last);
    runs.push({ loop: 0, code: 0, released: (lastReport.released ?? []).map((r) => `${r.pool}/${r.name}`), commits: lastReport.commits ?? [], attempts: lastReport.attempts ?? 1, refusedTooOften: false, ms: 0, stderr: last.stderr });

    const history = await checkHistory(repo, { locks: LOCKS, owners, pushLog });
    await checkHead(repo, history, LOCKS);

    const refused = runs.filter((r) => r.attempts > 1).length;
    t.diagnostic(
      `seed ${SEED}: ${history.commits.length} commits in ${history.pushes} pushes; claims ${stats.claims} (${stats.claimsLost} lost to others), ` +
        `releases by owners ${stats.releases} (${stats.releaseRetries} retried), deaths ${stats.deaths}; clean runs ${runs.length} ` +
        `(${refused} after a refused push, ${runs.filter((r) => r.refusedTooOften).length} gave up), Pool Boy releases ${history.poolBoyMoves.length}`,
    );

    assert.deepEqual(violations, [], "no running build lost its lock");
    for (const run of runs) {
      assert.ok(run.code === 0 || run.refusedTooOften, `clean loop ${run.loop} exited ${run.code}: ${run.stderr}`);
    }
    // No stray commit: Pool Boy's commits in the history are exactly those the runs reported.
    const reported = runs.flatMap((r) => r.commits);
    const ours = history.commits.filter((c) => c.author.startsWith("Pool Boy")).map((c) => c.sha);
    assert.deepEqual([...ours].sort(), [...reported].sort(), "every Pool Boy commit was reported by one run, and every reported one is in the history");
    assert.equal(new Set(reported).size, reported.length, "no commit reported twice");

    // At the end: every lock whose owner died is released, every running build keeps its lock.
    for (const key of history.claimedAtHead) {
      const owner = owners.get(history.claimCommitAtHead.get(key) ?? "");
      assert.ok(owner, `${key} is claimed by a claim nobody made`);
      assert.equal(owner.finishedAt, null, `${key} is still claimed at the end although its owner ${owner.label} finished`);
    }
    assert.deepEqual(
      held.map((h) => `${h.pool}/${h.lock}`).sort(),
      [...history.claimedAtHead].sort(),
      "the locks still claimed are exactly those of the builds still running",
    );
    for (const h of held) assert.equal(history.claimCommitAtHead.get(`${h.pool}/${h.lock}`), h.sha);

    // The soak did what it is for (even on a slow machine).
    assert.ok(stats.deaths >= 1, "builds died holding locks");
    assert.equal(history.poolBoyMoves.length, stats.deaths, "Pool Boy released the lock of every build that died holding one, each once, and nothing else");
    assert.ok(runs.length >= 3, `only ${runs.length} clean runs`);
  } finally {
    await atc.close();
    await repo.cleanup();
    await rm(cache, { recursive: true, force: true });
  }
});
