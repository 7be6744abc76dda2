import { test } from "node:test";
import assert from "node:assert/strict";
import { checkTargets, decideManualRelease } from "../../src/decide/policy.js";
import { planRelease } from "../../src/decide/plan.js";
import type { BuildState, Hold, JudgedLock, OwnerState, RepoSnapshot, Verdict } from "../../src/core/model.js";

const NOW = new Date("2026-11-30T12:00:00Z");
const deploy: BuildState["ref"] = { kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "7" };
const release: Verdict = { action: "release", reason: "finished", detail: "deploy #7 failed" };
const keep: Verdict = { action: "keep", reason: "alive", detail: "deploy #7 is started" };

function judged(pool: string, name: string, verdict: Verdict, releaseTo: string | null = null, owner: OwnerState = { kind: "silent", why: "the claim commit does not name a build", cause: "no-owner", holder: null }, problem: string | null = null): JudgedLock {
  return {
    lock: { pool, name, path: `${pool}/claimed/${name}`, claim: { sha: "c".repeat(40), committedAt: new Date(NOW.getTime() - 3_600_000), message: `claiming: ${name}` }, editedAfterClaim: [], problem },
    claim: { operation: "claiming", owner: owner.kind === "silent" ? null : deploy, format: owner.kind === "silent" ? "none" : "team-build", note: null },
    owner,
    verdict,
    ageSeconds: 3600,
    policy: { pool, timeoutSeconds: 7200, keepFailedSeconds: null, releaseTo },
  };
}
const snapshot: RepoSnapshot = {
  branch: "main",
  head: "h".repeat(40),
  pools: [
    { pool: "aws", claimed: ["env-1", "env-2", "env-3"], unclaimed: [], claimedKept: true },
    { pool: "gcp", claimed: ["env-1"], unclaimed: [], claimedKept: true },
    { pool: "dirty", claimed: ["env-2"], unclaimed: ["env-3"], claimedKept: true },
  ],
  locks: [],
};

type Case = [name: string, input: JudgedLock[], want: string[]];
const cases: Case[] = [
  ["no release-to: released in place", [judged("aws", "env-1", release)], ["release"]],
  ["release-to a free name: released", [judged("aws", "env-1", release, "dirty")], ["release"]],
  ["the name is claimed in the target: conflict", [judged("aws", "env-2", release, "dirty")], ["keep/conflict: dirty already has a lock named env-2"]],
  ["the name is unclaimed in the target: conflict", [judged("aws", "env-3", release, "dirty")], ["keep/conflict: dirty already has a lock named env-3"]],
  ["the target pool does not exist: conflict", [judged("aws", "env-1", release, "gone")], ['keep/conflict: its release-to pool "gone" does not exist']],
  ["two pools send the same name to one target: the second is a conflict", [judged("aws", "env-1", release, "dirty"), judged("gcp", "env-1", release, "dirty")], ["release", "keep/conflict: dirty already has a lock named env-1"]],
  ["a kept lock is not touched", [judged("aws", "env-2", keep, "dirty")], ["keep/alive"]],
];
for (const [name, input, want] of cases)
  test(`release-to: ${name}`, () => {
    const got = checkTargets(input, snapshot).map((j) => {
      if (j.verdict.action === "release") return "release";
      if (j.verdict.reason !== "conflict") return `keep/${j.verdict.reason}`;
      return `keep/conflict: ${j.verdict.detail.replace(/^.*; but /, "")}`;
    });
    assert.equal(got.length, want.length);
    got.forEach((g, i) => assert.ok(g.startsWith(want[i] ?? "?"), `${g} vs ${want[i]}`));
  });

test("the plan moves a quarantined lock to the target's unclaimed/ and says so", () => {
  const plan = planRelease("h".repeat(40), "main", checkTargets([judged("aws", "env-1", release, "dirty")], snapshot), snapshot.pools);
  assert.equal(plan.moves[0]?.to, "dirty/unclaimed/env-1");
  assert.match(plan.moves[0]?.message ?? "", /^unclaiming: env-1\n[\s\S]*Quarantined: moved to dirty\/unclaimed\/ \(release-to\), not back to aws/);
});

const running: OwnerState = { kind: "running", holder: { ref: deploy, status: "started", id: 7 }, handedOff: false };
const unreachable: OwnerState = { kind: "unreachable", why: "HTTP 502", cause: "api-error" };
const noApi: OwnerState = { kind: "silent", why: "no Concourse API configured", cause: "no-api", holder: null };
const failed: OwnerState = { kind: "finished", holder: { ref: deploy, status: "failed", id: 7 }, handedOff: false };
const hold = (minutes: number): Hold => ({ pool: "aws", name: "env-1", path: ".pool-boy/holds/aws/env-1", by: "bob", reason: "x", since: NOW, until: new Date(NOW.getTime() + minutes * 60_000), claim: null });
function noApiClaimed(): JudgedLock {
  const j = judged("aws", "env-1", keep, null, noApi);
  return { ...j, claim: { operation: "claiming", owner: deploy, format: "team-build", note: null } };
}
type ManualCase = [name: string, j: JudgedLock, hold: Hold | null, force: boolean, want: RegExp | "ok", takenFrom?: string];
const manual: ManualCase[] = [
  ["a finished owner's lock goes", judged("aws", "env-1", release, null, failed), null, false, "ok"],
  ["a hand claim goes", judged("aws", "env-1", keep), null, false, "ok"],
  ["an alive owner is refused", judged("aws", "env-1", keep, null, running), null, false, /its owner deploy #7 is started/],
  ["an alive owner with --force goes, naming the build", judged("aws", "env-1", keep, null, running), null, true, "ok", "main/app/deploy #7 (started)"],
  ["an unreachable owner is refused", judged("aws", "env-1", keep, null, unreachable), null, false, /cannot be asked: HTTP 502/],
  ["a named owner without an API is refused", noApiClaimed(), null, false, /cannot be vouched for: no Concourse API configured/],
  ["a named owner without an API, stale for clean too, goes", { ...noApiClaimed(), verdict: { action: "release", reason: "stale", detail: "" } }, null, false, "ok"],
  ["a named owner the API has no access to is refused", { ...noApiClaimed(), owner: { kind: "unreachable", why: "no access: 403", cause: "no-access" } }, null, false, /cannot be asked: no access/],
  ["waiting for a downstream job is refused", judged("aws", "env-1", { action: "keep", reason: "young", detail: "" }, null, { kind: "waiting", holder: { ref: deploy, status: "succeeded", id: 7 }, handedOff: false, candidates: ["test"] }), null, false, /test may still take it/],
  ["a held lock is refused", judged("aws", "env-1", release, null, failed), hold(30), false, /it is held by bob/],
  ["a held lock with --force goes, naming the hold", judged("aws", "env-1", release, null, failed), hold(30), true, "ok", "the hold of bob"],
  ["an expired hold does not stop it", judged("aws", "env-1", release, null, failed), hold(-30), false, "ok"],
  ["a lock in claimed/ and unclaimed/ is never moved, even forced", judged("aws", "env-1", release, null, failed, "also in unclaimed/"), null, true, /cannot be moved/],
];
for (const [name, j, h, force, want, takenFrom] of manual)
  test(`release by hand: ${name}`, () => {
    const d = decideManualRelease(j, h, force, NOW);
    if (want === "ok") {
      assert.ok(d.ok, d.ok ? "" : d.problems.why);
      if (d.ok) assert.equal(d.value.forced, takenFrom ?? null);
    } else {
      assert.equal(d.ok, false);
      if (!d.ok) assert.match(d.problems.why, want);
    }
  });
