// Reads what the pools hold at the synced head, and for every claimed lock the commit that put
// it there. Two git processes per scan, whatever the number of locks: one ls-tree and one log.
//
// The claim is the commit that moved the file into POOL/claimed/ (a rename from unclaimed/) or
// added it there (`add_claimed`): the only two ways the pool-resource puts a lock in claimed/.
// A later commit that edits the file in place (new content, `chmod +x`, a type change) was made by
// a person or another tool; it names the editor, not the holder, so it changes neither the owner
// nor the age. Such edits are reported (ClaimedLock.editedAfterClaim), never acted on.

import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { PoolBoyError } from "../../core/errors.js";
import type { ClaimCommit, ClaimEdit, ClaimedLock, PoolInventory, RepoSnapshot } from "../../core/model.js";
import { firstLines, GitCommandError, runGit, spawnGit, type GitTarget } from "./git.js";
import { redact } from "../../core/redact.js";
import type { SyncedRepo } from "./sync.js";

export interface TreeEntry {
  /** "100644", "100755", "120000" (symlink), "160000" (submodule), "040000" (tree) */
  mode: string;
  type: "blob" | "tree" | "commit";
  sha: string;
  path: string;
  /** false when the path's bytes are not UTF-8 (then `path` is a lossy rendering) */
  utf8: boolean;
}

export interface ScanStats {
  /** commits read from the log before it was stopped or ended */
  commitsRead: number;
  /** true when the log was stopped because every claim was found */
  stoppedEarly: boolean;
  /** claimed locks whose claim commit was looked for */
  searched: number;
  /** with a base: "range" when only base..head was walked (plus a full walk for what the base lacked, if anything); "full" otherwise */
  walk?: "range" | "full";
  /** with a base: why the base could not be used */
  fallback?: string;
}

export interface ScanOptions {
  onStats?: (stats: ScanStats) => void;
}

/** What the scan found for one lock path at some head: its claim commit (null: none) and the edits after it. */
export interface KnownClaim {
  claim: ClaimCommit | null;
  /** newest first */
  edits: readonly ClaimEdit[];
}

/**
 * The claim commits known at an older head of the same branch: `claims` maps a lock path
 * (POOL/claimed/NAME) to what the scan found for it there. Every lock claimed at `head` should
 * have an entry; one without is looked for in the whole history.
 */
export interface ClaimBase {
  head: string;
  claims: ReadonlyMap<string, KnownClaim>;
  /** the pools scanned at head (sorted); when given and not the pools of this scan, the base is not used */
  pools?: readonly string[];
}

/** The base a snapshot makes for a later scan of the same branch. */
export function baseOf(snapshot: RepoSnapshot): ClaimBase {
  return {
    head: snapshot.head,
    claims: new Map(snapshot.locks.map((l) => [l.path, { claim: l.claim, edits: l.editedAfterClaim }])),
    pools: snapshot.pools.map((p) => p.pool),
  };
}

