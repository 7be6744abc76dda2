// The resource's version: the set of locks `clean` would release, as a short stable digest.
// A lock is in the set with its claim commit, so the same lock claimed again and left stale again
// is a new member (and a new version).

import { createHash } from "node:crypto";
import type { JudgedLock, RunResult } from "../core/model.js";

/** A Concourse version: string values only. */
export interface ResourceVersion {
  /** sha256 of the sorted members, 16 hex digits; "none" for the empty set */
  set: string;
  /** how many locks are in the set */
  releasable: string;
}

export const EMPTY_VERSION: ResourceVersion = { set: "none", releasable: "0" };

export function releasable(result: RunResult): JudgedLock[] {
  return result.locks
    .filter((j) => j.verdict.action === "release")
    .sort((a, b) => `${a.lock.pool}/${a.lock.name}`.localeCompare(`${b.lock.pool}/${b.lock.name}`));
}

/** `POOL/LOCK@CLAIM-SHA`, sorted. */
export function members(result: RunResult): string[] {
  return releasable(result)
    .map((j) => `${j.lock.pool}/${j.lock.name}@${j.lock.claim?.sha ?? "unknown"}`)
    .sort();
}

export function versionOf(set: string[]): ResourceVersion {
  if (set.length === 0) return { ...EMPTY_VERSION };
  const digest = createHash("sha256").update([...set].sort().join("\n")).digest("hex").slice(0, 16);
  return { set: digest, releasable: String(set.length) };
}

/** Whether `value` is a version this resource emitted. */
export function isResourceVersion(value: unknown): value is ResourceVersion {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["set"] === "string" && typeof v["releasable"] === "string";
}
