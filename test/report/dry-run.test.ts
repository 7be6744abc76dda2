// clean --dry-run's table and JSON: the plan planRelease makes, each commit with its whole message.

import { test } from "node:test";
import assert from "node:assert/strict";
import { renderTable } from "../../src/report/table.js";
import { resultJson } from "../../src/report/json.js";
import { planRelease } from "../../src/decide/plan.js";
import type { JudgedLock, OwnerState, RunResult, Verdict } from "../../src/core/model.js";

const T0 = new Date("2025-03-01T12:00:00Z");
const silent: OwnerState = { kind: "silent", why: "the claim commit does not name a build", cause: "no-owner", holder: null };
const stale: Verdict = { action: "release", reason: "stale", detail: "claimed 5h ago, over the 2h timeout" };
const keep: Verdict = { action: "keep", reason: "young", detail: "claimed 1h ago, under the 2h timeout" };

function judged(name: string, verdict: Verdict, pool = "aws"): JudgedLock {
  return {
    lock: { pool, name, path: `${pool}/claimed/${name}`, claim: { sha: "c".repeat(40), committedAt: new Date(T0.getTime() - 5 * 3600_000), message: "x" }, editedAfterClaim: [], problem: null },
    claim: { operation: null, owner: null, format: "none", note: null },
    owner: silent,
    verdict,
    ageSeconds: 5 * 3600,
    policy: { pool, timeoutSeconds: 7200 },
  };
}

function dryRun(locks: JudgedLock[], pools = [{ pool: "aws", claimed: locks.map((l) => l.lock.name), unclaimed: [], claimedKept: false }]): RunResult {
  const plan = planRelease("b".repeat(40), "main", locks, pools);
  return {
    command: "clean", dryRun: true, plan, repo: "/srv/locks.git", branch: "main", head: "b".repeat(40), mode: "timeout-only", atcVersion: null,
    locks, pools: [{ pool: "aws", claimed: locks.length, unclaimed: 0 }], policies: [{ pool: "aws", timeoutSeconds: 7200 }],
    released: [], commits: [], attempts: 1, api: null, startedAt: T0, finishedAt: T0, warnings: [],
  };
}

const cases: Array<[string, JudgedLock[], RegExp[], RegExp[]]> = [
  // what, locks, must match, must not match
  ["one stale, one young", [judged("env-1", stale), judged("env-2", keep)], [/^pool-boy clean --dry-run/, /^ {2}env-1 .* release \(stale\)/m, /^ {2}env-2 .* keep \(young\)/m, /Dry run: clean would push 1 commit to main on top of bbbbbbbb \(nothing was pushed\):/, /^ {2}1\. aws\/claimed\/env-1 → aws\/unclaimed\/env-1$/m, /^ {5}unclaiming: env-1$/m, /^ {5}Released by pool-boy \(stale\): claimed 5h ago, over the 2h timeout\.$/m, /1 to release \(stale 1\), 1 kept \(young 1\); dry run: nothing pushed\.\n$/], [/released/, /pushed \d/]],
  ["the last lock leaves claimed/: the .gitkeep is said", [judged("env-1", stale)], [/^ {2}1\. aws\/claimed\/env-1 → aws\/unclaimed\/env-1 \(\+ aws\/claimed\/\.gitkeep\)$/m, /^ {5}Added aws\/claimed\/\.gitkeep: /m], []],
  ["nothing to release", [judged("env-2", keep)], [/Dry run: nothing to release, so no commit would be pushed\./, /0 to release, 1 kept/], [/would push/]],
  ["a lock name with a control character is shown escaped", [judged("env-\u001b[31m", stale), judged("env-2", keep)], [/unclaiming: env-\\x1b\[31m$/m], [/\u001b/]],
];

for (const [what, locks, yes, no] of cases) {
  test(`dry-run table: ${what}`, () => {
    const text = renderTable(dryRun(locks), { color: false, verbose: false, width: 100 });
    for (const re of yes) assert.match(text, re);
    for (const re of no) assert.doesNotMatch(text, re);
  });
}

test("dry-run JSON: dryRun, the plan with base, branch and each move's message; no released or commits", () => {
  const r = dryRun([judged("env-1", stale), judged("env-2", keep), judged("env-3", stale)]);
  const doc = resultJson(r) as Record<string, unknown>;
  assert.equal(doc["dryRun"], true);
  assert.equal(doc["wouldRelease"], 2);
  assert.equal(doc["released"], undefined);
  assert.equal(doc["commits"], undefined);
  assert.deepEqual(doc["plan"], {
    base: "b".repeat(40),
    branch: "main",
    moves: r.plan!.moves.map((m) => ({ pool: m.pool, name: m.name, from: m.from, to: m.to, message: m.message, gitkeep: m.gitkeep ?? null })),
  });
  const moves = (doc["plan"] as { moves: Array<{ name: string; message: string }> }).moves;
  assert.deepEqual(moves.map((m) => m.name), ["env-1", "env-3"]);
  assert.match(moves[0]!.message, /^unclaiming: env-1\n\nReleased by pool-boy \(stale\): claimed 5h ago, over the 2h timeout\.\n/);
});

test("a clean that is no dry run has no dryRun or plan in its JSON", () => {
  const doc = resultJson({ ...dryRun([judged("env-1", stale)]), dryRun: false, plan: null }) as Record<string, unknown>;
  assert.equal(doc["dryRun"], undefined);
  assert.equal(doc["plan"], undefined);
  assert.deepEqual(doc["released"], []);
});
