// The claim index: kept in a --cache-dir next to the repository, it holds, for the head the
// last run scanned, the claim commit of every claimed lock (and the edits after it). A warm run
// then walks only old-head..new-head (scan.ts, scanSince) instead of the history back to the
// oldest claim.
//
// The index is a hint, never trusted blindly: a file that does not parse, fails its checksum,
// names another repository, branch or pool set, or a commit the repository does not hold is
// ignored (the run walks the whole history and writes a new index). A force-push or a merge since
// the indexed head makes scanSince walk everything too. Messages and dates are not stored: they
// are read from the commits themselves (one `git log --no-walk`), so what the judgement reads is
// always what git holds. The file is written whole to a temporary name and renamed, under the
// cache's lock (one run at a time).

import { createHash } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ClaimCommit, ClaimEdit, RepoSnapshot } from "../../core/model.js";
import { runGit } from "./git.js";
import type { ClaimBase, KnownClaim } from "./scan.js";
import type { SyncedRepo } from "./sync.js";

export const INDEX_FILE = "pool-boy-claims.json";
const FORMAT = "pool-boy claim index";
const VERSION = 1;
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

interface IndexBody {
  format: string;
  version: number;
  /** the repository (URL without credentials), as the cache's identity */
  repository: string;
  branch: string;
  head: string;
  /** the pools scanned at head, sorted */
  pools: string[];
  /** lock path → claim sha (null: none found) and edit shas, newest first */
  claims: Record<string, { claim: string | null; edits: string[] }>;
}

interface IndexFile {
  body: IndexBody;
  /** sha256 of JSON.stringify(body) */
  checksum: string;
}

export type IndexLoad = { base: ClaimBase & { pools: string[] }; problem: null } | { base: null; problem: string };

function checksum(body: IndexBody): string {
  return createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

/** Why `value` is not a well-formed index body, or null. */
function shapeProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return "not an object";
  const b = value as Partial<IndexBody>;
  if (b.format !== FORMAT || b.version !== VERSION) return "not a pool-boy claim index of this version";
  if (typeof b.repository !== "string" || typeof b.branch !== "string") return "no repository or branch";
  if (typeof b.head !== "string" || !SHA.test(b.head)) return "no head commit";
  if (!Array.isArray(b.pools) || !b.pools.every((p) => typeof p === "string")) return "no pool list";
  if (typeof b.claims !== "object" || b.claims === null || Array.isArray(b.claims)) return "no claims";
  for (const [path, entry] of Object.entries(b.claims)) {
    if (typeof entry !== "object" || entry === null) return `a bad entry for ${path}`;
    if (entry.claim !== null && (typeof entry.claim !== "string" || !SHA.test(entry.claim))) return `a bad claim commit for ${path}`;
    if (!Array.isArray(entry.edits) || !entry.edits.every((e) => typeof e === "string" && SHA.test(e))) return `bad edits for ${path}`;
  }
  return null;
}

/** The index of the cache `repo` lives in, as a scan base (the scan compares its pool set), or why it cannot be used. */
export async function loadClaimIndex(repo: SyncedRepo): Promise<IndexLoad> {
  const identity = repo.identity;
  if (!repo.cached) return { base: null, problem: "no cache" };
  let text: string;
  try {
    text = await readFile(join(repo.gitDir, INDEX_FILE), "utf8");
  } catch {
    return { base: null, problem: "no claim index yet" };
  }
  let parsed: Partial<IndexFile>;
  try {
    parsed = JSON.parse(text) as Partial<IndexFile>;
  } catch {
    return { base: null, problem: "the claim index is damaged (not JSON)" };
  }
  const shape = shapeProblem(parsed.body);
  if (shape !== null) return { base: null, problem: `the claim index is damaged (${shape})` };
  const body = parsed.body as IndexBody;
  if (parsed.checksum !== checksum(body)) return { base: null, problem: "the claim index is damaged (checksum)" };
  if (body.repository !== identity) return { base: null, problem: "the claim index is of another repository" };
  if (body.branch !== repo.branch) return { base: null, problem: `the claim index is of branch ${body.branch}` };

  // The commits' messages and dates, from git: every sha must be a commit the cache holds.
  const shas = new Set<string>();
  for (const entry of Object.values(body.claims)) {
    if (entry.claim) shas.add(entry.claim);
    for (const e of entry.edits) shas.add(e);
  }
  const commits = new Map<string, ClaimCommit>();
  if (shas.size > 0) {
    const result = await runGit(repo.target, ["log", "--no-walk=unsorted", "--stdin", "--no-color", "--no-show-signature", "--no-notes", "--encoding=UTF-8", "--format=%H%x00%ct%x00%B%x00"], {
      input: `${[...shas].join("\n")}\n`,
      allowFailure: true,
    });
    if (result.code !== 0) return { base: null, problem: "the claim index names commits the cache does not hold" };
    const fields = result.stdout.toString("utf8").split("\0");
    for (let i = 0; i + 2 < fields.length; i += 3) {
      const sha = (fields[i] ?? "").replace(/^\n+/, "");
      commits.set(sha, { sha, committedAt: new Date(Number(fields[i + 1]) * 1000), message: (fields[i + 2] ?? "").trimEnd() });
    }
    if ([...shas].some((sha) => !commits.has(sha))) return { base: null, problem: "the claim index names commits the cache does not hold" };
  }
  const claims = new Map<string, KnownClaim>();
  for (const [path, entry] of Object.entries(body.claims)) {
    const edits: ClaimEdit[] = entry.edits.map((sha) => ({ sha, committedAt: (commits.get(sha) as ClaimCommit).committedAt }));
    claims.set(path, { claim: entry.claim ? (commits.get(entry.claim) as ClaimCommit) : null, edits });
  }
  return { base: { head: body.head, claims, pools: [...body.pools] }, problem: null };
}

/** Writes the index for the snapshot's head (what the scan found there), replacing the old one. */
export async function saveClaimIndex(repo: SyncedRepo, snapshot: RepoSnapshot): Promise<void> {
  if (!repo.cached) return;
  const identity = repo.identity;
  const claims: IndexBody["claims"] = {};
  for (const lock of snapshot.locks) claims[lock.path] = { claim: lock.claim?.sha ?? null, edits: lock.editedAfterClaim.map((e) => e.sha) };
  const body: IndexBody = {
    format: FORMAT,
    version: VERSION,
    repository: identity,
    branch: snapshot.branch,
    head: snapshot.head,
    pools: snapshot.pools.map((p) => p.pool).sort(),
    claims,
  };
  const file = join(repo.gitDir, INDEX_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify({ body, checksum: checksum(body) } satisfies IndexFile)}\n`);
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}
