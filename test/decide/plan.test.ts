import { test } from "node:test";
import assert from "node:assert/strict";
import { planRelease, releaseMessage } from "../../src/decide/plan.js";
import type { JudgedLock, OwnerState, Verdict } from "../../src/core/model.js";

const deploy = { kind: "job" as const, team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "12" };
const test7 = { kind: "job" as const, team: "main", pipeline: "app", instanceVars: null, job: "test", name: "7" };

function judged(name: string, verdict: Verdict, owner: OwnerState, problem: string | null = null, pool = "aws"): JudgedLock {
  return {
    lock: { pool, name, path: `${pool}/claimed/${name}`, claim: { sha: "a".repeat(40), committedAt: new Date("2026-11-23T09:00:00Z"), message: "x" }, editedAfterClaim: [], problem },
    claim: { operation: "claiming", owner: deploy, format: "team-build", note: null },
    owner,
    verdict,
    ageSeconds: 3 * 3600,
    policy: { pool, timeoutSeconds: 7200 },
  };
}
const release = (reason: "finished" | "stale", detail = "d"): Verdict => ({ action: "release", reason, detail });
const keep = (reason: "alive" | "young" | "unknown" | "conflict"): Verdict => ({ action: "keep", reason, detail: "d" });
const finished: OwnerState = { kind: "finished", holder: { ref: deploy, status: "failed", id: 1 }, handedOff: false };

test("only released locks move, claimed → unclaimed, sorted, one move per lock", () => {
  const plan = planRelease("b".repeat(40), "main", [
    judged("z-lock", release("finished"), finished),
    judged("a-lock", release("stale"), { kind: "silent", why: "no API", cause: "no-api", holder: null }),
    judged("kept", keep("alive"), { kind: "running", holder: { ref: deploy, status: "started", id: 1 }, handedOff: false }),
    judged("young", keep("young"), { kind: "silent", why: "no API", cause: "no-api", holder: null }),
    judged("other", release("finished"), finished, null, "gcp"),
  ]);
  assert.equal(plan.base, "b".repeat(40));
  assert.equal(plan.branch, "main");
  assert.deepEqual(plan.moves.map((m) => [m.from, m.to]), [
    ["aws/claimed/a-lock", "aws/unclaimed/a-lock"],
    ["aws/claimed/z-lock", "aws/unclaimed/z-lock"],
    ["gcp/claimed/other", "gcp/unclaimed/other"],
  ]);
});

test("a conflicting lock is never moved, whatever its verdict says", () => {
  const plan = planRelease("b".repeat(40), "main", [judged("both", release("stale"), finished, "also in unclaimed/")]);
  assert.equal(plan.moves.length, 0);
});

test("the message starts with the pool-resource's word and says why", () => {
  const msg = releaseMessage(judged("lock-a", release("finished", "deploy #12 failed"), finished));
  const lines = msg.split("\n");
  assert.equal(lines[0], "unclaiming: lock-a");
  assert.equal(lines[1], "", "a blank line keeps the subject to the pool-resource's one line");
  assert.match(msg, /Released by pool-boy \(finished\): deploy #12 failed\./);
  assert.match(msg, /Claimed by: main\/app\/deploy #12/);
  assert.match(msg, /Build state: failed/);
  assert.match(msg, /Claim commit: a{40} \(2026-11-23T09:00:00.000Z, 3h ago\)/);
});

test("a handed-off lock's message names the last holder and its state", () => {
  const owner: OwnerState = { kind: "finished", holder: { ref: test7, status: "failed", id: 7 }, handedOff: true };
  const msg = releaseMessage(judged("lock-a", release("finished"), owner));
  assert.match(msg, /Last holder: main\/app\/test #7 \(failed\)/);
});

test("an unknown owner says so", () => {
  const j = judged("lock-a", release("stale"), { kind: "silent", why: "x", cause: "no-owner", holder: null });
  j.claim = { operation: null, owner: null, format: "none", note: "free text" };
  assert.match(releaseMessage(j), /Claimed by: unknown/);
});
