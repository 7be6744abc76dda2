import { test } from "node:test";
import assert from "node:assert/strict";
import { keptForNoAccess, membershipWarnings, noAccessWarnings, type AccessFacts } from "../../src/decide/access.js";
import type { BuildRef, JudgedLock, OwnerState } from "../../src/core/model.js";

const URL = "https://ci.example.com";
const job = (team: string, n = "1"): BuildRef => ({ kind: "job", team, pipeline: "app", instanceVars: null, job: "deploy", name: n });

function judged(owner: OwnerState, ref: BuildRef | null = null): JudgedLock {
  return {
    lock: { pool: "p", name: "l", path: "p/claimed/l", claim: null, editedAfterClaim: [], problem: null },
    claim: ref ? { operation: "claiming", owner: ref, format: "team-build", note: null } : null,
    owner,
    verdict: { action: "keep", reason: "unknown", detail: "" },
    ageSeconds: null,
    policy: { pool: "p", timeoutSeconds: 3600 },
  };
}
const denied = (team: string | null, status: 401 | 403): OwnerState => ({ kind: "unreachable", why: "no access", cause: "no-access", access: { team, status } });

const none: AccessFacts = { url: URL, auth: { kind: "none" }, user: null };
const bot: AccessFacts = { url: URL, auth: { kind: "password", username: "bot" }, user: { name: "bot", teams: ["main"], isAdmin: false } };
const token: AccessFacts = { url: URL, auth: { kind: "token", source: "~/.flyrc target ci", flyTarget: "ci" }, user: { name: "alice", teams: ["dev"], isAdmin: false } };

test("only locks kept for 401/403 count as unjudged for access", () => {
  assert.equal(keptForNoAccess(judged(denied("main", 403))), true);
  assert.equal(keptForNoAccess(judged({ kind: "unreachable", why: "502", cause: "api-error" })), false);
  assert.equal(keptForNoAccess(judged({ kind: "silent", why: "404", cause: "not-found", holder: null })), false);
  const conflict = { ...judged(denied("main", 403)), verdict: { action: "keep" as const, reason: "conflict" as const, detail: "also in unclaimed/" } };
  assert.equal(keptForNoAccess(conflict), false, "a conflict is kept for its own reason");
  assert.deepEqual(noAccessWarnings(bot, [conflict]), []);
});

test("one warning per team, with the count, the reason and the fix; one-off builds grouped", () => {
  const locks = [
    judged(denied("ops", 403), job("ops")),
    judged(denied("ops", 403), job("ops", "2")),
    judged(denied("dev", 403), job("dev")),
    judged(denied(null, 403), { kind: "one-off", id: "77" }),
    judged({ kind: "finished", holder: { ref: job("main"), status: "failed", id: 1 }, handedOff: false }, job("main")),
  ];
  const lines = noAccessWarnings(bot, locks);
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^no access to team dev: 1 lock kept without a judgement \(HTTP 403: bot is not a member of team dev\); the run ends with exit 5/);
  assert.match(lines[1]!, /^no access to team ops: 2 locks kept/);
  assert.match(lines[1]!, /Fix: add bot to team ops: fly -t ADMIN_TARGET set-team -n ops --local-user bot, repeating the team's current members/);
  assert.match(lines[2]!, /^no access to one-off build 77 \(the claims do not name the team\): 1 lock kept/);
  assert.deepEqual(noAccessWarnings(bot, [locks[4]!]), []);
});

test("no credentials: the fix is to give a user of the team", () => {
  const [line] = noAccessWarnings(none, [judged(denied("main", 401), job("main"))]);
  assert.match(line ?? "", /^no access to team main: 1 lock kept without a judgement \(HTTP 401: the pipelines are not public and no Concourse credentials were given\)/);
  assert.match(line ?? "", /Fix: give pool-boy a user of team main: CONCOURSE_USERNAME and CONCOURSE_PASSWORD/);
});

test("a refused token: log in again to the fly target; another team's token: add its user", () => {
  const [refused] = noAccessWarnings(token, [judged(denied("main", 401), job("main"))]);
  assert.match(refused ?? "", /HTTP 401: the token from ~\/\.flyrc target ci was refused.*fly -t ci login -n main/);
  const [other] = noAccessWarnings(token, [judged(denied("main", 403), job("main"))]);
  assert.match(other ?? "", /HTTP 403: alice \(the token from ~\/\.flyrc target ci\) is not a member of team main.*add alice to team main/);
  const [relogin] = noAccessWarnings(bot, [judged(denied("main", 401), job("main"))]);
  assert.match(relogin ?? "", /HTTP 401: bot's login was refused.*even after a fresh login/);
});

test("before asking: the teams the claims name that the user is not a member of", () => {
  const owners = [job("main"), job("ops"), job("ops", "2"), { kind: "one-off", id: "5" } as BuildRef, null];
  const lines = membershipWarnings(bot, owners);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^bot is not a member of team ops, which 2 claims name \(bot's teams: main\): unless its pipelines are public, those locks will be kept without a judgement and the run will end with exit 5\. Fix: add bot to team ops/);
  assert.deepEqual(membershipWarnings({ ...bot, user: { name: "bot", teams: ["main"], isAdmin: true } }, owners), [], "an admin reads every team");
  assert.deepEqual(membershipWarnings(none, owners), [], "without credentials nobody's teams are known");
  assert.deepEqual(membershipWarnings({ ...bot, user: null }, owners), [], "the user endpoint did not say");
  assert.match(membershipWarnings(token, [job("main")])[0] ?? "", /^alice is not a member of team main, which 1 claim names/);
});
