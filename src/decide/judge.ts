// lock + owner state + pool policy + now → Verdict. Pure.
//
// A running build's lock is never taken. A finished holder's lock is given back. When the API
// cannot say (Concourse's own 404, no owner, another Concourse), the pool's timeout decides; when
// it fails for a moment or gives an answer Concourse never writes, the lock is kept this run; when
// the build may not be read (401/403), the lock is kept, whatever its age.

import type { ClaimedLock, Hold, OwnerState, PoolPolicy, Verdict } from "../core/model.js";
import { shortRef } from "./owner.js";
import { formatAge, formatTimeout } from "../core/durations.js";
import { holdActive, describeHold } from "./holds.js";

/**
 * Seconds since the claim commit's date. A claim dated in the future (the claimer's clock is
 * ahead) is 0 seconds old until that date comes, and its age then counts from that date: a
 * skewed claim is released later, never earlier.
 */
export function ageSeconds(lock: ClaimedLock, now: Date): number | null {
  if (!lock.claim) return null;
  return Math.max(0, Math.floor((now.getTime() - lock.claim.committedAt.getTime()) / 1000));
}

/** Seconds the claim commit is dated ahead of `now` (clock skew); 0 when it is not, null without a claim commit. */
export function aheadSeconds(lock: ClaimedLock, now: Date): number | null {
  if (!lock.claim) return null;
  return Math.max(0, Math.floor((lock.claim.committedAt.getTime() - now.getTime()) / 1000));
}

/**
 * `hold`: a person's hold on this lock, if any: while active, the lock is kept (reason held).
 * A failed or errored holder's lock stays for the pool's keep-failed window after its build
 * ended (reason debug-window); when the end is not known, the window counts from the claim.
 */
export function judge(lock: ClaimedLock, owner: OwnerState, policy: PoolPolicy, now: Date, hold: Hold | null = null): Verdict {
  if (lock.problem) return { action: "keep", reason: "conflict", detail: lock.problem };
  if (hold && holdActive(hold, now)) return { action: "keep", reason: "held", detail: describeHold(hold) };
  switch (owner.kind) {
    case "running": {
      const via = owner.handedOff ? " (handed off)" : "";
      return { action: "keep", reason: "alive", detail: `${shortRef(owner.holder.ref)} is ${owner.holder.status}${via}` };
    }
    case "finished": {
      const via = owner.handedOff ? " after the hand-off" : "";
      const window = policy.keepFailedSeconds ?? null;
      if (window !== null && window > 0 && (owner.holder.status === "failed" || owner.holder.status === "errored")) {
        const ended = owner.holder.endTime ?? null;
        const from = ended !== null ? ended * 1000 : (lock.claim?.committedAt.getTime() ?? null);
        const since = from === null ? null : Math.max(0, Math.floor((now.getTime() - from) / 1000));
        const what = ended !== null ? "ended" : "was claimed (end time unknown)";
        if (since === null || since < window)
          return {
            action: "keep",
            reason: "debug-window",
            detail: `${shortRef(owner.holder.ref)} ${owner.holder.status}${via}; kept for debugging: it ${what} ${since === null ? "at an unknown time" : `${formatAge(since)} ago`}, within keep-failed ${formatTimeout(window)}`,
          };
        return { action: "release", reason: "finished", detail: `${shortRef(owner.holder.ref)} ${owner.holder.status}${via}; the keep-failed ${formatTimeout(window)} window is over` };
      }
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
      if (policy.unset)
        return { action: "keep", reason: "no-timeout", detail: `${why}; no timeout given for the pool (--pools), so only the API can release it` };
      if (age === null) return { action: "keep", reason: "unknown", detail: `${why}; no claim commit found to age it` };
      if (policy.timeoutSeconds === null)
        return { action: "keep", reason: "no-timeout", detail: `${why}; the pool has no timeout (never), so only the API can release it` };
      // Never released by age while dated in the future, whatever the timeout: the safe side.
      const ahead = aheadSeconds(lock, now) ?? 0;
      if (ahead > 0)
        return {
          action: "keep",
          reason: "young",
          detail: `${why}; the claim is dated ${formatAge(ahead)} ahead of this machine's clock (clock skew), so it is not aged until then`,
        };
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
