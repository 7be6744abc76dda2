// Brings the pool repository's branch into a local bare repository. Nothing here needs a
// working tree: the scan reads trees and history from objects, and the release writes commits
// with fast-import, so a bare repository (git init --bare + one fetch of one branch) is enough
// and is cheaper than a clone with a checkout.
//
// The remote's URL is never written to disk nor put on a command line (either would leak
// credentials embedded in it): each git process gets it as `remote.origin.url` through
// GIT_CONFIG_COUNT/KEY/VALUE variables. The cache remembers only the URL without credentials,
// to recognise the repository it holds.

import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { mkdirs } from "../mkdirs.js";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { PoolBoyError } from "../../core/errors.js";
import { safeUrl } from "../../core/redact.js";
import { cleanGitEnv, configEnv, firstLines, GitCommandError, gitText, type GitTarget } from "./git.js";
import { explainGitFailure } from "./transport.js";
import { lockCache } from "./cache-lock.js";

export interface SyncOptions {
  /** any git URL or a local path (bare or not) */
  url: string;
  /** null: the remote's default branch */
  branch: string | null;
  /** null: a temporary clone removed by cleanup() */
  cacheDir: string | null;
  /**
   * the whole environment for git (the transport's: it leaves out pool-boy's secret variables,
   * so it is not merged over process.env)
   */
  env: Record<string, string>;
  /** masks the run's secrets in git's stderr (Redactor.outside) */
  mask?: (text: string) => string;
  log?: (line: string) => void;
}

export interface SyncedRepo {
  /** the repository as given, credentials removed: fit for messages */
  readonly display: string;
  readonly branch: string;
  /** the branch head as last fetched (updated by refresh() and by a successful release) */
  head: string;
  /** the local bare repository */
  readonly gitDir: string;
  /** how to run git against gitDir with the remote configured as `origin` */
  readonly target: GitTarget;
  /** true when gitDir is a cache kept between runs */
  readonly cached: boolean;
  /** removes a temporary clone; leaves a cache in place */
  cleanup(): Promise<void>;
}

/** The local ref the branch is fetched into. */
function trackingRef(branch: string): string {
  return `refs/remotes/origin/${branch}`;
}

const CACHE_MARKER = "pool-boy-cache";
// Present while a fetch into the cache is under way; found at the start of a run, it means a
// previous run was interrupted, and the cache gets the full connectivity check.
const SYNC_MARKER = "pool-boy-sync-in-progress";
const IDENTITY_KEY = "poolboy.url";

/** How long a run waits for another run's hold on the same --cache-dir. */
const CACHE_LOCK_WAIT_MS = 5 * 60_000;

