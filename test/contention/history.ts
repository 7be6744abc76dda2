// The invariants of a pool repository's history under contention, checked over EVERY commit of
// the branch (one `git log --raw` replayed in memory, not one process per commit):
//
//   - the history is linear (the pool-resource rebases and Pool Boy only fast-forwards);
//   - in every commit's tree each lock of each pool exists exactly once: claimed XOR unclaimed,
//     no lock lost, none duplicated, none invented;
//   - a lock's content never changes (nobody here runs `update`): a move carries the bytes along;
//   - every Pool Boy commit is exactly one move claimed/ → unclaimed/ (no stray or empty commit,
//     never a claim);
//   - no Pool Boy commit moved a lock whose owner build was running when the commit was pushed:
//     the owner is the build the lock's claim commit names (the test registers it), and the push
//     time comes from an `update` hook in the bare repository (installed by installPushLog), so
//     "running at that time" is decided on one clock, not on commit dates.
//
// Plus the bookkeeping the tests assert on: the state at the branch head, the Pool Boy moves with
// their claim commits, and the pushes.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PoolRepo } from "../support/pool-repo.js";

/** Who holds a lock claimed by one claim commit, as the test set it up. */
export interface Owner {
  /** for messages: "aws-1 #7" */
  label: string;
  /** Date.now() before the build was set to a finished status; null: still running */
  finishedAt: number | null;
  /** a claim made by a person: no build, so nothing can be running */
  manual?: boolean;
}

export interface PoolBoyMove {
  commit: string;
  pool: string;
  lock: string;
  /** the commit that last put the lock into claimed/ */
  claimCommit: string;
  /** when the push that brought this commit arrived (ms, from the hook); null without a push log */
  pushedAt: number | null;
}

export interface HistoryReport {
  /** every commit of the branch, oldest first */
  commits: Array<{ sha: string; author: string; message: string }>;
  /** "pool/lock" of every claimed lock at the head */
  claimedAtHead: Set<string>;
  /** for each claimed lock at the head, the commit that claimed it */
  claimCommitAtHead: Map<string, string>;
  poolBoyMoves: PoolBoyMove[];
  /** successful pushes (ref updates that are part of the branch's history) */
  pushes: number;
}

const POOL_BOY = "Pool Boy <pool-boy@localhost>";

