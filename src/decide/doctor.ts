// What in the pool repository needs a human, from a snapshot of it. Pure; changes nothing.
//
// Each finding has a severity, a stable code (JSON), the words for people and the fix.

import type { Hold, ParsedClaim, BuildRef } from "../core/model.js";
import { holdActive, holdRemaining } from "./holds.js";
import { shortRef } from "./owner.js";
import { REPO_CONFIG_PATH } from "./config-file.js";

export type Severity = "error" | "warning";

export const FINDING_CODES = [
  "claimed-and-unclaimed",
  "missing-folder",
  "missing-gitkeep",
  "stray",
  "several-locks-one-build",
  "exhausted",
  "unknown-claim",
  "hold-expired",
  "hold-lock-missing",
  "hold-unreadable",
  "config-unknown-pool",
  "config-invalid",
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  severity: Severity;
  code: FindingCode;
  /** the pool concerned, or null */
  pool: string | null;
  /** the path in the repository concerned, or null */
  path: string | null;
  message: string;
  fix: string;
}

export interface DoctorInput {
  /** every entry of the head's tree, subtrees included */
  entries: Array<{ path: string; type: "blob" | "tree" | "commit"; mode: string }>;
  /** every claimed lock, with its parsed claim (null: no claim commit found) */
  claims: Array<{ pool: string; name: string; claim: ParsedClaim | null }>;
  holds: Hold[];
  holdProblems: Array<{ path: string; problem: string }>;
  /** pools named by a config file that the repository lacks */
  missingPools: Array<{ pool: string; source: string }>;
  /** the problems of the repository's .pool-boy/config.yaml, each with its line (none: it reads) */
  repoConfigProblems?: string[];
  now: Date;
}

function refKey(ref: BuildRef): string {
  return JSON.stringify(ref);
}

