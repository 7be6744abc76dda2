// The contention workload shared by the soak test and the benchmark's contention run: builds that
// claim and release locks the way the pool-resource does (registered in the fake ATC, running while
// they hold a lock), builds that die holding their lock, and `clean` loops (the built CLI, spawned
// again and again). The history they leave is checked by history.ts.

import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Claimer, PoolRepo } from "../support/pool-repo.js";
import type { FakeAtc } from "../support/atc-server.js";
import type { BuildStatus } from "../../src/core/model.js";
import { json, poolBoy } from "../support/cli.js";
import type { Owner } from "./history.js";
import { prng } from "../support/prng.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function git(repo: PoolRepo, cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("git", args, { cwd, env: repo.env }, (err, stdout, stderr) => (err ? reject(new Error(`git ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout))),
  );
}

export const DEATHS: BuildStatus[] = ["failed", "errored", "aborted", "succeeded"];

export interface Held {
  pool: string;
  lock: string;
  buildId: number;
  name: string;
  oneOff: boolean;
  sha: string;
  owner: Owner;
}

export interface ClaimerStats {
  claims: number;
  claimsLost: number;
  releases: number;
  deaths: number;
  releaseRetries: number;
}

export function newClaimerStats(): ClaimerStats {
  return { claims: 0, claimsLost: 0, releases: 0, deaths: 0, releaseRetries: 0 };
}

export interface ClaimerOptions {
  index: number;
  seed: number;
  repo: PoolRepo;
  atc: FakeAtc;
  /** the pools and their locks */
  pools: string[];
  owners: Map<string, Owner>;
  going: () => boolean;
  violations: string[];
  stats: ClaimerStats;
  /**
   * mixed: claim, hold, then release and succeed or die holding it (the soak);
   * churn: claim and release, never die (a busy pipeline); dying: claim and die holding it
   */
  behaviour: "mixed" | "churn" | "dying";
  /** the longest pause between two steps, ms (default 60) */
  pauseMs?: number;
  /** fetch the branch before each claim, as the pool-resource's `acquire` does (default: claim on the clone's last view) */
  fetchBeforeClaim?: boolean;
}