function git(repo: PoolRepo, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd: repo.path, env: repo.env, encoding: "buffer", maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(" ")}: ${stderr.toString("utf8").trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * An `update` hook in the bare repository that logs every ref update it is asked for: the time in
 * nanoseconds, the ref, old and new. It runs for the claimers' pushes and for Pool Boy's (a local
 * push runs the remote's receive-pack with the remote's hooks; Pool Boy's core.hooksPath setting
 * is passed as GIT_CONFIG_COUNT, which git clears for a local transport).
 */
export async function installPushLog(repo: PoolRepo): Promise<string> {
  const logFile = join(repo.root, "pushes.log");
  const hook = join(repo.path, "hooks", "update");
  await writeFile(hook, `#!/bin/sh\necho "$(date +%s%N) $1 $2 $3" >> '${logFile}'\nexit 0\n`);
  await chmod(hook, 0o755);
  await writeFile(logFile, "");
  return logFile;
}

interface RawChange {
  status: string;
  oldSha: string;
  newSha: string;
  path: string;
}

interface Commit {
  sha: string;
  parents: string[];
  author: string;
  message: string;
  changes: RawChange[];
}

async function readHistory(repo: PoolRepo): Promise<Commit[]> {
  const out = await git(repo, [
    "log",
    "--reverse",
    "--raw",
    "--no-renames",
    "--no-abbrev",
    "-z",
    "--root",
    "--format=%x01%H %P%x00%an <%ae>%x00%B%x00",
    `refs/heads/${repo.branch}`,
    "--",
  ]);
  const tokens = out.toString("utf8").split("\0");
  const commits: Commit[] = [];
  for (let i = 0; i < tokens.length; ) {
    const token = (tokens[i++] ?? "").replace(/^\n+/, "");
    if (token === "") continue;
    if (token.startsWith("\x01")) {
      const [sha = "", ...parents] = token.slice(1).trim().split(" ").filter(Boolean);
      const author = tokens[i++] ?? "";
      const message = (tokens[i++] ?? "").trimEnd();
      commits.push({ sha, parents, author, message, changes: [] });
      continue;
    }
    const current = commits[commits.length - 1];
    assert.ok(current && token.startsWith(":"), `unexpected git log output near ${JSON.stringify(token.slice(0, 80))}`);
    const [, , oldSha = "", newSha = "", status = ""] = token.slice(1).split(" ");
    current.changes.push({ status, oldSha, newSha, path: tokens[i++] ?? "" });
  }
  return commits;
}

/** sha → push time (ms) of the push that brought it, from the hook's log and the linear history. */
async function pushTimes(logFile: string, order: Map<string, number>, commits: Commit[]): Promise<{ times: Map<string, number>; pushes: number }> {
  const times = new Map<string, number>();
  let pushes = 0;
  const lines = (await readFile(logFile, "utf8")).split("\n").filter(Boolean);
  const zero = /^0+$/;
  for (const line of lines) {
    const [ns = "0", , oldSha = "", newSha = ""] = line.split(" ");
    const to = order.get(newSha);
    // An update that failed after the hook (a lost race for the ref) never became history.
    if (to === undefined) continue;
    const from = zero.test(oldSha) ? -1 : order.get(oldSha);
    if (from === undefined) continue;
    pushes++;
    const ms = Number(BigInt(ns) / 1_000_000n);
    for (let i = from + 1; i <= to; i++) {
      const sha = commits[i]?.sha;
      if (sha !== undefined && !times.has(sha)) times.set(sha, ms);
    }
  }
  return { times, pushes };
}

export interface CheckOptions {
  /** pool → every lock name it holds (the set never changes in these tests) */
  locks: Record<string, string[]>;
  /** claim commit sha → its owner; a claim by someone else than the tracked claimers fails the check */
  owners: Map<string, Owner>;
  /** the hook's log (installPushLog); without it push times are not checked */
  pushLog?: string;
}

/** Checks every commit; throws an AssertionError naming the commit and lock at the first violation. */
export async function checkHistory(repo: PoolRepo, options: CheckOptions): Promise<HistoryReport> {
  const commits = await readHistory(repo);
  assert.ok(commits.length > 0, "the branch has no commits");
  const order = new Map(commits.map((c, i) => [c.sha, i]));
  const { times, pushes } = options.pushLog ? await pushTimes(options.pushLog, order, commits) : { times: new Map<string, number>(), pushes: 0 };

  // path → blob, for the paths under the pools' claimed/ and unclaimed/ folders
  const tree = new Map<string, string>();
  // pool/lock → its blob (fixed by the first commit that holds it)
  const content = new Map<string, string>();
  // pool/lock → the commit that last moved it into claimed/
  const claimedBy = new Map<string, string>();
  const poolBoyMoves: PoolBoyMove[] = [];
  const lockOf = (path: string): { pool: string; lock: string; claimed: boolean } | null => {
    for (const pool of Object.keys(options.locks)) {
      for (const side of ["claimed", "unclaimed"] as const) {
        const prefix = `${pool}/${side}/`;
        if (path.startsWith(prefix) && !path.slice(prefix.length).startsWith(".")) return { pool, lock: path.slice(prefix.length), claimed: side === "claimed" };
      }
    }
    return null;
  };

  for (const [index, commit] of commits.entries()) {
    const where = `commit ${index + 1}/${commits.length} ${commit.sha.slice(0, 12)} (${commit.author}: ${JSON.stringify(commit.message.split("\n")[0])})`;
    assert.ok(commit.parents.length <= 1, `${where} is a merge: the history must stay linear`);
    if (index > 0) assert.equal(commit.parents[0], commits[index - 1]?.sha, `${where} does not follow the previous commit`);

    const moved: Array<{ pool: string; lock: string }> = [];
    for (const change of commit.changes) {
      const at = lockOf(change.path);
      if (change.status === "D") tree.delete(change.path);
      else tree.set(change.path, change.newSha);
      if (at) moved.push({ pool: at.pool, lock: at.lock });
    }

    // The whole state, after this commit: each lock exactly once, same bytes as always.
    for (const [pool, names] of Object.entries(options.locks)) {
      for (const name of names) {
        const key = `${pool}/${name}`;
        const claimed = tree.get(`${pool}/claimed/${name}`);
        const unclaimed = tree.get(`${pool}/unclaimed/${name}`);
        assert.ok(
          (claimed === undefined) !== (unclaimed === undefined),
          `${where}: lock ${key} is ${claimed && unclaimed ? "both claimed and unclaimed (duplicated)" : "neither claimed nor unclaimed (lost)"}`,
        );
        const blob = (claimed ?? unclaimed) as string;
        const first = content.get(key);
        if (first === undefined) content.set(key, blob);
        else assert.equal(blob, first, `${where}: the content of lock ${key} changed`);
      }
    }
    for (const path of tree.keys()) {
      const at = lockOf(path);
      if (at) assert.ok(options.locks[at.pool]?.includes(at.lock), `${where}: ${path} is not one of the pool's locks`);
    }

    // Who moved what. A lock that is now claimed was claimed by this commit when it moved here.
    const locksTouched = new Map(moved.map((m) => [`${m.pool}/${m.lock}`, m] as const));
    for (const [key, { pool, lock }] of locksTouched) {
      const nowClaimed = tree.has(`${pool}/claimed/${lock}`);
      const wasClaimed = claimedBy.has(key);
      if (commit.author === POOL_BOY) {
        assert.ok(wasClaimed && !nowClaimed, `${where}: Pool Boy moved ${key} the wrong way (claimed before: ${wasClaimed}, after: ${nowClaimed})`);
        const claimCommit = claimedBy.get(key) as string;
        poolBoyMoves.push({ commit: commit.sha, pool, lock, claimCommit, pushedAt: times.get(commit.sha) ?? null });
      }
      if (nowClaimed && !wasClaimed) claimedBy.set(key, commit.sha);
      if (!nowClaimed) claimedBy.delete(key);
    }
    if (commit.author === POOL_BOY) {
      assert.equal(locksTouched.size, 1, `${where}: a Pool Boy commit must move exactly one lock, this one touches ${[...locksTouched.keys()].join(", ") || "none"}`);
      assert.equal(commit.changes.length, 2, `${where}: a Pool Boy commit must change exactly two paths (one move)`);
      const [only] = [...locksTouched.values()];
      assert.equal(commit.message.split("\n")[0], `unclaiming: ${only?.lock}`, `${where}: the release message`);
    }
  }

  // Owners: a Pool Boy move never takes a lock from a build that was running at push time.
  for (const move of poolBoyMoves) {
    const owner = options.owners.get(move.claimCommit);
    const what = `Pool Boy commit ${move.commit.slice(0, 12)} released ${move.pool}/${move.lock}`;
    assert.ok(owner, `${what}, claimed by ${move.claimCommit.slice(0, 12)}, a claim the test did not make`);
    if (owner.manual) continue;
    assert.ok(owner.finishedAt !== null, `${what} while its owner ${owner.label} is still running`);
    if (options.pushLog) {
      assert.ok(move.pushedAt !== null, `${what}: no push brought that commit (the hook's log is incomplete)`);
      assert.ok(
        owner.finishedAt <= move.pushedAt,
        `${what} at ${move.pushedAt}, while its owner ${owner.label} was still running (it finished at ${owner.finishedAt})`,
      );
    }
  }

  const claimedAtHead = new Set<string>(claimedBy.keys());
  return {
    commits: commits.map((c) => ({ sha: c.sha, author: c.author, message: c.message })),
    claimedAtHead,
    claimCommitAtHead: new Map(claimedBy),
    poolBoyMoves,
    pushes,
  };
}

/** Cross-checks the replay against git's own view of the head, and that only the branch was pushed. */
export async function checkHead(repo: PoolRepo, report: HistoryReport, locks: Record<string, string[]>): Promise<void> {
  const files = (await git(repo, ["ls-tree", "-r", "-z", "--name-only", "--full-tree", `refs/heads/${repo.branch}`])).toString("utf8").split("\0");
  const claimed = new Set<string>();
  for (const [pool, names] of Object.entries(locks)) for (const name of names) if (files.includes(`${pool}/claimed/${name}`)) claimed.add(`${pool}/${name}`);
  assert.deepEqual([...claimed].sort(), [...report.claimedAtHead].sort(), "the replayed history ends where the branch is");
  const refs = (await git(repo, ["for-each-ref", "--format=%(refname)"])).toString("utf8").split("\n").filter(Boolean);
  assert.deepEqual(refs, [`refs/heads/${repo.branch}`], "nothing but the branch was pushed (no scratch ref, no stray branch)");
}

/** The environment of a `pool-boy clean` in these tests: the original Pool Boy's variables, git isolated. */
export function cliEnv(repo: PoolRepo, atc: { url: string }, user: { username: string; password: string }): Record<string, string> {
  return {
    POOL_REPO: repo.path,
    POOLS: "aws:2h,gcp:2h",
    CONCOURSE_BASE_URL: atc.url,
    CONCOURSE_USERNAME: user.username,
    CONCOURSE_PASSWORD: user.password,
    POOL_BOY_API_RETRIES: "1",
    HOME: repo.env.HOME ?? repo.root,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: join(repo.root, "no-global-gitconfig"),
  };
}
