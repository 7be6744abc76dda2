// Holds: a person keeps a claimed lock out of clean's reach, for a while or until unhold. Pure.
//
// A hold is one small YAML file per lock at .pool-boy/holds/POOL/LOCK, on the pools' branch:
// versioned and auditable, and outside every pool's folder, because the pool-resource's `check`
// emits a new version for any commit under POOL/ (`git log REF..HEAD -- POOL`), which would
// trigger every job that triggers on the pool.

import { fail, ok, type Refusal, type Result } from "../core/result.js";
import { parse, stringify } from "yaml";
import type { Hold, RepoSnapshot } from "../core/model.js";
import { formatAge } from "../core/durations.js";

export const HOLDS_DIR = ".pool-boy/holds";

export function holdPath(pool: string, name: string): string {
  return `${HOLDS_DIR}/${pool}/${name}`;
}

/** POOL/LOCK of a hold file's path, or null when the path is not one. */
export function holdTarget(path: string): { pool: string; name: string } | null {
  if (!path.startsWith(`${HOLDS_DIR}/`)) return null;
  const rest = path.slice(HOLDS_DIR.length + 1).split("/");
  if (rest.length !== 2 || !rest[0] || !rest[1]) return null;
  return { pool: rest[0], name: rest[1] };
}

export function holdActive(hold: Hold, now: Date): boolean {
  return hold.until === null || hold.until.getTime() > now.getTime();
}

/** "held by alice since 2026-11-30 18:00 UTC until 2026-12-01 18:00 UTC: debugging the VPC" */
export function describeHold(hold: Hold): string {
  const until = hold.until ? `until ${stamp(hold.until)}` : "until unhold";
  return `held by ${hold.by} since ${stamp(hold.since)} ${until}: ${hold.reason}`;
}

function stamp(d: Date): string {
  return d.toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}

/** The text of a hold file. */
export function holdText(hold: Omit<Hold, "path" | "pool" | "name">): string {
  return stringify({
    by: hold.by,
    reason: hold.reason,
    since: hold.since.toISOString(),
    until: hold.until ? hold.until.toISOString() : "unhold",
    claim: hold.claim,
  });
}

/**
 * A hold file's text → Hold. A file that cannot be read still holds the lock (keeping is the
 * safe side): it becomes a hold until unhold, with the problem as its reason, and doctor reports it.
 */
export function parseHold(path: string, text: string): { hold: Hold; problem: string | null } | null {
  const target = holdTarget(path);
  if (!target) return null;
  const fallback = (problem: string) => ({
    hold: { ...target, path, by: "unknown", reason: `unreadable hold file (${problem})`, since: new Date(0), until: null, claim: null },
    problem,
  });
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    return fallback(`not valid YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return fallback("not a mapping");
  const d = data as Record<string, unknown>;
  const str = (k: string) => (typeof d[k] === "string" ? (d[k] as string) : typeof d[k] === "number" ? String(d[k]) : null);
  const since = str("since") === null ? null : new Date(str("since") as string);
  if (since === null || Number.isNaN(since.getTime())) return fallback(`since: ${JSON.stringify(d["since"] ?? null)} is not a time`);
  const untilText = str("until");
  let until: Date | null = null;
  if (untilText !== null && untilText !== "unhold" && untilText !== "never") {
    until = new Date(untilText);
    if (Number.isNaN(until.getTime())) return fallback(`until: ${JSON.stringify(untilText)} is not a time`);
  }
  return {
    hold: { ...target, path, by: str("by") ?? "unknown", reason: str("reason") ?? "", since, until, claim: str("claim") },
    problem: null,
  };
}

export type HoldDecision = Result<null, Refusal>;

/** Whether POOL/LOCK can be held now: it must exist in a pool and be claimed, and not be held already. */
export function decideHold(snapshot: RepoSnapshot, pool: string, name: string, existing: Hold | null, now: Date): HoldDecision {
  const inventory = snapshot.pools.find((p) => p.pool === pool);
  if (!inventory)
    return fail({
      why: `${pool}/${name}: there is no pool "${pool}" in the repository`,
      hint: snapshot.pools.length ? `the pools: ${snapshot.pools.map((p) => p.pool).join(", ")}` : "the repository has no pools",
    });
  if (!inventory.claimed.includes(name)) {
    if (inventory.unclaimed.includes(name))
      return fail({ why: `${pool}/${name} is not claimed: it is in ${pool}/unclaimed/`, hint: "only a claimed lock can be held; claim it first (or hold it once a build has it)" });
    return fail({ why: `${pool}/${name} does not exist: there is no lock "${name}" in pool ${pool}`, hint: `the locks of ${pool}: ${[...inventory.claimed, ...inventory.unclaimed].join(", ") || "none"}` });
  }
  if (existing && holdActive(existing, now))
    return fail({ why: `${pool}/${name} is already ${describeHold(existing)}`, hint: `run pool-boy unhold ${pool}/${name} first to change the hold` });
  return ok(null);
}

/** "expires in 3h" / "expired 2d ago" / "no end" for people. */
export function holdRemaining(hold: Hold, now: Date): string {
  if (!hold.until) return "until unhold";
  const left = Math.floor((hold.until.getTime() - now.getTime()) / 1000);
  return left > 0 ? `expires in ${formatAge(left)}` : `expired ${formatAge(-left)} ago`;
}