export async function syncRepo(options: SyncOptions): Promise<SyncedRepo> {
  const log = options.log ?? (() => undefined);
  const url = localPathToAbsolute(options.url);
  const display = safeUrl(options.url);
  const wanted = options.branch === null || options.branch === "" ? null : checkBranchName(options.branch);

  const cacheDir = options.cacheDir || null;
  const cached = cacheDir !== null;
  const gitDir = cacheDir !== null ? resolve(cacheDir) : await mkdtemp(join(tmpdir(), "pool-boy-"));
  const target: GitTarget = {
    cwd: gitDir,
    ...(options.mask ? { mask: options.mask } : {}),
    env: configEnv(
      // GIT_DIR, not a discovered repository: a cache dir inside some other repository must never
      // make git use that one, and `safe.bareRepository=explicit` accepts an explicit GIT_DIR.
      { ...cleanGitEnv(options.env), GIT_DIR: gitDir },
      {
        "remote.origin.url": url,
        // Hooks from a global core.hooksPath must not run in pool-boy's own repository.
        "core.hooksPath": "/dev/null",
        // Background maintenance would outlive pool-boy (and a temporary clone): run it in the
        // foreground for a cache, not at all for a temporary clone.
        "gc.autoDetach": "false",
        "maintenance.autoDetach": "false",
        ...(cached ? {} : { "gc.auto": "0", "maintenance.auto": "false" }),
        // git's cache of delta bases (96 MB by default) is most of the peak memory of the history
        // walk and of a fetch's connectivity check on a big pool repository (150-190 MB at 100,000
        // commits, 70-80 MB with 8 MB; no slower: see the README's benchmark section).
        "core.deltaBaseCacheLimit": "8m",
      },
    ),
  };
  // The cache and its lock live in the cache's parent, made with its parents on the first run.
  if (cached) await makeCacheParent(gitDir);
  // A cache is one run's at a time, until cleanup(): its fetches, rebuilds and release commits.
  const unlock = cached ? await lockCache(gitDir, { waitMs: CACHE_LOCK_WAIT_MS, log }) : async () => undefined;
  const cleanup = cached ? unlock : () => rm(gitDir, { recursive: true, force: true });

  try {
    if (cached) {
      await openCache(gitDir, target, repoIdentity(url), log);
    } else {
      await initBare(target, null);
    }
    const branch = wanted ?? (await defaultBranch(target, display));
    log(cached ? `fetching ${display} (${branch}) into the cache ${gitDir}` : `cloning ${display} (${branch})`);
    const head = await fetchBranch(target, branch, display, cached);
    return { display, branch, head, gitDir, target, cached, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Fetch the branch again (after a lost push race); returns and records the new head. */
export async function refresh(repo: SyncedRepo): Promise<string> {
  repo.head = await fetchBranch(repo.target, repo.branch, repo.display, repo.cached);
  return repo.head;
}

async function fetchBranch(target: GitTarget, branch: string, display: string, cached: boolean): Promise<string> {
  const ref = trackingRef(branch);
  const marker = join(target.cwd, SYNC_MARKER);
  // Removed in `finally`: only a run that was killed mid-fetch leaves the marker behind; a fetch
  // that git itself reported as failed left the repository consistent.
  if (cached) await writeFile(marker, "a pool-boy fetch is under way (or was interrupted)\n");
  try {
    try {
      await gitText(target, [
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-recurse-submodules",
        "origin",
        `+refs/heads/${branch}:${ref}`,
      ]);
    } catch (err) {
      if (err instanceof GitCommandError && /couldn't find remote ref/i.test(err.stderr)) {
        throw await missingBranch(target, branch, display);
      }
      throw unreadable(display, branch, err);
    }
    try {
      return (await gitText(target, ["rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`])).trim();
    } catch (err) {
      throw unreadable(display, branch, err);
    }
  } finally {
    if (cached) await rm(marker, { force: true });
  }
}

async function defaultBranch(target: GitTarget, display: string): Promise<string> {
  let out: string;
  try {
    out = await gitText(target, ["ls-remote", "--symref", "origin", "HEAD"]);
  } catch (err) {
    throw unreadable(display, null, err);
  }
  const match = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out);
  if (!match?.[1]) {
    throw new PoolBoyError(
      "git",
      `cannot tell the default branch of ${display}: its HEAD names no branch (is the repository empty?)`,
      "name the branch with --branch (or POOL_REPO_BRANCH)",
    );
  }
  return checkBranchName(match[1]);
}

async function missingBranch(target: GitTarget, branch: string, display: string): Promise<PoolBoyError> {
  let branches: string[] = [];
  try {
    const out = await gitText(target, ["ls-remote", "--heads", "origin"]);
    branches = [...out.matchAll(/\trefs\/heads\/(.+)$/gm)].map((m) => m[1] ?? "").filter(Boolean);
  } catch {
    // The branch list only improves the hint.
  }
  const shown = branches.slice(0, 10).join(", ") + (branches.length > 10 ? `, … (${branches.length} in all)` : "");
  return new PoolBoyError(
    "git",
    `branch "${branch}" does not exist in ${display}`,
    branches.length
      ? `check the configured branch; the repository has: ${shown}`
      : "check the configured branch; the repository has no branches",
  );
}

function unreadable(display: string, branch: string | null, err: unknown): PoolBoyError {
  const what = `cannot read the pool repository ${display}${branch ? ` (branch ${branch})` : ""}`;
  if (err instanceof GitCommandError) {
    // The transport's explanation (as in its gitFailure()) says what went wrong and how to fix it:
    // an unknown SSH host key, a refused key or token, TLS, DNS… `display` has no credentials but
    // keeps host and port, which is all the explanation needs from the URL.
    const explained = explainGitFailure(err.stderr, display);
    if (explained.cause !== "other") return new PoolBoyError("git", `${what}: ${explained.message}`, explained.hint, { cause: err });
  }
  const detail = err instanceof GitCommandError ? firstLines(err.stderr) : err instanceof Error ? err.message : "";
  return new PoolBoyError(
    "git",
    `${what}${detail ? `: ${detail}` : ""}`,
    "check the repository URL, that its credentials are set and valid, and that this machine can reach it",
    { cause: err },
  );
}

// ---- the cache ----

async function openCache(dir: string, target: GitTarget, identity: string, log: (line: string) => void): Promise<void> {
  const entries = await listDir(dir);
  if (entries === null || entries.length === 0) {
    await initBare(target, identity);
    return;
  }
  // The cache is deleted when it is damaged: never do that to a directory that is not ours (the
  // marker is written before anything else, so an interrupted first run still left it).
  if (!entries.includes(CACHE_MARKER)) {
    throw new PoolBoyError(
      "config",
      `the cache directory ${dir} is not empty and is not a pool-boy cache`,
      "use a new or empty directory for the cache: pool-boy rebuilds it when it is damaged, so it must hold nothing else",
    );
  }
  const problem = await cacheProblem(target, identity, entries.includes(SYNC_MARKER));
  if (problem === null) return;
  log(`the cache ${dir} ${problem}; rebuilding it`);
  await rm(dir, { recursive: true, force: true });
  await initBare(target, identity);
}

/** Why the cache cannot be used, or null. Cheap unless the previous run was interrupted. */
async function cacheProblem(target: GitTarget, identity: string, interrupted: boolean): Promise<string | null> {
  let stored: string;
  try {
    stored = (await gitText(target, ["config", "--get", IDENTITY_KEY])).trim();
  } catch (err) {
    if (err instanceof GitCommandError && err.exitCode === 1) return "does not say which repository it holds";
    return `is not a readable git repository (${describe(err)})`;
  }
  if (stored !== identity) return `holds another repository (${safeUrl(stored)})`;
  try {
    // Every fetched tip with its whole tree and blobs (what scan and release read first). The full
    // history walk (fsck) costs seconds on a large repository, so it is kept for the case where a
    // previous run stopped in the middle of a fetch.
    await gitText(
      target,
      interrupted
        ? ["fsck", "--connectivity-only", "--no-dangling", "--no-progress"]
        : ["rev-list", "--objects", "--no-walk", "--all", "--quiet"],
    );
  } catch (err) {
    return `is damaged (${describe(err)})`;
  }
  return null;
}

async function initBare(target: GitTarget, identity: string | null): Promise<void> {
  await mkdirs(target.cwd, { given: `the clone's folder ${target.cwd}`, hint: "choose a --cache-dir (POOL_BOY_CACHE_DIR) in a directory this user can write" });
  if (identity !== null) {
    await writeFile(
      join(target.cwd, CACHE_MARKER),
      "This directory is pool-boy's cache of a pool repository. pool-boy deletes and rebuilds it when it is damaged.\n",
    );
  }
  // No template: nothing (hooks, sample files) from the machine's git installation.
  await gitText(target, ["init", "--bare", "--quiet", "--template="]);
  if (identity !== null) await gitText(target, ["config", IDENTITY_KEY, identity]);
}

/** Creates the cache directory's parent (and its parents); a clear refusal when that cannot be. */
async function makeCacheParent(cacheDir: string): Promise<void> {
  await mkdirs(dirname(cacheDir), {
    given: `--cache-dir ${cacheDir}`,
    what: "its folder ",
    hint: "choose a --cache-dir (POOL_BOY_CACHE_DIR) in a directory this user can write, or leave it out to clone into a temporary directory",
  });
}

async function listDir(dir: string): Promise<string[] | null> {
  try {
    if (!(await stat(dir)).isDirectory()) {
      throw new PoolBoyError("config", `the cache directory ${dir} is not a directory`, "point the cache at a directory");
    }
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

function describe(err: unknown): string {
  if (err instanceof GitCommandError) return firstLines(err.stderr, 1) || `exit ${err.exitCode ?? "?"}`;
  return err instanceof Error ? err.message : String(err);
}

// ---- URLs and names ----

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** git treats `host:path` (a colon before any slash) as scp-like SSH; everything else without a scheme is a path. */
function isLocalPath(url: string): boolean {
  if (SCHEME.test(url)) return false;
  const colon = url.indexOf(":");
  const slash = url.indexOf("/");
  return colon === -1 || (slash !== -1 && slash < colon);
}

/** git runs inside the bare repository, so a relative path must be made absolute first. */
function localPathToAbsolute(url: string): string {
  return isLocalPath(url) ? resolve(url) : url;
}

/** What identifies the repository a cache holds: the URL without credentials. */
function repoIdentity(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

/** A branch name as git accepts it (`git check-ref-format --branch`), also guarding the refspec built from it. */
export function checkBranchName(name: string): string {
  const branch = name.startsWith("refs/heads/") ? name.slice("refs/heads/".length) : name;
  const bad =
    branch === "" ||
    branch === "@" ||
    branch.startsWith("-") ||
    branch.startsWith("/") ||
    branch.endsWith("/") ||
    branch.endsWith(".") ||
    branch.endsWith(".lock") ||
    branch.includes("..") ||
    branch.includes("//") ||
    branch.includes("@{") ||
    /[\x00-\x20\x7f~^:?*[\\]/.test(branch) ||
    branch.split("/").some((part) => part.startsWith("."));
  if (bad) throw new PoolBoyError("config", `"${name}" is not a valid branch name`, "check the configured branch");
  return branch;
}
