// lock + owner state + pool policy + now → Verdict. Pure.
//
// A running build's lock is never taken. A finished holder's lock is given back. When the API
// cannot say (Concourse's own 404, no owner, another Concourse), the pool's timeout decides; when
// it fails for a moment or gives an answer Concourse never writes, the lock is kept this run; when
// the build may not be read (401/403), the lock is kept, whatever its age.

import type { ClaimedLock, OwnerState, PoolPolicy, Verdict } from "../core/model.js";
import { shortRef } from "./owner.js";
import { formatAge, formatTimeout } from "../core/durations.js";

export function ageSeconds(lock: ClaimedLock, now: Date): number | null {
  if (!lock.claim) return null;
  // A claim dated in the future (clock skew between committers) counts as brand new.
  return Math.max(0, Math.floor((now.getTime() - lock.claim.committedAt.getTime()) / 1000));
}

export function judge(lock: ClaimedLock, owner: OwnerState, policy: PoolPolicy, now: Date): Verdict {
  if (lock.problem) return { action: "keep", reason: "conflict", detail: lock.problem };
  switch (owner.kind) {
    case "running": {
      const via = owner.handedOff ? " (handed off)" : "";
      return { action: "keep", reason: "alive", detail: `${shortRef(owner.holder.ref)} is ${owner.holder.status}${via}` };
    }
    case "finished": {
      const via = owner.handedOff ? " after the hand-off" : "";
      return { action: "release", reason: "finished", detail: `${shortRef(owner.holder.ref)} ${owner.holder.status}${via}` };
    }
    case "unreachable":
      // 401 and 403 never lead to a release: a build pool-boy may not see is not a build that is gone
      if (owner.cause === "no-access")
        return { action: "keep", reason: "unknown", detail: `${owner.why}; kept until pool-boy may read the build (never by age)` };
      return { action: "keep", reason: "unknown", detail: `the API gave no usable answer: ${owner.why}; kept this run` };
    case "waiting":
    case "silent": {
      const why =
        owner.kind === "waiting"
          ? `waiting for ${owner.candidates.join(", ")} to take it`
          : owner.why;
      const age = ageSeconds(lock, now);
      if (age === null) return { action: "keep", reason: "unknown", detail: `${why}; no claim commit found to age it` };
      if (policy.timeoutSeconds === null)
        return { action: "keep", reason: "young", detail: `${why}; the pool's timeout is never` };
      if (age > policy.timeoutSeconds)
        return {
          action: "release",
          reason: "stale",
          detail: `${why}; claimed ${formatAge(age)} ago, over the ${formatTimeout(policy.timeoutSeconds)} timeout`,
        };
      return {
        action: "keep",
        reason: "young",
        detail: `${why}; claimed ${formatAge(age)} ago, within the ${formatTimeout(policy.timeoutSeconds)} timeout`,
      };
    }
  }
}
