// Operator policy on top of the verdicts. Pure.
// - quarantine (release-to): a lock to release goes to another pool's unclaimed/; when that pool
//   is missing or already has a lock of that name (claimed or unclaimed), it is kept (conflict).
// - release by hand: which locks a person may release, and with --force, whose build it was taken from.

import { fail, ok, type Refusal, type Result } from "../core/result.js";
import type { Hold, JudgedLock, RepoSnapshot, Verdict } from "../core/model.js";
import { describeRef, shortRef } from "./owner.js";
import { holdActive, describeHold } from "./holds.js";

/** Where a released lock goes: its pool's unclaimed/, or release-to's. */
export function releaseTarget(j: JudgedLock, override: string | null = null): string {
  return override ?? j.policy.releaseTo ?? j.lock.pool;
}

/**
 * Turns a release into keep (conflict) when its target cannot take the lock: the target pool does
 * not exist, or already has a lock of that name, or another release of this run goes there too.
 */
export function checkTargets(judged: JudgedLock[], snapshot: RepoSnapshot, override: string | null = null): JudgedLock[] {
  const taken = new Set<string>();
  for (const p of snapshot.pools) for (const n of [...p.claimed, ...p.unclaimed]) taken.add(`${p.pool}\0${n}`);
  return judged.map((j) => {
    if (j.verdict.action !== "release") return j;
    const target = releaseTarget(j, override);
    if (target === j.lock.pool) return j;
    const conflict = (why: string): JudgedLock => ({
      ...j,
      verdict: { action: "keep", reason: "conflict", detail: `${j.verdict.detail}; but ${why}` },
    });
    if (!snapshot.pools.some((p) => p.pool === target))
      return conflict(`its release-to pool "${target}" does not exist (no ${target}/claimed/ and ${target}/unclaimed/)`);
    const key = `${target}\0${j.lock.name}`;
    if (taken.has(key)) return conflict(`${target} already has a lock named ${j.lock.name}`);
    taken.add(key);
    return j;
  });
}

/** The verdict of a release by hand, and whose build a forced one takes it from (null: not forced). */
export type ManualRelease = Result<{ verdict: Verdict; forced: string | null }, Refusal>;

/**
 * Whether a person may release this lock by hand. Refused, unless forced, when the owner build
 * is running (alive), cannot be vouched for (unknown: the API failed; or the claim names a build
 * the API cannot say about, or a downstream job may still take it, and clean would keep it), or
 * the lock is held. A claim made by hand (no build named) is the person's call. A lock in
 * claimed/ and unclaimed/ at once is never moved.
 */
export function decideManualRelease(j: JudgedLock, hold: Hold | null, force: boolean, now: Date): ManualRelease {
  const name = `${j.lock.pool}/${j.lock.name}`;
  if (j.lock.problem) return fail({ why: `${name} cannot be moved: ${j.lock.problem}`, hint: "fix the repository by hand (pool-boy doctor lists what is wrong)" });
  const o = j.owner;
  let refusal: string | null = null;
  let taken: string | null = null;
  if (hold && holdActive(hold, now)) {
    refusal = `it is ${describeHold(hold)}`;
    taken = `the hold of ${hold.by}`;
  } else if (o.kind === "running") {
    refusal = `its owner ${shortRef(o.holder.ref)} is ${o.holder.status}${o.handedOff ? " (handed off)" : ""}`;
    taken = `${describeRef(o.holder.ref)} (${o.holder.status})`;
  } else if (o.kind === "unreachable") {
    refusal = `its owner cannot be asked: ${o.why}`;
    taken = `${j.claim?.owner ? describeRef(j.claim.owner) : "an unknown owner"} (state unknown)`;
  } else if (o.kind === "silent" && j.claim?.owner && j.verdict.action !== "release") {
    // A named build the API cannot vouch for (no API, no access, not found, hand-off unknown) may
    // be running: unknown, as long as clean would keep it too.
    refusal = `its owner ${shortRef(j.claim.owner)} cannot be vouched for: ${o.why}`;
    taken = `${describeRef(j.claim.owner)} (state unknown)`;
  } else if (o.kind === "waiting" && j.verdict.action !== "release") {
    refusal = `${shortRef(o.holder.ref)} succeeded and ${o.candidates.join(", ")} may still take it`;
    taken = `${describeRef(o.holder.ref)}, waiting for ${o.candidates.join(", ")}`;
  }
  const detail = `released by hand`;
  if (refusal === null) return ok({ verdict: { action: "release", reason: j.verdict.action === "release" ? j.verdict.reason : "stale", detail }, forced: null });
  if (!force) return fail({ why: `refusing to release ${name}: ${refusal}`, hint: "nothing was changed; add --force to take it anyway (the commit will name whose build it was taken from)" });
  return ok({ verdict: { action: "release", reason: j.verdict.action === "release" ? j.verdict.reason : "stale", detail: `${detail}, by force: ${refusal}` }, forced: taken });
}
