// The benchmark's contention run: N builds claiming and releasing locks as fast as the
// pool-resource does, one more claiming and dying with its lock, and two `clean` loops (the built
// CLI with default settings, overlapping) until they have made `runs` runs; the API answers after
// `latency` ms. Then a last clean, and every commit of the history checked (test/contention/
// history.ts): no lock lost or duplicated, no lock of a running build released, every dead build's
// lock released.
//
//   node dist/bench/contention.js [--runs 25] [--claimers 4] [--latency 100] [--seed 7]

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createPoolRepo } from "../test/support/pool-repo.js";
import { startFakeAtc } from "../test/support/atc-server.js";
import { checkHead, checkHistory, cliEnv, installPushLog, type Owner } from "../test/contention/history.js";
import { claimerLoop, cleanOnce, newClaimerStats, type CleanRun } from "../test/contention/workload.js";

export interface ContentionOptions {
  runs: number;
  claimers: number;
  latencyMs: number;
  seed: number;
  log?: (line: string) => void;
}

export interface ContentionResult {
  runs: number;
  failed: number;
  /** the failures' first lines */
  failures: string[];
  attempts: { mean: number; max: number; histogram: Record<number, number> };
  /** wall time of a clean run, ms */
  ms: { median: number; max: number };
  claims: number;
  /** claims that lost to another claimer (the pool-resource gives up too) */
  claimsLost: number;
  releasesByOwners: number;
  deaths: number;
  poolBoyReleases: number;
  /** commits that lost or duplicated a lock, live locks released (a broken invariant; 0 or 1: the check stops at the first) */
  violation: string | null;
  /** locks of dead builds still claimed at the end (after a last clean) */
  deadLeft: number;
  commits: number;
  pushes: number;
  seconds: number;
}

const LOCKS = { aws: ["env-1", "env-2", "env-3", "env-4", "env-5", "env-6"], gcp: ["vm-1", "vm-2", "vm-3", "vm-4", "vm-5", "vm-6"] };
const USER = { username: "pool-boy", password: "contention-bench-5", teams: ["main"] };

export async function contentionRun(o: ContentionOptions): Promise<ContentionResult> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const repo = await createPoolRepo({ pools: { aws: { unclaimed: LOCKS.aws }, gcp: { unclaimed: LOCKS.gcp } }, date: new Date(Date.now() - 86_400_000) });
  const atc = await startFakeAtc({ version: "8.2.5", users: [USER], latencyMs: o.latencyMs });
  const cache = await mkdtemp(join(tmpdir(), "pool-boy-contention-cache-"));
  try {
    const pushLog = await installPushLog(repo);
    const owners = new Map<string, Owner>();
    const violations: string[] = [];
    const stats = newClaimerStats();
    const env = cliEnv(repo, atc, USER);
    const runs: CleanRun[] = [];
    let begun = 0;
    const cleaning = () => begun < o.runs;
    let claiming = true;
    const pools = Object.keys(LOCKS);
    const claimers = Promise.all([
      ...Array.from({ length: o.claimers }, (_, i) =>
        claimerLoop({ index: i + 1, seed: o.seed, repo, atc, pools, owners, going: () => claiming, violations, stats, behaviour: "churn", fetchBeforeClaim: true }),
      ),
      claimerLoop({ index: o.claimers + 1, seed: o.seed, repo, atc, pools, owners, going: () => claiming, violations, stats, behaviour: "dying", pauseMs: 200, fetchBeforeClaim: true }),
    ]);
    // Two clean loops, overlapping, default settings (one with a --cache-dir, one without).
    const loop = async (n: number, extra: string[]) => {
      while (cleaning()) {
        begun++;
        const run = await cleanOnce(n, env, extra);
        runs.push(run);
        if (process.env.POOL_BOY_CONTENTION_DEBUG) log(run.stderr.split("\n").filter((l) => /round|refused|judging|read /.test(l)).join("\n"));
        log(`  clean ${runs.length}/${o.runs} (loop ${n}): ${run.code === 0 ? `ok, ${run.attempts} attempt(s), ${run.released.length} released` : `FAILED (exit ${run.code}) after ${run.attempts} attempt(s)`}, ${(run.ms / 1000).toFixed(1)} s`);
      }
    };
    await Promise.all([loop(1, ["--cache-dir", join(cache, "cache")]), loop(2, [])]);
    claiming = false;
    const held = (await claimers).flat();

    // One last clean, alone: the dead builds' locks must all go now.
    const last = await cleanOnce(0, env, []);
    let violation: string | null = last.code === 0 ? null : `the last clean failed: ${last.stderr.split("\n").slice(-3).join(" ")}`;
    let deadLeft = 0;
    let commits = 0;
    let pushes = 0;
    let poolBoyReleases = 0;
    try {
      const history = await checkHistory(repo, { locks: LOCKS, owners, pushLog });
      await checkHead(repo, history, LOCKS);
      commits = history.commits.length;
      pushes = history.pushes;
      poolBoyReleases = history.poolBoyMoves.length;
      for (const key of history.claimedAtHead) {
        const owner = owners.get(history.claimCommitAtHead.get(key) ?? "");
        if (!owner || owner.finishedAt !== null) deadLeft++;
      }
      const running = new Set(held.map((h) => `${h.pool}/${h.lock}`));
      for (const key of history.claimedAtHead) if (!running.has(key)) violation ??= `${key} is claimed at the end, but not by a running build`;
      for (const key of running) if (!history.claimedAtHead.has(key)) violation ??= `${key}, held by a running build, was released`;
    } catch (err) {
      violation = err instanceof Error ? err.message.split("\n")[0] ?? err.message : String(err);
    }
    if (violations.length > 0) violation ??= violations[0] ?? null;

    const attempts = runs.map((r) => r.attempts);
    const histogram: Record<number, number> = {};
    for (const a of attempts) histogram[a] = (histogram[a] ?? 0) + 1;
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
    const failed = runs.filter((r) => r.code !== 0);
    return {
      runs: runs.length,
      failed: failed.length,
      failures: failed.map((r) => (r.stderr.split("\n").filter((l) => /error|refused \d+ times/i.test(l))[0] ?? r.stderr.split("\n")[0] ?? "").trim()),
      attempts: { mean: attempts.reduce((a, b) => a + b, 0) / Math.max(1, attempts.length), max: Math.max(0, ...attempts), histogram },
      ms: { median: ms[Math.floor(ms.length / 2)] ?? 0, max: ms[ms.length - 1] ?? 0 },
      claims: stats.claims,
      claimsLost: stats.claimsLost,
      releasesByOwners: stats.releases,
      deaths: stats.deaths,
      poolBoyReleases,
      violation,
      deadLeft,
      commits,
      pushes,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await atc.close();
    await repo.cleanup();
    await rm(cache, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number) => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? dflt : Number(argv[i + 1]);
  };
  const result = await contentionRun({
    runs: opt("runs", 25),
    claimers: opt("claimers", 4),
    latencyMs: opt("latency", 100),
    seed: opt("seed", 7),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
