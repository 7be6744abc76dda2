import { test } from "node:test";
import assert from "node:assert/strict";
import { judge, ageSeconds } from "../../src/decide/judge.js";
import { parseDuration, formatAge } from "../../src/core/durations.js";
import type { BuildState, BuildStatus, ClaimedLock, OwnerState, Verdict } from "../../src/core/model.js";

const NOW = new Date("2026-11-23T12:00:00Z");
const deploy: BuildState["ref"] = { kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "42" };
const testJob: BuildState["ref"] = { kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "test", name: "7" };

function claimedAgo(age: string | null, problem: string | null = null): ClaimedLock {
  const seconds = age === null ? 0 : parseDuration(age);
  if (seconds === undefined || seconds === null) throw new Error(`bad age ${age}`);
  return {
    pool: "aws",
    name: "lock-a",
    path: "aws/claimed/lock-a",
    claim: age === null ? null : { sha: "a".repeat(40), committedAt: new Date(NOW.getTime() - seconds * 1000), message: "claiming: lock-a" },
    editedAfterClaim: [],
    problem,
  };
}
const running = (status: "pending" | "started", handedOff = false): OwnerState => ({ kind: "running", holder: { ref: handedOff ? testJob : deploy, status, id: 1 }, handedOff });
const finished = (status: BuildStatus, handedOff = false): OwnerState => ({ kind: "finished", holder: { ref: handedOff ? testJob : deploy, status, id: 1 }, handedOff });
const silent = (why = "no Concourse API configured"): OwnerState => ({ kind: "silent", why, cause: "no-api", holder: null });
const waiting = (): OwnerState => ({ kind: "waiting", holder: { ref: deploy, status: "succeeded", id: 1 }, handedOff: false, candidates: ["test"] });
const unreachable = (): OwnerState => ({ kind: "unreachable", why: "HTTP 502 after 3 retries", cause: "api-error" });
const noAccess = (status: 401 | 403): OwnerState => ({ kind: "unreachable", why: `no access to team main: HTTP ${status}`, cause: "no-access", access: { team: "main", status } });
const foreign = (): OwnerState => ({ kind: "silent", why: "the claim came from another Concourse (ci.other.org)", cause: "foreign-concourse", holder: null });

type Case = [name: string, owner: OwnerState, age: string | null, timeout: string, want: `${Verdict["action"]}/${Verdict["reason"]}`, problem?: string];
const cases: Case[] = [
  ["a pending build keeps its lock, however old", running("pending"), "30d", "2h", "keep/alive"],
  ["a started build keeps its lock, however old", running("started"), "3d", "1m", "keep/alive"],
  ["a running taker keeps a handed-off lock", running("started", true), "3d", "2h", "keep/alive"],
  ["a failed owner gives it back at once", finished("failed"), "5m", "2h", "release/finished"],
  ["an errored owner gives it back", finished("errored"), "1m", "2h", "release/finished"],
  ["an aborted owner gives it back", finished("aborted"), "1m", "2h", "release/finished"],
  ["a succeeded owner with nobody downstream gives it back", finished("succeeded"), "1m", "2h", "release/finished"],
  ["a taker that failed after the hand-off gives it back", finished("failed", true), "1m", "2h", "release/finished"],
  ["API silent, under the timeout", silent(), "30m", "2h", "keep/young"],
  ["API silent, over the timeout", silent(), "3h", "2h", "release/stale"],
  ["API silent, exactly at the timeout is not older", silent(), "2h", "2h", "keep/young"],
  ["API silent, timeout never", silent(), "300d", "never", "keep/young"],
  ["404 owner, over the timeout", silent("build main/app/deploy #42 not found"), "1d", "90m", "release/stale"],
  ["waiting for a hand-off, young", waiting(), "10m", "2h", "keep/young"],
  ["waiting for a hand-off that never comes, old", waiting(), "5h", "2h", "release/stale"],
  ["transient API failure keeps it this run, however old", unreachable(), "30d", "1m", "keep/unknown"],
  ["no claim commit to age it: kept", silent(), null, "1m", "keep/unknown"],
  ["401 (no credentials): kept, however old", noAccess(401), "30d", "1m", "keep/unknown"],
  ["403 (another team's credentials): kept, however old", noAccess(403), "30d", "1m", "keep/unknown"],
  ["403 and a never timeout: kept", noAccess(403), "30d", "never", "keep/unknown"],
  ["a 404 page from a proxy (api-error): kept this run, however old", unreachable(), "30d", "1m", "keep/unknown"],
  ["another Concourse's claim: the timeout decides, young", foreign(), "30m", "2h", "keep/young"],
  ["another Concourse's claim: the timeout decides, stale", foreign(), "3h", "2h", "release/stale"],
  ["a conflict is left alone even when the owner finished", finished("failed"), "3d", "1m", "keep/conflict", "also in unclaimed/"],
  ["a conflict is left alone even when stale", silent(), "3d", "1m", "keep/conflict", "also in unclaimed/"],
];

