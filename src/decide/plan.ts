// verdicts → ReleasePlan: which files move and the commit message of each. Pure.

import type { JudgedLock, OwnerState, PoolInventory, ReleaseMove, ReleasePlan } from "../core/model.js";
import { describeRef } from "./owner.js";
import { formatAge } from "../core/durations.js";
import { releaseTarget } from "./policy.js";

/** A release by hand: its reason, who ran it, --to, and whose build a forced release took it from. */
export interface ManualNote {
  reason: string;
  by: string;
  to: string | null;
  /** null: not forced */
  takenFrom: string | null;
}

function ownerLines(j: JudgedLock, owner: OwnerState): string[] {
  const lines: string[] = [];
  if (j.claim?.owner) lines.push(`Claimed by: ${describeRef(j.claim.owner)}`);
  else lines.push("Claimed by: unknown (the claim commit names no build)");
  if ((owner.kind === "finished" || owner.kind === "waiting") && owner.handedOff)
    lines.push(`Last holder: ${describeRef(owner.holder.ref)} (${owner.holder.status})`);
  else if (owner.kind === "finished" || owner.kind === "waiting")
    lines.push(`Build state: ${owner.holder.status}`);
  else if (owner.kind === "silent" && owner.holder) lines.push(`Build state: ${owner.holder.status}`);
  return lines;
}

export function releaseMessage(j: JudgedLock, manual: ManualNote | null = null): string {
  const lines = [`unclaiming: ${j.lock.name}`, ""];
  if (manual) {
    lines.push(`Released by hand by ${manual.by} with pool-boy: ${manual.reason}`);
    if (manual.takenFrom) lines.push(`Taken by force from: ${manual.takenFrom}`);
  } else lines.push(`Released by pool-boy (${j.verdict.reason}): ${j.verdict.detail}.`);
  const target = releaseTarget(j, manual?.to ?? null);
  if (target !== j.lock.pool) lines.push(`Quarantined: moved to ${target}/unclaimed/ (release-to), not back to ${j.lock.pool}`);
  lines.push(...ownerLines(j, j.owner));
  if (j.lock.claim) {
    const age = j.ageSeconds === null ? "" : `, ${formatAge(j.ageSeconds)} ago`;
    lines.push(`Claim commit: ${j.lock.claim.sha} (${j.lock.claim.committedAt.toISOString()}${age})`);
  }
  return lines.join("\n");
}

/** The line a commit that adds POOL/claimed/.gitkeep carries, saying why. */
export function gitkeepLine(path: string): string {
  return `Added ${path}: this commit moves the last lock out of claimed/, and git keeps no empty folder (without claimed/ the pool-resource cannot claim and the pool looks gone).`;
}

/**
 * One commit per released lock, claimed/ → unclaimed/ (or release-to's unclaimed/). `pools` is
 * what the base holds: a commit that empties a pool's claimed/ adds POOL/claimed/.gitkeep unless
 * a dot-file keeps it already. `manual`: a release by hand (reason, who, --to, forced from whom).
 */
export function planRelease(base: string, branch: string, judged: JudgedLock[], pools: PoolInventory[], manual: ManualNote | null = null): ReleasePlan {
  const moves: ReleaseMove[] = judged
    .filter((j) => j.verdict.action === "release" && j.lock.problem === null)
    .sort((a, b) => a.lock.path.localeCompare(b.lock.path))
    .map((j) => ({
      pool: j.lock.pool,
      name: j.lock.name,
      from: j.lock.path,
      to: `${releaseTarget(j, manual?.to ?? null)}/unclaimed/${j.lock.name}`,
      message: releaseMessage(j, manual),
    }));
  for (const inventory of pools) {
    if (inventory.claimedKept) continue;
    const leaving = moves.filter((m) => m.pool === inventory.pool && m.from === `${inventory.pool}/claimed/${m.name}`);
    const last = leaving[leaving.length - 1];
    // Everything in claimed/ leaves: the last of these commits would leave it empty.
    if (!last || leaving.length < inventory.claimed.length) continue;
    if (!inventory.claimed.every((name) => leaving.some((m) => m.name === name))) continue;
    last.gitkeep = `${inventory.pool}/claimed/.gitkeep`;
    last.message = `${last.message}\n${gitkeepLine(last.gitkeep)}`;
  }
  return { base, branch, moves };
}
