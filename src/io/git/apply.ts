// Writes the release commits and pushes them. Three git processes whatever the number of moves:
// ls-tree (check the plan against the base), fast-import (all commits) and push (one update of
// the branch). The push is a plain fast-forward update: it either moves the branch to the last
// commit, taking every commit of the plan with it, or changes nothing.

import { randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { PoolBoyError } from "../../core/errors.js";
import { explainGitFailure } from "./transport.js";
import type { ApplyOutcome, ReleaseMove, ReleasePlan } from "../../core/model.js";
import { firstLines, GitCommandError, runGit, type GitResult } from "./git.js";
import { listTree, type TreeEntry } from "./scan.js";
import type { SyncedRepo } from "./sync.js";

export const RELEASE_IDENTITY = "Pool Boy <pool-boy@localhost>";
// fast-import needs a ref to write to. It is local scratch space, never pushed by name, and each
// run has its own, deleted again at the end of the same stream: two runs sharing a --cache-dir
// must never write (or lock) the same ref, nor read each other's marks file, which is why that is
// per run too. --force is about this ref only.
const SCRATCH_REF = "refs/pool-boy/release-";
const MARKS_FILE = "pool-boy-release-";

// A rejected push whose reason is another writer: the branch moved under us ([rejected]: fetch
// first / non-fast-forward), or the server lost a race for the ref lock ([remote rejected]). Any
// other [remote rejected] (a hook, branch protection, permissions) will not go away by retrying.
const REMOTE_RACE = /cannot lock ref|failed to (update|lock) ref|incorrect old value|is at [0-9a-f]+ but expected|fetch first|non-fast-forward|stale info|reference already exists/i;

/** tree: the base's tree as the scan read it (saves reading it again); read here when absent or of another commit. */
export async function applyRelease(repo: SyncedRepo, plan: ReleasePlan, tree?: { commit: string; entries: TreeEntry[] }): Promise<ApplyOutcome> {
  if (plan.moves.length === 0) return { pushed: false, reason: "nothing-to-do", detail: "no lock to release" };
  return pushRelease(repo, plan, await writeRelease(repo, plan, tree));
}

/**
 * The first half of applyRelease: checks the plan against its base and writes its commits (local
 * objects only, no ref moves). Returns the commits in order.
 */
export async function writeRelease(repo: SyncedRepo, plan: ReleasePlan, tree?: { commit: string; entries: TreeEntry[] }): Promise<string[]> {
  if (plan.moves.length === 0) return [];
  // A plan made on another head or branch is a bug in the caller, not a state of the world.
  if (plan.base !== repo.head) throw new Error(`release plan is based on ${plan.base}, but the synced head is ${repo.head}`);
  if (plan.branch !== repo.branch) throw new Error(`release plan is for branch ${plan.branch}, but ${repo.branch} was synced`);
  const sources = await checkPlan(repo, plan, tree?.commit === plan.base ? tree.entries : undefined);
  return writeCommits(
    repo,
    plan.base,
    plan.moves.map((move, i) => {
      const source = sources[i] as TreeEntry;
      // The blob is referenced by its id, so the content moves byte for byte (and keeps its mode).
      const changes =
        `M ${source.mode} ${source.sha} ${quotePath(move.to)}\nD ${quotePath(move.from)}\n` +
        // an empty file that keeps claimed/ when this commit moves its last lock out
        (move.gitkeep === undefined ? "" : `M 100644 inline ${quotePath(move.gitkeep)}\ndata 0\n`);
      return { message: move.message, changes };
    }),
  );
}

/** The second half: pushes the commits writeRelease wrote for this very plan (a fast-forward from its base, or nothing). */
export async function pushRelease(repo: SyncedRepo, plan: ReleasePlan, commits: string[]): Promise<ApplyOutcome> {
  if (plan.moves.length === 0 || commits.length === 0) return { pushed: false, reason: "nothing-to-do", detail: "no lock to release" };
  if (plan.base !== repo.head) throw new Error(`release plan is based on ${plan.base}, but the synced head is ${repo.head}`);
  if (commits.length !== plan.moves.length) throw new Error(`${commits.length} commits for a plan of ${plan.moves.length} moves`);
  const tip = commits[commits.length - 1] as string;
  const outcome = await push(repo, plan.branch, tip);
  if ("pushed" in outcome) return outcome;
  repo.head = tip;
  // The branch was at one of our own commits already: another run wrote the same first commits
  // and pushed them first. Those releases are its own; this run reports only what it added.
  const from = outcome.oldTip === null ? 0 : commits.findIndex((c) => c.startsWith(outcome.oldTip as string)) + 1;
  return { pushed: true, commits: commits.slice(from), from };
}

/** The blob each move takes along, after checking every move against the base tree. */
async function checkPlan(repo: SyncedRepo, plan: ReleasePlan, known?: TreeEntry[]): Promise<TreeEntry[]> {
  let entries: TreeEntry[];
  try {
    entries = known ?? (await listTree(repo.target, plan.base));
  } catch (err) {
    throw gitFailure(repo, `cannot read ${plan.base.slice(0, 12)}`, err, "run again");
  }
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const seen = new Set<string>();
  const refuse = (move: ReleaseMove, why: string) =>
    new PoolBoyError(
      "git",
      `refusing to release ${move.pool}/${move.name}: ${why} at ${plan.base.slice(0, 12)} of ${repo.display} (${plan.branch})`,
      "nothing was pushed; the repository is not in the state the plan expects: run again to judge it afresh",
    );

  return plan.moves.map((move) => {
    for (const path of [move.from, move.to]) {
      const problem = pathProblem(path);
      if (problem) throw refuse(move, `"${path}" ${problem}`);
      if (seen.has(path)) throw refuse(move, `${path} is part of another move of the same plan`);
      seen.add(path);
    }
    const source = byPath.get(move.from);
    if (!source) throw refuse(move, `${move.from} does not exist`);
    if (source.type !== "blob" || source.mode === "120000") throw refuse(move, `${move.from} is not a regular file`);
    if (byPath.has(move.to)) throw refuse(move, `${move.to} already exists`);
    if (move.gitkeep !== undefined) {
      // Only ever the pool's own claimed/.gitkeep, and only where there is none.
      if (move.gitkeep !== `${move.pool}/claimed/.gitkeep`) throw refuse(move, `"${move.gitkeep}" is not ${move.pool}/claimed/.gitkeep`);
      if (seen.has(move.gitkeep)) throw refuse(move, `${move.gitkeep} is part of another move of the same plan`);
      seen.add(move.gitkeep);
      if (byPath.has(move.gitkeep)) throw refuse(move, `${move.gitkeep} already exists`);
    }
    const parts = move.to.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = byPath.get(parts.slice(0, i).join("/"));
      if (dir && dir.type !== "tree") throw refuse(move, `${dir.path} is a file, so ${move.to} cannot be created`);
    }
    return source;
  });
}