for (const [name, owner, age, timeout, want, problem] of cases) {
  test(name, () => {
    const t = parseDuration(timeout);
    assert.notEqual(t, undefined);
    const v = judge(claimedAgo(age, problem ?? null), owner, { pool: "aws", timeoutSeconds: t ?? null }, NOW);
    assert.equal(`${v.action}/${v.reason}`, want);
    assert.ok(v.detail.length > 0);
  });
}

test("the detail names the holder and the age", () => {
  const v = judge(claimedAgo("3h"), silent(), { pool: "aws", timeoutSeconds: 7200 }, NOW);
  assert.match(v.detail, /claimed 3h ago, over the 2h timeout/);
  const alive = judge(claimedAgo("3h"), running("started", true), { pool: "aws", timeoutSeconds: 7200 }, NOW);
  assert.match(alive.detail, /test #7 is started \(handed off\)/);
  const w = judge(claimedAgo("10m"), waiting(), { pool: "aws", timeoutSeconds: 7200 }, NOW);
  assert.match(w.detail, /waiting for test to take it/);
});

test("the detail says no access, for which team, and that age does not matter", () => {
  const v = judge(claimedAgo("30d"), noAccess(403), { pool: "aws", timeoutSeconds: 60 }, NOW);
  assert.match(v.detail, /^no access to team main: HTTP 403; kept until pool-boy may read the build \(never by age\)$/);
  const f = judge(claimedAgo("3h"), foreign(), { pool: "aws", timeoutSeconds: 7200 }, NOW);
  assert.match(f.detail, /another Concourse \(ci\.other\.org\).*over the 2h timeout/);
});

test("a claim dated in the future counts as new", () => {
  const lock = claimedAgo("1m");
  lock.claim!.committedAt = new Date(NOW.getTime() + 3600_000);
  assert.equal(ageSeconds(lock, NOW), 0);
});

const durations: Array<[string, number | null | undefined]> = [
  ["90", 5400], ["90m", 5400], ["2h", 7200], ["1d", 86400], ["1h30m", 5400], ["45s", 45], ["1w", 604800],
  ["never", null], ["NEVER", null], [" 2h ", 7200],
  ["", undefined], ["0", undefined], ["0m", undefined], ["90x", undefined], ["h", undefined], ["-5", undefined], ["2h foo", undefined], ["1.5h", 5400],
];
for (const [text, want] of durations) test(`parseDuration(${JSON.stringify(text)}) = ${want}`, () => assert.equal(parseDuration(text), want));

test("formatAge says ages as people do", () => {
  assert.equal(formatAge(0), "0s");
  assert.equal(formatAge(59), "59s");
  assert.equal(formatAge(3 * 3600 + 5 * 60 + 7), "3h 5m");
  assert.equal(formatAge(2 * 86400 + 4 * 3600), "2d 4h");
  assert.equal(formatAge(86400 + 30), "1d");
  assert.equal(formatAge(5 * 3600 + 3), "5h");
  assert.equal(formatAge(30 * 60 + 3), "30m 3s");
});