export function diagnose(input: DoctorInput): Finding[] {
  const findings: Finding[] = [];
  const add = (severity: Severity, code: FindingCode, pool: string | null, path: string | null, message: string, fix: string) =>
    findings.push({ severity, code, pool, path, message, fix });

  const byPath = new Map(input.entries.map((e) => [e.path, e]));
  const topDirs = input.entries.filter((e) => e.type === "tree" && !e.path.includes("/") && !e.path.startsWith(".")).map((e) => e.path);
  const isTree = (p: string) => byPath.get(p)?.type === "tree";
  // A pool: a top-level folder with claimed/ or unclaimed/ (both, when healthy).
  const pools = topDirs.filter((d) => isTree(`${d}/claimed`) || isTree(`${d}/unclaimed`)).sort();

  for (const pool of pools) {
    const lists: Record<"claimed" | "unclaimed", string[]> = { claimed: [], unclaimed: [] };
    for (const side of ["claimed", "unclaimed"] as const) {
      const dir = `${pool}/${side}`;
      if (!isTree(dir)) {
        add("error", "missing-folder", pool, `${dir}/`, `pool ${pool} has no ${side}/ folder: the pool-resource fails on it`, `add ${dir}/.gitkeep (an empty file) and commit it`);
        continue;
      }
      if (!byPath.has(`${dir}/.gitkeep`))
        add("warning", "missing-gitkeep", pool, `${dir}/.gitkeep`, `${dir}/ has no .gitkeep: when its last lock leaves, git drops the folder and the pool breaks`, `add ${dir}/.gitkeep (an empty file) and commit it`);
    }
    for (const e of input.entries) {
      if (!e.path.startsWith(`${pool}/`) || e.path === `${pool}/claimed` || e.path === `${pool}/unclaimed`) continue;
      const rest = e.path.slice(pool.length + 1).split("/");
      const side = rest[0];
      if ((side === "claimed" || side === "unclaimed") && rest.length === 2) {
        const name = rest[1] as string;
        if (name === ".gitkeep") continue;
        if (e.type === "blob" && e.mode !== "120000" && !name.startsWith(".")) {
          lists[side].push(name);
          continue;
        }
      } else if ((side === "claimed" || side === "unclaimed") && rest.length > 2) continue; // reported with its folder
      const what = e.type === "tree" ? "folder" : e.type === "commit" ? "submodule" : e.mode === "120000" ? "symbolic link" : "file";
      add("warning", "stray", pool, e.path, `${e.path} is a stray ${what} in pool ${pool}: a pool holds only lock files in claimed/ and unclaimed/`, `move or remove ${e.path}${e.type === "tree" ? "/" : ""} (the pool-resource may take it for a lock)`);
    }
    const unclaimed = new Set(lists.unclaimed);
    for (const name of lists.claimed)
      if (unclaimed.has(name))
        add("error", "claimed-and-unclaimed", pool, `${pool}/claimed/${name}`, `${pool}/${name} is in claimed/ and unclaimed/ at once: two builds can take it`, `find who holds it (pool-boy status), then remove ${pool}/unclaimed/${name} if it is in use, else ${pool}/claimed/${name}`);
    if (isTree(`${pool}/unclaimed`) || isTree(`${pool}/claimed`))
      if (lists.unclaimed.length === 0)
        add("warning", "exhausted", pool, `${pool}/unclaimed/`, `pool ${pool} is exhausted: no unclaimed lock (${lists.claimed.length} claimed); builds that need one wait`, `release what is stale (pool-boy clean), or add locks to ${pool}/unclaimed/`);
  }

  // One build holding several locks of one pool (pool-resource #25).
  const owners = new Map<string, { pool: string; ref: BuildRef; names: string[] }>();
  for (const c of input.claims) {
    const ref = c.claim?.owner;
    if (!ref) continue;
    const key = `${c.pool}\0${refKey(ref)}`;
    const seen = owners.get(key) ?? { pool: c.pool, ref, names: [] };
    seen.names.push(c.name);
    owners.set(key, seen);
  }
  for (const o of owners.values())
    if (o.names.length > 1)
      add("warning", "several-locks-one-build", o.pool, null, `${shortRef(o.ref)} holds ${o.names.length} locks of pool ${o.pool}: ${o.names.sort().join(", ")}`, `check the job's puts; release the extra lock by hand (pool-boy release ${o.pool}/LOCK --reason …) once the build is done with it`);

  for (const c of input.claims) {
    if (c.claim && c.claim.owner) continue;
    const why = c.claim ? (c.claim.note ?? "its claim commit names no build") : "no commit in the history put it there";
    add("warning", "unknown-claim", c.pool, `${c.pool}/claimed/${c.name}`, `${c.pool}/${c.name}: the claim is in no known format (${why}): only the timeout can release it`, `if nobody uses it: pool-boy release ${c.pool}/${c.name} --reason …; claims made by hand should say who and why`);
  }

  const claimed = new Set(input.claims.map((c) => `${c.pool}/${c.name}`));
  for (const h of input.holds) {
    const target = `${h.pool}/${h.name}`;
    if (input.holdProblems.some((p) => p.path === h.path)) continue;
    if (!holdActive(h, input.now))
      add("warning", "hold-expired", h.pool, h.path, `the hold on ${target} by ${h.by} ${holdRemaining(h, input.now)} (${h.reason})`, `pool-boy unhold ${target}`);
    else if (!claimed.has(target))
      add("warning", "hold-lock-missing", h.pool, h.path, `the hold on ${target} by ${h.by} names a lock that is not claimed`, `pool-boy unhold ${target}`);
  }
  for (const p of input.holdProblems)
    add("error", "hold-unreadable", null, p.path, `${p.path} cannot be read as a hold: ${p.problem}; it still keeps its lock`, `fix or remove ${p.path} (pool-boy unhold POOL/LOCK removes a hold)`);
  for (const m of input.missingPools)
    add("warning", "config-unknown-pool", m.pool, null, `${m.source} names pool "${m.pool}", which the repository does not have`, `remove "${m.pool}" from ${m.source.replace(/^--config /, "")}, or create the pool (${m.pool}/claimed/.gitkeep, ${m.pool}/unclaimed/.gitkeep)`);

  const problems = input.repoConfigProblems ?? [];
  if (problems.length > 0)
    add(
      "error",
      "config-invalid",
      null,
      REPO_CONFIG_PATH,
      `${REPO_CONFIG_PATH} cannot be read, so status and clean refuse to run: ${problems.join("; ")}`,
      `fix ${REPO_CONFIG_PATH} at the lines named and push it (the settings are timeout, keep-failed, release-to)`,
    );

  const rank = (s: Severity) => (s === "error" ? 0 : 1);
  const byCodeUnit = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return findings.sort((a, b) => rank(a.severity) - rank(b.severity) || byCodeUnit(a.pool ?? "", b.pool ?? "") || byCodeUnit(a.path ?? "", b.path ?? ""));
}