function pathProblem(path: string): string | null {
  if (path === "" || path.startsWith("/") || path.endsWith("/")) return "is not a relative file path";
  if (path.includes("\0")) return "contains a NUL byte";
  if (path.split("/").some((part) => part === "" || part === "." || part === ".." || part === ".git")) {
    return "has an empty, '.', '..' or '.git' component";
  }
  return null;
}

/**
 * One commit outside every pool's folder (a hold, an unhold): written and pushed like a release,
 * a fast-forward of `base` or nothing. Only paths under .pool-boy/ are accepted.
 */
export interface RepoEdit {
  base: string;
  branch: string;
  message: string;
  write?: { path: string; content: string };
  remove?: string;
}

export async function applyEdit(repo: SyncedRepo, edit: RepoEdit): Promise<ApplyOutcome> {
  if (edit.base !== repo.head) throw new Error(`edit is based on ${edit.base}, but the synced head is ${repo.head}`);
  if (edit.branch !== repo.branch) throw new Error(`edit is for branch ${edit.branch}, but ${repo.branch} was synced`);
  const paths = [edit.write?.path, edit.remove].filter((p): p is string => p !== undefined);
  for (const path of paths) {
    const problem = pathProblem(path) ?? (path.startsWith(".pool-boy/") ? null : "is not under .pool-boy/");
    if (problem) throw new Error(`edit path "${path}" ${problem}`);
  }
  let changes = "";
  if (edit.write) {
    const data = Buffer.from(edit.write.content, "utf8");
    changes += `M 100644 inline ${quotePath(edit.write.path)}\ndata ${data.length}\n${edit.write.content}\n`;
  }
  if (edit.remove) changes += `D ${quotePath(edit.remove)}\n`;
  const commits = await writeCommits(repo, edit.base, [{ message: edit.message, changes }]);
  const tip = commits[0] as string;
  const outcome = await push(repo, edit.branch, tip);
  if ("pushed" in outcome) return outcome;
  repo.head = tip;
  return { pushed: true, commits, from: 0 };
}