export interface ScanSince {
  snapshot: RepoSnapshot;
  /**
   * lock paths (POOL/claimed/NAME) whose claimed/ or unclaimed/ path some commit of base..head
   * touched; null when the base could not be used (everything counts as new)
   */
  touched: Set<string> | null;
  stats: ScanStats;
  /** every entry of the head's tree (what a release checks its plan against) */
  tree: { commit: string; entries: TreeEntry[] };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder("utf-8");

function decodePath(bytes: Uint8Array): { text: string; utf8: boolean } {
  try {
    return { text: strictUtf8.decode(bytes), utf8: true };
  } catch {
    return { text: lossyUtf8.decode(bytes), utf8: false };
  }
}

/** Every entry of a commit's tree, subtrees included, read as bytes (`-z`: no quoting). */
export async function listTree(target: GitTarget, commit: string): Promise<TreeEntry[]> {
  const { stdout } = await runGit(target, ["ls-tree", "-r", "-t", "-z", "--full-tree", commit]);
  const entries: TreeEntry[] = [];
  let start = 0;
  while (start < stdout.length) {
    let end = stdout.indexOf(0, start);
    if (end === -1) end = stdout.length;
    const record = stdout.subarray(start, end);
    start = end + 1;
    const tab = record.indexOf(9);
    if (tab === -1) continue;
    const [mode = "", type = "", sha = ""] = record.subarray(0, tab).toString("latin1").split(" ");
    if (type !== "blob" && type !== "tree" && type !== "commit") continue;
    const { text, utf8 } = decodePath(record.subarray(tab + 1));
    entries.push({ mode, type, sha, path: text, utf8 });
  }
  return entries;
}

export async function scanRepo(repo: SyncedRepo, pools: string[] | "*", options: ScanOptions = {}): Promise<RepoSnapshot> {
  const { snapshot, stats } = await scanSince(repo, pools, null);
  options.onStats?.(stats);
  return snapshot;
}

interface TreeState {
  names: string[];
  inventories: PoolInventory[];
  locks: ClaimedLock[];
  /** lock path → the locks whose claim commit is wanted (files, not subdirectories) */
  wanted: Map<string, ClaimedLock[]>;
  entries: TreeEntry[];
}

/**
 * The scan, reusing the claim commits of an older head (`base`) when it can: when the base head
 * is an ancestor of the head by a linear run of commits (no merge), only base..head is walked,
 * and a lock that no commit of that range touched keeps the base's claim commit. The result is
 * the one a full walk gives. Otherwise (no base, a force-push, a merge in between, a base head
 * that is not there) the whole history is walked, as without a base.
 */
export async function scanSince(repo: SyncedRepo, pools: string[] | "*", base: ClaimBase | null): Promise<ScanSince> {
  const stats: ScanStats = { commitsRead: 0, stoppedEarly: false, searched: 0, ...(base !== null ? { walk: "full" as const } : {}) };
  // The tree and the walk of base..head are two processes run side by side (after a lost push
  // race every millisecond before the next push counts). The range walk reads every path (the
  // pools are known only from the tree), the parents (a linear run on top of the base or not),
  // and at most RANGE_AHEAD commits, so that a force-push costs no full walk in vain.
  const rangeStats: ScanStats = { commitsRead: 0, stoppedEarly: false, searched: 0 };
  const sameHead = base !== null && base.head === repo.head;
  const chain: Array<[string, string[]]> = [];
  const walkRange = (limit: number | null) => {
    chain.length = 0;
    return walkLog(
      repo,
      [...(limit === null ? [] : [`--max-count=${limit}`]), `${base?.head}..${repo.head}`],
      [],
      () => true,
      rangeStats,
      (path) => touchedPaths.add(path),
      (sha, parents) => chain.push([sha, parents]),
    );
  };
  const touchedPaths = new Set<string>();
  const early = base !== null && !sameHead && SHA.test(base.head) ? walkRange(RANGE_AHEAD) : null;
  early?.catch(() => undefined);
  // Linear or not, the range walk tells by itself (no other process) unless it was cut short.
  const linearity = async (): Promise<string | null> => {
    if (base === null) return "no base";
    if (sameHead) return null;
    if (early === null) return linearSince(repo, base.head);
    try {
      await early;
    } catch {
      return linearSince(repo, base.head);
    }
    const told = chainProblem(chain, base.head, repo.head);
    return told === "unknown" ? linearSince(repo, base.head) : told;
  };
  const [tree, usable] = await Promise.all([readTree(repo, pools), linearity()]);
  const { names, inventories, locks, wanted, entries } = tree;
  stats.searched = wanted.size;
  let touched: Set<string> | null = null;
  const found = new Map<string, KnownClaim>();
  const samePools = base?.pools === undefined || [...names].sort(byCodeUnit).join("\0") === [...base.pools].sort(byCodeUnit).join("\0");
  const problem = usable ?? (samePools ? null : "the pool set changed");
  if (base !== null && problem === null) {
    stats.walk = "range";
    let range: Awaited<ReturnType<typeof walkLog>> = { claims: new Map(), edits: new Map() };
    if (!sameHead && early !== null) {
      range = await early;
      if (rangeStats.commitsRead >= RANGE_AHEAD) {
        // A long range: read it whole now that it is known to be linear.
        touchedPaths.clear();
        rangeStats.commitsRead = 0;
        range = await walkRange(null);
      }
    }
    stats.commitsRead += rangeStats.commitsRead;
    touched = new Set();
    for (const path of touchedPaths) {
      const at = lockPathOf(path, names);
      if (at) touched.add(at);
    }
    const missing = new Set<string>();
    for (const path of wanted.keys()) {
      const edits = range.edits.get(path) ?? [];
      const claim = range.claims.get(path);
      // Claimed again in the range: that claim, and the range's edits newer than it.
      if (claim) {
        found.set(path, { claim, edits });
        continue;
      }
      // Not claimed again: the base's claim; edits in the range come on top of the base's.
      const known = base.claims.get(path);
      if (known === undefined) missing.add(path);
      else found.set(path, { claim: known.claim, edits: [...edits, ...known.edits] });
    }
    if (missing.size > 0) {
      const more = await walkLog(repo, [repo.head], pathspecs(names, false), missing, stats);
      for (const path of missing) found.set(path, { claim: more.claims.get(path) ?? null, edits: more.edits.get(path) ?? [] });
    }
  } else {
    if (early !== null) await early.catch(() => undefined);
    if (base !== null) stats.fallback = problem ?? undefined;
    if (wanted.size > 0) {
      const all = await walkLog(repo, [repo.head], pathspecs(names, false), new Set(wanted.keys()), stats);
      for (const path of wanted.keys()) found.set(path, { claim: all.claims.get(path) ?? null, edits: all.edits.get(path) ?? [] });
    }
  }
  // Edits seen before (newer than) the claim; without a claim, every edit seen is newer than it.
  for (const [path, known] of found) {
    for (const lock of wanted.get(path) ?? []) {
      lock.claim = known.claim;
      lock.editedAfterClaim = [...known.edits];
    }
  }
  return { snapshot: { branch: repo.branch, head: repo.head, pools: inventories, locks }, touched, stats, tree: { commit: repo.head, entries } };
}

const SHA = /^[0-9a-f]{40,64}$/;
/** The most commits of base..head read before it is known to be a linear run on top of the base. */
const RANGE_AHEAD = 2000;

/**
 * What the range walk's commits (newest first, with their parents) say of base..head: null when
 * they are a linear run on top of base, why not, or "unknown" when the walk was cut short before
 * it could tell.
 */
export function chainProblem(chain: ReadonlyArray<readonly [string, readonly string[]]>, base: string, head: string): string | null | "unknown" {
  if (chain.length === 0) return `the branch went back from ${base.slice(0, 12)}`;
  if (chain[0]?.[0] !== head) return "unknown";
  for (let i = 0; i < chain.length; i++) {
    const [sha, parents] = chain[i] as readonly [string, readonly string[]];
    if (parents.length !== 1) return `base..head holds a merge or a root commit (${sha.slice(0, 12)})`;
    const next = chain[i + 1]?.[0];
    if (next === undefined) return parents[0] === base ? null : chain.length >= RANGE_AHEAD ? "unknown" : `${base.slice(0, 12)} is no longer an ancestor of the head (a force-push)`;
    if (parents[0] !== next) return "unknown";
  }
  return "unknown";
}

/** Why base..head is not a linear run of commits on top of base (a force-push, a merge…), or null when it is. */
async function linearSince(repo: SyncedRepo, base: string): Promise<string | null> {
  if (base === repo.head) return null;
  if (!SHA.test(base)) return "the base is not a commit id";
  let out: string;
  try {
    out = (await runGit(repo.target, ["rev-list", "--parents", `${base}..${repo.head}`, "--"])).stdout.toString("latin1");
  } catch {
    return `the base ${base.slice(0, 12)} is not in the repository`;
  }
  const lines = out.split("\n").filter(Boolean);
  if (lines.length === 0) return `the branch went back from ${base.slice(0, 12)}`;
  for (const line of lines) if (line.split(" ").length !== 2) return `base..head holds a merge or a root commit (${line.slice(0, 12)})`;
  const oldest = (lines[lines.length - 1] ?? "").split(" ")[1];
  return oldest === base ? null : `${base.slice(0, 12)} is no longer an ancestor of the head (a force-push)`;
}

function pathspecs(pools: string[], withUnclaimed: boolean): string[] {
  return pools.flatMap((pool) => [`:(literal)${pool}/claimed/`, ...(withUnclaimed ? [`:(literal)${pool}/unclaimed/`] : [])]);
}

/** POOL/claimed/NAME for a path POOL/claimed/NAME or POOL/unclaimed/NAME of one of the pools, else null. */
function lockPathOf(path: string, pools: string[]): string | null {
  for (const pool of pools) {
    for (const side of ["claimed/", "unclaimed/"]) {
      const prefix = `${pool}/${side}`;
      if (!path.startsWith(prefix)) continue;
      const name = path.slice(prefix.length);
      if (name === "" || name.includes("/")) return null;
      return `${pool}/claimed/${name}`;
    }
  }
  return null;
}

async function readTree(repo: SyncedRepo, pools: string[] | "*"): Promise<TreeState> {
  let entries: TreeEntry[];
  try {
    entries = await listTree(repo.target, repo.head);
  } catch (err) {
    throw historyError(repo, err);
  }
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const isTree = (path: string) => byPath.get(path)?.type === "tree";

  const existing = entries
    .filter((e) => e.type === "tree" && !e.path.includes("/") && !e.path.startsWith("."))
    .map((e) => e.path)
    // A pool is a folder with claimed/ or unclaimed/: git keeps no empty folder, so a pool whose
    // every lock is claimed (or free) has only one of them unless a .gitkeep holds the other.
    .filter((p) => isTree(`${p}/claimed`) || isTree(`${p}/unclaimed`))
    .sort(byCodeUnit);

  let names: string[];
  if (pools === "*") {
    names = existing;
  } else {
    names = [...new Set(pools)];
    for (const name of names) {
      const shapeProblem = poolNameProblem(name);
      if (shapeProblem || (!isTree(`${name}/claimed`) && !isTree(`${name}/unclaimed`))) {
        throw new PoolBoyError(
          "config",
          shapeProblem
            ? `"${name}" is not a pool name: ${shapeProblem}`
            : `pool "${name}" does not exist in ${repo.display} (${repo.branch}): there is no ${name}/claimed/ or ${name}/unclaimed/ folder`,
          existing.length ? `the pools in the repository: ${existing.join(", ")}` : "the repository has no pools",
        );
      }
    }
  }

  // Direct children of each pool's claimed/ and unclaimed/, dot-names excluded.
  const children = new Map<string, TreeEntry[]>();
  for (const name of names) {
    children.set(`${name}/claimed/`, []);
    children.set(`${name}/unclaimed/`, []);
  }
  for (const entry of entries) {
    const slash = entry.path.lastIndexOf("/");
    const list = children.get(entry.path.slice(0, slash + 1));
    if (list && !entry.path.slice(slash + 1).startsWith(".")) list.push(entry);
  }
  const baseName = (e: TreeEntry) => e.path.slice(e.path.lastIndexOf("/") + 1);

  const inventories: PoolInventory[] = [];
  const locks: ClaimedLock[] = [];
  for (const pool of names) {
    const claimed = (children.get(`${pool}/claimed/`) ?? []).sort((a, b) => byCodeUnit(a.path, b.path));
    const unclaimed = new Set((children.get(`${pool}/unclaimed/`) ?? []).map(baseName));
    const claimedKept = entries.some((e) => e.path.startsWith(`${pool}/claimed/.`) && !e.path.slice(`${pool}/claimed/`.length).includes("/"));
    inventories.push({ pool, claimed: claimed.map(baseName), unclaimed: [...unclaimed].sort(byCodeUnit), claimedKept });
    for (const entry of claimed) {
      const name = baseName(entry);
      locks.push({ pool, name, path: entry.path, claim: null, editedAfterClaim: [], problem: lockProblem(entry, unclaimed.has(name)) });
    }
  }

  // A subdirectory never appears as a path of its own in the log, so looking for it would read
  // the whole history in vain.
  const wanted = new Map<string, ClaimedLock[]>();
  for (const lock of locks) {
    if (byPath.get(lock.path)?.type === "tree") continue;
    wanted.set(lock.path, [...(wanted.get(lock.path) ?? []), lock]);
  }
  return { names, inventories, locks, wanted, entries };
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why `name` cannot name a pool folder (it must stay inside the repository), or null. */
function poolNameProblem(name: string): string | null {
  if (name === "") return "it is empty";
  if (/[\x00-\x1f\x7f]/.test(name)) return "it contains control characters";
  if (name.startsWith("/")) return "it is an absolute path";
  if (name.endsWith("/")) return "it ends with /";
  for (const part of name.split("/")) {
    if (part === "") return "it contains an empty path component (//)";
    if (part === "." || part === "..") return `it contains "${part}"`;
    if (part.startsWith(".")) return `"${part}" starts with a dot (such names are not pools)`;
  }
  return null;
}

function lockProblem(entry: TreeEntry, alsoUnclaimed: boolean): string | null {
  const problems: string[] = [];
  if (entry.type === "tree") problems.push("it is a directory, not a lock file");
  else if (entry.type === "commit") problems.push("it is a submodule, not a lock file");
  else if (entry.mode === "120000") problems.push("it is a symbolic link, not a lock file");
  if (alsoUnclaimed) problems.push("it is in claimed/ and unclaimed/ at once");
  if (!entry.utf8) problems.push("its name is not valid UTF-8");
  return problems.length ? problems.join("; ") : null;
}

// ---- the claim commits ----

// Header of each commit in the log output. NUL cannot occur in a commit message or a path, so
// NUL-separated fields are unambiguous whatever the messages hold; the marker only tells a header
// from a status letter (which is a single letter), and a path is always read right after its status.
const MARKER = "@pool-boy@";
const FORMAT = `${MARKER}%x00%H%x00%ct%x00%B%x00`;
// The range walk (no pathspec, so no history simplification: %P are the true parents) also reads
// the parents, to tell a linear run of commits on top of the base without another process.
const FORMAT_WITH_PARENTS = `${MARKER}%x00%H%x00%P%x00%ct%x00%B%x00`;

/**
 * Walk the history once, newest first, and return for each wanted path the newest commit that
 * added it (A: with --no-renames a move from unclaimed/ shows as an add under claimed/), and the
 * in-place edits (M: content or mode, T: type) newer than that commit. The walk stops (the git
 * process is killed) as soon as every claim is found; the edits come before their claim in a
 * newest-first walk, so collecting them costs nothing more.
 *
 * Merges: the walk follows every parent, with git's default history simplification (a parent
 * whose claimed/ folders equal the merge's is not followed), and a merge's own diff is not read
 * (--diff-merges=off). So a lock that arrived through a merge is credited to the non-merge commit
 * that claimed it on its branch, with that commit's message and date, which name the owner build;
 * a merge message names no build. The pool-resource itself never merges (it rebases and retries),
 * so this only matters for hand-made merges. There is no --topo-order: it would read the whole
 * history before printing the first commit; in a linear history the order is the same anyway.
 *
 * The log is a raw spawn, not simple-git: simple-git buffers the whole output until the process
 * ends, while this must be read as it comes and stopped early.
 */
/**
 * wanted: the paths whose claim commit is looked for; the walk stops once all are found. A
 * predicate instead: read the whole range and return the claim commit of every path it accepts
 * (used for a short range); onPath sees every path of every commit read.
 */
async function walkLog(
  repo: SyncedRepo,
  revs: string[],
  paths: string[],
  wanted: Set<string> | ((path: string) => boolean),
  stats: ScanStats,
  onPath?: (path: string) => void,
  onCommit?: (sha: string, parents: string[]) => void,
): Promise<{ claims: Map<string, ClaimCommit>; edits: Map<string, ClaimEdit[]> }> {
  const args = [
    "log",
    "--no-renames",
    "--name-status",
    "-z",
    "--root",
    "--diff-merges=off",
    "--no-color",
    "--no-show-signature",
    "--no-notes",
    "--encoding=UTF-8",
    `--format=${onCommit ? FORMAT_WITH_PARENTS : FORMAT}`,
    ...revs,
    "--",
    ...paths,
  ];
  const child = spawnGit(repo.target, args);
  const found = new Map<string, ClaimCommit>();
  const edits = new Map<string, ClaimEdit[]>();
  const parser = new LogParser((commit, status, path) => {
    onPath?.(path);
    if (!(typeof wanted === "function" ? wanted(path) : wanted.has(path)) || found.has(path)) return false;
    if (isClaimEvent(status)) {
      // moved in from unclaimed/ or added: the claim
      found.set(path, commit);
    } else if (isEditEvent(status)) {
      // edited in place (content, mode or type) after the claim: reported, never the claim
      const list = edits.get(path) ?? [];
      list.push({ sha: commit.sha, committedAt: commit.committedAt });
      edits.set(path, list);
    }
    return typeof wanted !== "function" && found.size === wanted.size;
  }, onCommit);
  return new Promise((resolve, reject) => {
    let stopped = false;
    const err: Buffer[] = [];
    child.stdin.end();
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.stdout.on("data", (chunk: Buffer) => {
      if (stopped) return;
      if (parser.push(chunk)) {
        stopped = true;
        stats.stoppedEarly = true;
        stop(child);
      }
    });
    child.on("error", (e) => reject(historyError(repo, e)));
    child.on("close", (code) => {
      stats.commitsRead += parser.commits;
      if (!stopped && code !== 0) {
        const stderr = (repo.target.mask ?? redact)(Buffer.concat(err).toString("utf8"));
        reject(historyError(repo, new GitCommandError(args, code, stderr)));
        return;
      }
      resolve({ claims: found, edits });
    });
  });
}

/** A log entry that moved or added the file there: the claim rule's one place (M and T are edits). */
function isClaimEvent(status: string): boolean {
  return status === "A";
}

function isEditEvent(status: string): boolean {
  return status === "M" || status === "T";
}

function stop(child: ChildProcessWithoutNullStreams): void {
  child.stdout.destroy();
  child.kill("SIGTERM");
}

function historyError(repo: SyncedRepo, err: unknown): PoolBoyError {
  const detail = err instanceof GitCommandError ? firstLines(err.stderr) : err instanceof Error ? err.message : String(err);
  return new PoolBoyError(
    "git",
    `cannot read ${repo.display} (${repo.branch}) at ${repo.head.slice(0, 12)}: ${detail}`,
    repo.cached
      ? `the cache in ${repo.gitDir} may be damaged: delete that directory and run again`
      : "run again; if it persists, check that git works on this machine",
    { cause: err },
  );
}

type Entry = (commit: ClaimCommit, status: string, path: string) => boolean;

/**
 * Incremental parser of `git log -z --name-status --format=FORMAT` output. Tokens are the
 * NUL-terminated pieces; between records git adds empty tokens and a newline before the first
 * status, which are skipped.
 */
class LogParser {
  commits = 0;
  private rest: Buffer = Buffer.alloc(0);
  private state: "seek" | "sha" | "parents" | "date" | "message" | "entries" | "path" = "seek";
  private sha = "";
  private date = 0;
  private commit: ClaimCommit | null = null;
  private status = "";
  private pathsLeft = 0;

  constructor(
    private readonly onEntry: Entry,
    /** when given, the format has %P after %H */
    private readonly onCommit?: (sha: string, parents: string[]) => void,
  ) {}

  /** Feed a chunk; true once onEntry has said it has all it wants. */
  push(chunk: Buffer): boolean {
    this.rest = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const end = this.rest.indexOf(0, start);
      if (end === -1) break;
      const done = this.token(this.rest.subarray(start, end));
      start = end + 1;
      if (done) return true;
    }
    this.rest = this.rest.subarray(start);
    return false;
  }

  private token(bytes: Buffer): boolean {
    switch (this.state) {
      case "sha":
        this.sha = bytes.toString("latin1");
        this.state = this.onCommit ? "parents" : "date";
        return false;
      case "parents":
        this.onCommit?.(this.sha, bytes.toString("latin1").split(" ").filter(Boolean));
        this.state = "date";
        return false;
      case "date":
        this.date = Number(bytes.toString("latin1"));
        this.state = "message";
        return false;
      case "message":
        this.commit = { sha: this.sha, committedAt: new Date(this.date * 1000), message: lossyUtf8.decode(bytes).trimEnd() };
        this.commits++;
        this.state = "entries";
        return false;
      case "path": {
        const { text } = decodePath(bytes);
        this.pathsLeft--;
        if (this.pathsLeft === 0) this.state = "entries";
        // Of a rename/copy pair (not produced with --no-renames) only the destination counts.
        return this.pathsLeft === 0 && this.commit !== null ? this.onEntry(this.commit, this.status, text) : false;
      }
      case "seek":
      case "entries": {
        const text = bytes.toString("latin1").replace(/^\n+/, "");
        if (text === "") return false;
        if (text === MARKER) {
          this.state = "sha";
        } else if (this.state === "entries") {
          this.status = text.charAt(0);
          this.pathsLeft = this.status === "R" || this.status === "C" ? 2 : 1;
          this.state = "path";
        }
        return false;
      }
    }
  }
}