/** One pool-resource user. Resolves the locks its builds still hold (running) at the end. */
export async function claimerLoop(o: ClaimerOptions): Promise<Held[]> {
  const { repo, atc, owners, stats, violations } = o;
  const c: Claimer = await repo.claimer();
  const rng = prng(o.seed + o.index);
  const held: Held[] = [];
  const job = `claimer-${o.index}`;
  const pause = o.pauseMs ?? 60;
  const resync = async () => {
    await git(repo, c.dir, ["fetch", "--quiet", "origin"]);
    await git(repo, c.dir, ["reset", "--quiet", "--hard", `origin/${repo.branch}`]);
  };
  /** The sha of the commit that last touched `path` with `message`, if it is the branch's newest for it. */
  const landed = async (path: string, message: string): Promise<string | null> => {
    const out = await git(repo, c.dir, ["log", "-1", "--format=%H%x00%B", `origin/${repo.branch}`, "--", path]);
    const [sha = "", body = ""] = out.split("\0");
    return body.trim() === message.trim() && sha ? sha : null;
  };

  for (let n = 0; o.going(); n++) {
    if (held.length < 2 && (held.length === 0 || rng() < 0.5)) {
      const pool = o.pools[Math.floor(rng() * o.pools.length)] as string;
      if (o.fetchBeforeClaim) await resync();
      const free = (await readdir(join(c.dir, pool, "unclaimed"))).filter((name) => !name.startsWith(".")).sort();
      if (free.length === 0) {
        await resync();
        await sleep(50 + rng() * 100);
        continue;
      }
      const lock = free[Math.floor(rng() * free.length)] as string;
      const format = n % 3;
      const build = format === 2 ? atc.addBuild({ team: "main", pipeline: null, status: "started" }) : atc.addBuild({ team: "main", pipeline: "soak", job, status: "started" });
      const message =
        format === 0
          ? `main/soak/${job} build ${build.name} claiming: ${lock}`
          : format === 1
            ? `claiming: ${lock}\nBuild URL: ${atc.url}/teams/main/pipelines/soak/jobs/${job}/builds/${build.name}`
            : `one-off build ${build.id} claiming: ${lock}`;
      const owner: Owner = { label: format === 2 ? `one-off #${build.id}` : `${job} #${build.name}`, finishedAt: null };
      let sha: string | null;
      try {
        sha = await c.claim(pool, lock, message);
      } catch {
        // Someone else took it first (or the pushes kept losing): the pool-resource gives up too.
        await resync();
        sha = await landed(`${pool}/claimed/${lock}`, message);
      }
      if (sha === null) {
        stats.claimsLost++;
        atc.setStatus(build.id, "errored");
        continue;
      }
      stats.claims++;
      owners.set(sha, owner);
      held.push({ pool, lock, buildId: build.id, name: build.name, oneOff: format === 2, sha, owner });
    } else if (held.length > 0) {
      const h = held.splice(Math.floor(rng() * held.length), 1)[0] as Held;
      const releases = o.behaviour === "churn" || (o.behaviour === "mixed" && rng() < 0.4);
      if (releases) {
        // The build releases its lock, then succeeds. Its lock must still be claimed: nobody may
        // have released it while it was running.
        const message = h.oneOff ? `one-off build ${h.buildId} unclaiming: ${h.lock}` : `main/soak/${job} build ${h.name} unclaiming: ${h.lock}`;
        for (let attempt = 1; ; attempt++) {
          try {
            await c.release(h.pool, h.lock, message);
            break;
          } catch (err) {
            await resync();
            if (await landed(`${h.pool}/unclaimed/${h.lock}`, message)) break;
            const stillMine =
              (await git(repo, c.dir, ["log", "-1", "--format=%H", `origin/${repo.branch}`, "--", `${h.pool}/claimed/${h.lock}`])).trim() === h.sha &&
              (await readdir(join(c.dir, h.pool, "claimed"))).includes(h.lock);
            if (!stillMine) {
              violations.push(`${h.pool}/${h.lock}, held by the running ${h.owner.label}, was taken away before its release: ${String(err).split("\n")[0]}`);
              break;
            }
            stats.releaseRetries++;
            if (attempt >= 10) throw err;
          }
        }
        h.owner.finishedAt = Date.now();
        atc.setStatus(h.buildId, "succeeded");
        stats.releases++;
      } else {
        // The build dies holding the lock (or succeeds with nobody downstream to take it).
        h.owner.finishedAt = Date.now();
        atc.setStatus(h.buildId, DEATHS[Math.floor(rng() * DEATHS.length)] as BuildStatus);
        stats.deaths++;
      }
    }
    await sleep(rng() * pause);
  }
  return held;
}

export interface CleanRun {
  loop: number;
  code: number;
  released: string[];
  commits: string[];
  attempts: number;
  refusedTooOften: boolean;
  ms: number;
  stderr: string;
}

/** `clean --json` again and again while going(), or `runs` times; every run recorded. */
export async function cleanLoop(loop: number, env: Record<string, string>, extra: string[], going: () => boolean, runs: CleanRun[]): Promise<void> {
  while (going()) runs.push(await cleanOnce(loop, env, extra));
}

export async function cleanOnce(loop: number, env: Record<string, string>, extra: string[]): Promise<CleanRun> {
  const started = Date.now();
  const run = await poolBoy(["clean", "--json", "--verbose", ...extra], env, { timeoutMs: 120_000 });
  const ms = Date.now() - started;
  const refusedTooOften = run.code === 3 && /refused \d+ times/.test(run.stderr);
  if (run.code === 0) {
    const report = json(run);
    return {
      loop,
      code: 0,
      released: (report.released ?? []).map((r) => `${r.pool}/${r.name}`),
      commits: report.commits ?? [],
      attempts: report.attempts ?? 1,
      refusedTooOften,
      ms,
      stderr: run.stderr,
    };
  }
  const attempts = Number(/refused (\d+) times/.exec(run.stderr)?.[1] ?? 0);
  return { loop, code: run.code, released: [], commits: [], attempts, refusedTooOften, ms, stderr: run.stderr };
}
