// Brings the pool repository's branch into a local bare repository. Nothing here needs a
// working tree: the scan reads trees and history from objects, and the release writes commits
// with fast-import, so a bare repository (git init --bare + one fetch of one branch) is enough
// and is cheaper than a clone with a checkout.
//
// The remote's URL is never written to disk nor put on a command line (either would leak
// credentials embedded in it): each git process gets it as `remote.origin.url` through
// GIT_CONFIG_COUNT/KEY/VALUE variables. The cache remembers only the URL without credentials,
// to recognise the repository it holds.

import { copyFile, link, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
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
  /** the repository's URL without credentials: what identifies it in a cache */
  readonly identity: string;
  /** a local repository whose objects are borrowed (hard links) instead of fetched, or null */
  readonly borrowed: LocalSource | null;
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
        // Pack files are read through memory maps, and every mapped page read counts in the
        // process's RSS: git's defaults (1 GB windows, 8 GB in all) let a walk or a fetch over a
        // 300,000-commit pack map most of it (186 and 195 MB peak). 1 MB windows, 16 MB at most:
        // 116 and 125 MB, in the same time (the README's benchmark section).
        "core.packedGitWindowSize": "1m",
        "core.packedGitLimit": "16m",
      },
    ),
  };
  // The cache and its lock live in the cache's parent, made with its parents on the first run.
  if (cached) await makeCacheParent(gitDir);
  // A cache is one run's at a time, until cleanup(): its fetches, rebuilds and release commits.
  const unlock = cached ? await lockCache(gitDir, { waitMs: CACHE_LOCK_WAIT_MS, log }) : async () => undefined;
  const cleanup = cached ? unlock : () => rm(gitDir, { recursive: true, force: true });

  try {
    // true: an empty repository (a temporary clone, a new or rebuilt cache); false: a cache that
    // only needs what is new.
    let empty = true;
    if (cached) {
      empty = await openCache(gitDir, target, repoIdentity(url), log);
    } else {
      await initBare(target, null);
    }
    const branch = wanted ?? (await defaultBranch(target, display));
    // A local repository's objects are borrowed (hard links), not sent through upload-pack: no
    // pack is made, nothing is copied, and no connectivity walk of the whole history runs.
    let source = await localSource(url);
    let head: string | null = null;
    if (source !== null) {
      log(`borrowing the objects of ${display} (${branch}) by hard links${cached ? ` into the cache ${gitDir}${empty ? "" : " (those it lacks)"}` : ""}`);
      head = await borrowBranch(target, source, branch, display, cached);
      if (head === null) source = null;
    }
    if (head === null) {
      log(cached ? `fetching ${display} (${branch}) into the cache ${gitDir}` : `cloning ${display} (${branch})`);
      head = await fetchBranch(target, branch, display, cached);
    }
    return { display, branch, head, gitDir, target, cached, identity: repoIdentity(url), borrowed: source, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Fetch the branch again (after a lost push race); returns and records the new head. A local
 * repository's new objects are borrowed like the first ones: a lost race is followed by another
 * push as soon as possible, and a fetch through upload-pack is the slowest part of the round.
 */
export async function refresh(repo: SyncedRepo): Promise<string> {
  const borrowed = repo.borrowed ? await borrowBranch(repo.target, repo.borrowed, repo.branch, repo.display, repo.cached) : null;
  repo.head = borrowed ?? (await fetchBranch(repo.target, repo.branch, repo.display, repo.cached));
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

// ---- local repositories: borrowed objects ----

export interface LocalSource {
  /** the repository's git directory */
  gitDir: string;
  /** its objects directory */
  objects: string;
}

/**
 * A local repository (bare, or a working tree's .git directory) whose objects can be borrowed,
 * or null: not a local path, not a repository in a form recognised here (a worktree's or
 * submodule's .git file), or one that borrows objects itself (alternates). Then the ordinary
 * fetch is used.
 */
async function localSource(url: string): Promise<LocalSource | null> {
  if (!isLocalPath(url)) return null;
  for (const gitDir of [url, join(url, ".git")]) {
    const objects = join(gitDir, "objects");
    if (!(await isDirectory(join(objects, "pack"))) || !(await exists(join(gitDir, "HEAD")))) continue;
    const alternates = await readFile(join(objects, "info", "alternates"), "utf8").catch(() => "");
    return alternates.trim() === "" ? { gitDir, objects } : null;
  }
  return null;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * Brings the branch of a local repository into the repository `target` without a fetch: reads
 * the branch head (from its ref files), then hard-links the source's packs and loose objects that
 * `target` lacks into its objects directory, and sets the tracking ref. Used for a new clone, a
 * warm cache and after a lost push race alike.
 *
 * Hard links, not alternates: our repository then holds its own names for the files, so a gc or
 * repack in the source (which deletes pack files and prunes loose objects) never takes objects
 * away from a run in progress or from a cache. git never changes an object file in place, so
 * sharing the inodes is safe; the source is never written to (a push goes through receive-pack as
 * before). Order matters: the head is read first, and every object it reaches was written before
 * the ref moved, so it is in the files linked after. A file that vanishes meanwhile (a repack in
 * the source moved its objects to a new pack) starts another pass. Across filesystems the files
 * are copied instead.
 */
async function borrowBranch(target: GitTarget, source: LocalSource, branch: string, display: string, cached: boolean): Promise<string | null> {
  // The head: from the ref's file when it is a plain one (no process), else read in the source
  // itself (one process; ls-remote would start upload-pack too).
  const inSource: GitTarget = { cwd: source.gitDir, env: { ...target.env, GIT_DIR: source.gitDir } };
  let head: string;
  try {
    head = (await readBranchFile(source.gitDir, branch)) ?? (await gitText(inSource, ["rev-parse", "--verify", "--quiet", "--end-of-options", `refs/heads/${branch}^{commit}`])).trim();
  } catch (err) {
    if (err instanceof GitCommandError && err.exitCode === 1) throw await missingBranch(target, branch, display);
    // git will not read it here (another user's repository and safe.directory, say): fetch it.
    return null;
  }
  if (!/^[0-9a-f]{40,64}$/.test(head)) throw await missingBranch(target, branch, display);
  const objects = source.objects;

  const marker = join(target.cwd, SYNC_MARKER);
  // An interrupted borrow leaves the marker: the next run checks the whole cache (see fetchBranch).
  if (cached) await writeFile(marker, "a pool-boy fetch is under way (or was interrupted)\n");
  try {
    try {
      let seen = linkedBefore.get(target.cwd);
      if (!seen) linkedBefore.set(target.cwd, (seen = new Set()));
      await linkObjects(objects, join(target.cwd, "objects"), 10, seen);
    } catch (err) {
      throw unreadable(display, branch, err);
    }
    try {
      // update-ref refuses an object that is not there: a first check that the borrow worked.
      await gitText(target, ["update-ref", trackingRef(branch), head]);
      return head;
    } catch (err) {
      throw unreadable(display, branch, err);
    }
  } finally {
    if (cached) await rm(marker, { force: true });
  }
}

/**
 * A branch's commit as the files of a files-backend repository say: the loose ref, else its line
 * in packed-refs. null when they cannot tell for sure (no such files, a symbolic ref, a tag, a
 * reftable repository…): then git is asked. Both files are replaced whole by git (a lock file
 * renamed into place), and pack-refs writes packed-refs before it deletes a loose ref, so a
 * reader never sees a half-written ref.
 */
async function readBranchFile(gitDir: string, branch: string): Promise<string | null> {
  if (await exists(join(gitDir, "reftable"))) return null;
  const loose = await readFile(join(gitDir, "refs", "heads", ...branch.split("/")), "latin1").catch(() => null);
  if (loose !== null) return /^[0-9a-f]{40}(?:[0-9a-f]{24})?\n?$/.test(loose) ? loose.trim() : null;
  const packed = await readFile(join(gitDir, "packed-refs"), "latin1").catch(() => null);
  if (packed === null) return null;
  const lines = packed.split("\n");
  const at = lines.findIndex((line) => line.endsWith(` refs/heads/${branch}`));
  if (at === -1) return null;
  // A peeled line (^sha) after it means the ref names a tag, not a commit: let git peel it.
  if (lines[at + 1]?.startsWith("^")) return null;
  const sha = (lines[at] as string).slice(0, (lines[at] as string).indexOf(" "));
  return /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(sha) ? sha : null;
}

/** Per repository of this process, the object files linked already (a lost race borrows again, and only the new files need a link). */
const linkedBefore = new Map<string, Set<string>>();

const LOOSE_DIR = /^[0-9a-f]{2}$/;
const LOOSE_FILE = /^[0-9a-f]{38,62}$/;
const PACK_FILE = /^pack-[0-9a-f]{40,64}\.(pack|idx|rev)$/;

/** Links (or copies) every pack and loose object of `from` into `to`; passes again while files vanish. */
export async function linkObjects(from: string, to: string, maxPasses = 10, seen: Set<string> = new Set()): Promise<{ files: number; copied: number; passes: number }> {
  let files = 0;
  let copied = 0;
  /** false: the source file vanished */
  const put = async (src: string, dst: string): Promise<boolean> => {
    // Linked by an earlier pass of this run: object files never change, so nothing to do.
    if (seen.has(dst)) return true;
    const done = await putOnce(src, dst);
    if (done) seen.add(dst);
    return done;
  };
  const putOnce = async (src: string, dst: string): Promise<boolean> => {
    try {
      await link(src, dst);
      files++;
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return true;
      if (code === "ENOENT") return false;
      if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw err;
    }
    try {
      await copyFile(src, dst);
      files++;
      copied++;
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  };
  for (let pass = 1; ; pass++) {
    let vanished = false;
    const packDir = join(from, "pack");
    const packs = new Set((await readdir(packDir)).filter((f) => PACK_FILE.test(f)));
    await mkdir(join(to, "pack"), { recursive: true });
    const bases = [...packs].filter((f) => f.endsWith(".idx")).map((f) => f.slice(0, -".idx".length));
    await inBatches(bases, 16, async (base) => {
      // The .idx last: git ignores a pack without its index, never an index without its pack.
      const parts = [".pack", ...(packs.has(`${base}.rev`) ? [".rev"] : []), ".idx"];
      for (const ext of parts) {
        if (await put(join(packDir, `${base}${ext}`), join(to, "pack", `${base}${ext}`))) continue;
        // Half a pack is no use: drop what was linked of it (the next pass finds its successor).
        for (const e of parts) await unlink(join(to, "pack", `${base}${e}`)).catch(() => undefined);
        vanished = true;
        return;
      }
    });
    const dirs = (await readdir(from)).filter((d) => LOOSE_DIR.test(d));
    await inBatches(dirs, 8, async (dir) => {
      let names: string[];
      try {
        names = (await readdir(join(from, dir))).filter((f) => LOOSE_FILE.test(f));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
      if (names.length === 0) return;
      await mkdir(join(to, dir), { recursive: true });
      // A loose object that vanished was packed (or pruned): the next pass links the new pack.
      for (const name of names) if (!(await put(join(from, dir, name), join(to, dir, name)))) vanished = true;
    });
    if (!vanished) return { files, copied, passes: pass };
    if (pass >= maxPasses) throw new Error(`the objects of ${from} kept changing while they were read (${pass} passes)`);
  }
}

async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
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

/** Opens (or makes, or rebuilds) the cache; true when it is empty now. */
async function openCache(dir: string, target: GitTarget, identity: string, log: (line: string) => void): Promise<boolean> {
  const entries = await listDir(dir);
  if (entries === null || entries.length === 0) {
    await initBare(target, identity);
    return true;
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
  if (problem === null) return false;
  log(`the cache ${dir} ${problem}; rebuilding it`);
  await rm(dir, { recursive: true, force: true });
  await initBare(target, identity);
  return true;
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
  linkedBefore.delete(target.cwd);
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
