// After a lost push race: which of the previous judgement's answers still hold at the new head.
// Pure: the previous judgement, the lock as the new head has it, and whether any commit between
// the two heads touched the lock's claimed/ or unclaimed/ path.
//
// A Concourse build never leaves a final state (a rerun is another build), so an owner found
// failed, errored or aborted stays so, and the answer about a lock that did not move is reused.
// A succeeded build may hand its lock on at any time: its own state is kept, the hand-off is
// asked again. Anything else (pending, started, not found, unreachable, no build named) is asked
// again, and a lock that is new or was touched is judged from scratch. Reusing never releases
// more than a fresh judgement would: the answers reused are the ones a fresh lookup must repeat.

import type { BuildRef, BuildState, ClaimedLock, JudgedLock } from "../core/model.js";

export type Rejudge =
  /** the previous answer holds: no request */
  | { kind: "reuse"; why: string }
  /** the claimer succeeded: its state holds, the hand-off is asked again */
  | { kind: "handoff"; claimer: BuildState & { ref: Extract<BuildRef, { kind: "job" }> }; why: string }
  /** ask the API again from the owner lookup on */
  | { kind: "ask"; why: string };

const FAILED: ReadonlySet<string> = new Set(["failed", "errored", "aborted"]);

/**
 * previous: the lock's judgement on the old head (undefined: it was not claimed there);
 * touched: a commit between the two heads changed POOL/claimed/NAME or POOL/unclaimed/NAME;
 * fresh: the previous answers were had just now, while this run pushed other releases (not
 * before a lost race): every answer about an untouched lock holds, as in a single round.
 */
export function rejudge(previous: JudgedLock | undefined, lock: ClaimedLock, touched: boolean, fresh = false): Rejudge {
  if (previous === undefined) return { kind: "ask", why: "a new claim" };
  if (touched) return { kind: "ask", why: "the lock moved or changed since" };
  const before = previous.lock.claim?.sha ?? null;
  const now = lock.claim?.sha ?? null;
  if (before === null || now === null || before !== now) return { kind: "ask", why: "another claim commit" };
  if (fresh) return { kind: "reuse", why: "answered during this run's previous push" };
  const owner = previous.owner;
  if (owner.kind === "finished" && !owner.handedOff) {
    const { holder } = owner;
    if (FAILED.has(holder.status)) return { kind: "reuse", why: `the owner ${holder.status}` };
    if (holder.status === "succeeded" && holder.ref.kind === "one-off") return { kind: "reuse", why: "a one-off build succeeded (one-off builds hand nothing on)" };
  }
  // The claimer itself succeeded (a hand-off was looked for): keep its state, ask about the hand-off.
  let claimerState: BuildState | null = null;
  if (owner.kind === "silent") claimerState = owner.holder;
  else if ((owner.kind === "finished" || owner.kind === "waiting") && !owner.handedOff) claimerState = owner.holder;
  if (claimerState && claimerState.status === "succeeded" && claimerState.ref.kind === "job" && claimerState.id !== null) {
    return { kind: "handoff", claimer: { ...claimerState, ref: claimerState.ref }, why: "the owner succeeded: the hand-off is asked again" };
  }
  return { kind: "ask", why: owner.kind === "running" ? `the owner was ${owner.holder.status}` : "no final answer before" };
}

/** The longest wait between two push attempts (the first retry does not wait at all). */
export const BACKOFF_CAP_MS = 400;
const BACKOFF_BASE_MS = 50;

/**
 * How long to wait before the next attempt after `attempts` refused pushes: nothing after the
 * first (the next round is short: only what changed is judged again), then a jittered wait that
 * doubles, 50–100 ms, 100–200 ms, then 200–400 ms, so that two runs that lost to each other do
 * not meet again. random: [0, 1).
 */
export function backoffMs(attempts: number, random: number): number {
  if (attempts <= 1) return 0;
  const cap = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1));
  return Math.round(cap * (0.5 + Math.min(Math.max(random, 0), 1) / 2));
}
