import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs, rejudge } from "../../src/decide/rejudge.js";
import type { BuildState, BuildStatus, ClaimedLock, JudgedLock, OwnerState } from "../../src/core/model.js";

const job = { kind: "job" as const, team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "12" };
const taker = { kind: "job" as const, team: "main", pipeline: "app", instanceVars: null, job: "smoke", name: "3" };
const oneOff = { kind: "one-off" as const, id: "77" };
const A = "a".repeat(40);
const B = "b".repeat(40);

function lock(sha: string | null): ClaimedLock {
  return { pool: "aws", name: "env-1", path: "aws/claimed/env-1", claim: sha ? { sha, committedAt: new Date("2026-11-30T10:00:00Z"), message: "m" } : null, editedAfterClaim: [], problem: null };
}
const state = (status: BuildStatus, ref: BuildState["ref"] = job): BuildState => ({ ref, status, id: 9 });
function before(owner: OwnerState, sha: string | null = A): JudgedLock {
  return {
    lock: lock(sha),
    claim: null,
    owner,
    verdict: { action: "keep", reason: "alive", detail: "d" },
    ageSeconds: 60,
    policy: { pool: "aws", timeoutSeconds: 7200 },
  };
}
const finished = (status: BuildStatus, ref: BuildState["ref"] = job, handedOff = false): OwnerState => ({ kind: "finished", holder: state(status, ref), handedOff });

// previous judgement | claim sha now | touched between the heads | expected
const cases: Array<[string, JudgedLock | undefined, string | null, boolean, "reuse" | "handoff" | "ask"]> = [
  ["a new claim", undefined, A, false, "ask"],
  ["failed owner, lock untouched", before(finished("failed")), A, false, "reuse"],
  ["errored owner, lock untouched", before(finished("errored")), A, false, "reuse"],
  ["aborted owner, lock untouched", before(finished("aborted")), A, false, "reuse"],
  ["failed owner, but the lock's paths were touched (released and claimed again, same bytes)", before(finished("failed")), A, true, "ask"],
  ["failed owner, another claim commit", before(finished("failed")), B, false, "ask"],
  ["failed owner, no claim commit found before", before(finished("failed"), null), null, false, "ask"],
  ["one-off build succeeded", before(finished("succeeded", oneOff)), A, false, "reuse"],
  ["job build succeeded, nothing downstream: the hand-off is asked again", before(finished("succeeded")), A, false, "handoff"],
  ["job build succeeded, a downstream job may take it", before({ kind: "waiting", holder: state("succeeded"), handedOff: false, candidates: ["smoke"] }), A, false, "handoff"],
  ["succeeded, hand-off data missing", before({ kind: "silent", why: "versions 404", cause: "handoff-unknown", holder: state("succeeded") }), A, false, "handoff"],
  ["handed off to a taker that failed: asked again from the owner on", before(finished("failed", taker, true)), A, false, "ask"],
  ["handed off to a running taker", before({ kind: "running", holder: state("started", taker), handedOff: true }), A, false, "ask"],
  ["pending owner", before({ kind: "running", holder: state("pending"), handedOff: false }), A, false, "ask"],
  ["started owner", before({ kind: "running", holder: state("started"), handedOff: false }), A, false, "ask"],
  ["owner not found (404)", before({ kind: "silent", why: "404", cause: "not-found", holder: null }), A, false, "ask"],
  ["API unreachable", before({ kind: "unreachable", why: "timeout", cause: "api-error" }), A, false, "ask"],
  ["no access (403)", before({ kind: "unreachable", why: "403", cause: "no-access", access: { team: "main", status: 403 } }), A, false, "ask"],
  ["the claim names no build", before({ kind: "silent", why: "no build", cause: "no-owner", holder: null }), A, false, "ask"],
  ["succeeded owner but the lock was touched", before(finished("succeeded")), A, true, "ask"],
];

test("after this run's own push (answers had just now): every answer about an untouched lock with the same claim holds", () => {
  const running: OwnerState = { kind: "running", holder: state("started"), handedOff: false };
  assert.equal(rejudge(before(running), lock(A), false, true).kind, "reuse");
  assert.equal(rejudge(before(finished("succeeded")), lock(A), false, true).kind, "reuse");
  assert.equal(rejudge(before(running), lock(A), true, true).kind, "ask", "touched");
  assert.equal(rejudge(before(running), lock(B), false, true).kind, "ask", "another claim");
  assert.equal(rejudge(undefined, lock(A), false, true).kind, "ask", "new");
});

test("after a lost race: which answers are reused, which hand-offs and owners are asked again", () => {
  for (const [what, previous, sha, touched, expected] of cases) {
    const decision = rejudge(previous, lock(sha), touched);
    assert.equal(decision.kind, expected, what);
    assert.ok(decision.why.length > 0, what);
    if (decision.kind === "handoff") assert.deepEqual(decision.claimer, { ...state("succeeded"), ref: job }, what);
  }
});

test("retry at once after the first refused push, then a short jittered backoff that doubles up to a cap", () => {
  // attempts refused so far | random | wait (ms)
  const table: Array<[number, number, number]> = [
    [1, 0, 0],
    [1, 0.99, 0],
    [2, 0, 50],
    [2, 1, 100],
    [3, 0, 100],
    [3, 0.5, 150],
    [4, 1, 400],
    [4, 0, 200],
    [5, 0, 200],
    [5, 1, 400],
    [20, 1, 400],
    [20, 0, 200],
  ];
  for (const [attempts, random, ms] of table) assert.equal(backoffMs(attempts, random), ms, `${attempts} attempts, random ${random}`);
});