/** One fast-import run: the commits chained on the base. Returns the commits in order. */
async function writeCommits(repo: SyncedRepo, base: string, specs: Array<{ message: string; changes: string }>): Promise<string[]> {
  const when = `${Math.floor(Date.now() / 1000)} +0000`;
  const unique = `${process.pid}-${randomBytes(6).toString("hex")}`;
  const ref = `${SCRATCH_REF}${unique}`;
  const parts: Buffer[] = [Buffer.from("feature done\n")];
  specs.forEach((spec, i) => {
    const message = Buffer.from(spec.message.endsWith("\n") ? spec.message : `${spec.message}\n`, "utf8");
    parts.push(
      Buffer.from(
        `commit ${ref}\nmark :${i + 1}\n` +
          `author ${RELEASE_IDENTITY} ${when}\ncommitter ${RELEASE_IDENTITY} ${when}\n` +
          `data ${message.length}\n`,
      ),
      message,
      Buffer.from(`\nfrom ${i === 0 ? base : `:${i}`}\n`),
      Buffer.from(`${spec.changes}\n`, "utf8"),
    );
  });
  // The commits are known from the marks; `reset` without `from` drops the scratch ref again.
  // Without the final "done" (a stream cut short), fast-import fails.
  parts.push(Buffer.from(`reset ${ref}\n\ndone\n`));

  const marks = join(repo.gitDir, `${MARKS_FILE}${unique}.marks`);
  try {
    await runGit(repo.target, ["fast-import", "--quiet", "--force", `--export-marks=${marks}`], {
      input: Buffer.concat(parts),
    });
    const text = await readFile(marks, "utf8");
    const bymark = new Map(
      text
        .split("\n")
        .map((line) => line.split(" "))
        .filter((f): f is [string, string] => f.length === 2)
        .map(([mark, sha]) => [mark, sha]),
    );
    return specs.map((_m, i) => {
      const sha = bymark.get(`:${i + 1}`);
      if (!sha) throw new Error(`fast-import did not report commit :${i + 1}`);
      return sha;
    });
  } catch (err) {
    throw gitFailure(repo, "cannot write the release commits", err, "nothing was pushed; run again");
  } finally {
    await rm(marks, { force: true });
  }
}

/**
 * fast-import's C-style quoted path: any path, including spaces, quotes and newlines. Only ASCII
 * is escaped; other characters stay as they are and reach fast-import as their UTF-8 bytes.
 */
function quotePath(path: string): string {
  const escaped = path.replace(/["\\\x00-\x1f\x7f]/g, (c) => {
    if (c === '"' || c === "\\") return `\\${c}`;
    if (c === "\n") return "\\n";
    return `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`;
  });
  return `"${escaped}"`;
}

/**
 * `oldTip` (abbreviated, as git prints it) when pushed; the outcome when the branch moved
 * meanwhile; throws on other failures.
 */
async function push(repo: SyncedRepo, branch: string, tip: string): Promise<ApplyOutcome | { oldTip: string | null }> {
  // No "+" and no --force: the remote accepts this only as a fast-forward of what we based on.
  // --no-verify: a pre-push hook from a global core.hooksPath has no business here.
  const args = ["push", "--porcelain", "--no-verify", "origin", `${tip}:refs/heads/${branch}`];
  let result: GitResult;
  try {
    result = await runGit(repo.target, args, { allowFailure: true });
  } catch (err) {
    throw gitFailure(repo, "cannot push", err, "check that git works on this machine");
  }
  if (result.code === 0) {
    // "=": the branch was at our tip already. Another run wrote the very same commits (same base,
    // same plan, same second) and pushed them first: they are its releases, not ours to report.
    if (/^=\t/m.test(result.stdout.toString("utf8"))) {
      return { pushed: false, reason: "non-fast-forward", detail: `${branch} already had these exact commits: another run pushed the same release first`, alreadyThere: true };
    }
    // " \tSRC:DST\tOLD..NEW" for a fast-forward.
    const range = /^ \t[^\t]*\t([0-9a-f]{4,})\.\.[0-9a-f]{4,}/m.exec(result.stdout.toString("utf8"));
    return { oldTip: range?.[1] ?? null };
  }

  const rejected = /^!\t[^\t]*\t(.*)$/m.exec(result.stdout.toString("utf8"))?.[1]?.trim();
  if (rejected && (rejected.startsWith("[rejected]") || REMOTE_RACE.test(rejected))) {
    return { pushed: false, reason: "non-fast-forward", detail: `${branch} moved since ${repo.head.slice(0, 12)}: ${rejected}` };
  }
  if (rejected) {
    throw new PoolBoyError(
      "git",
      `${repo.display} refused the push to ${branch}: ${rejected}`,
      "nothing was pushed; the remote refused the update (a hook, branch protection or missing write access)",
    );
  }
  throw gitFailure(
    repo,
    `cannot push to ${branch}`,
    new GitCommandError(args, result.code, result.stderr),
    "check write access and credentials; the next run sees whatever state the repository is in",
  );
}

function gitFailure(repo: SyncedRepo, what: string, err: unknown, hint: string): PoolBoyError {
  // A refused key or token, a read-only deploy key, an unknown host key…: the transport says
  // what it is and how to fix it, as it does for the fetch.
  if (err instanceof GitCommandError) {
    const explained = explainGitFailure(err.stderr, repo.display);
    if (explained.cause !== "other") return new PoolBoyError("git", `${what}: ${explained.message}`, `nothing was pushed; ${explained.hint}`, { cause: err });
  }
  const detail = err instanceof GitCommandError ? firstLines(err.stderr) : err instanceof Error ? err.message : String(err);
  return new PoolBoyError("git", `${what} (${repo.display}): ${detail}`, hint, { cause: err });
}
