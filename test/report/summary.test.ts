import { test } from "node:test";
import assert from "node:assert/strict";
import { renderSummary } from "../../src/report/summary.js";
import type { JudgedLock, OwnerState, RunResult, Verdict } from "../../src/core/model.js";

const deploy = { kind: "job" as const, team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "12" };
const finished: OwnerState = { kind: "finished", holder: { ref: deploy, status: "failed", id: 1 }, handedOff: false };
const silent: OwnerState = { kind: "silent", why: "no API", cause: "no-api", holder: null };

function judged(pool: string, name: string, verdict: Verdict, problem: string | null = null): JudgedLock {
  return {
    lock: { pool, name, path: `${pool}/claimed/${name}`, claim: { sha: "a".repeat(40), committedAt: new Date("2026-11-23T09:00:00Z"), message: "x" }, problem, editedAfterClaim: [] },
    claim: { operation: "claiming", owner: deploy, format: "team-build", note: null },
    owner: verdict.action === "release" && verdict.reason === "stale" ? silent : finished,
    verdict,
    ageSeconds: 3 * 3600 + 300,
    policy: { pool, timeoutSeconds: 7200 },
  };
}
const rel = (reason: "finished" | "stale", detail: string): Verdict => ({ action: "release", reason, detail });
const keep = (reason: "alive" | "young" | "unknown" | "conflict", detail: string): Verdict => ({ action: "keep", reason, detail });

function result(command: "status" | "clean", locks: JudgedLock[], over: Partial<RunResult> = {}): RunResult {
  const releasing = locks.filter((l) => l.verdict.action === "release");
  return {
    command,
    repo: "git@git.example.com:org/locks.git",
    branch: "main",
    head: "0123456789abcdef0123456789abcdef01234567",
    mode: "api",
    atcVersion: "8.2.5",
    locks,
    pools: [{ pool: "aws", claimed: 4, unclaimed: 1 }, { pool: "gcp", claimed: 1, unclaimed: 0 }],
    released: command === "clean" ? releasing.map((l) => ({ pool: l.lock.pool, name: l.lock.name, from: "", to: "", message: "", reason: "stale" as const, detail: "", commit: null })) : [],
    commits: command === "clean" ? releasing.map((_, i) => `${i}`.repeat(40)) : [],
    attempts: 1,
    api: null,
    startedAt: new Date(0),
    finishedAt: new Date(1000),
    warnings: [],
    ...over,
  };
}

const locks = [
  judged("aws", "env-2", rel("finished", "deploy #12 failed")),
  judged("aws", "env-1", keep("alive", "deploy #12 is running")),
  judged("gcp", "vm-1", keep("unknown", "the API answered 500\nafter 3 retries")),
  judged("aws", "env-5", rel("stale", "no owner, older than 2h")),
  judged("aws", "env-9", keep("conflict", "also in unclaimed/"), "also in unclaimed/"),
];

// One line a case: what the summary must say, and must not.
const cases: Array<[string, ReturnType<typeof renderSummary>, RegExp[], RegExp[]]> = [
  ["status: would release, one line each, sorted", renderSummary({ command: "status", result: result("status", locks), failure: null }),
    [/^pool-boy status · git@git\.example\.com:org\/locks\.git \(main @ 01234567\): 5 claimed locks in 2 pools: 2 to release/, /^would release aws\/env-2 \(finished, owner deploy #12, claimed 3h 5m ago\): deploy #12 failed$/m, /^would release aws\/env-5 \(stale/m], [/^released/m, /env-1/]],
  ["clean: released, problems listed, alive only counted", renderSummary({ command: "clean", result: result("clean", locks), failure: null }),
    [/^released aws\/env-2 /m, /^released aws\/env-5 /m, /^kept gcp\/vm-1 \(unknown, .*\): the API answered 500 after 3 retries$/m, /^kept aws\/env-9 \(conflict/m, /pushed 2 commits/], [/env-1/, /would release/]],
  ["failure without a result says why and how to fix", renderSummary({ command: "clean", result: null, failure: { message: "cannot read the pool repository\nHost key verification failed", hint: "set POOL_REPO_SSH_KNOWN_HOSTS" } }),
    [/^pool-boy clean FAILED: cannot read the pool repository\nHost key verification failed\nfix: set POOL_REPO_SSH_KNOWN_HOSTS\n$/], [/released/]],
  ["failure after the git work: both", renderSummary({ command: "clean", result: result("clean", locks.slice(0, 1)), failure: { message: "the Pushgateway refused the metrics" } }),
    [/^pool-boy clean FAILED: the Pushgateway refused the metrics$/m, /^released aws\/env-2 /m], [/^fix:/m]],
  ["nothing to do: one line", renderSummary({ command: "status", result: result("status", [locks[1]!]), failure: null }),
    [/0 to release, 1 kept \(alive 1\)\.$/m], [/would release/]],
  ["timeout-only and warnings are said", renderSummary({ command: "status", result: result("status", [], { mode: "timeout-only", warnings: [{ code: "repo-credentials", message: "credentials over plain http" }] }), failure: null }),
    [/^no Concourse API configured/m, /^warning: credentials over plain http$/m], []],
  // repository text (lock names, claim and hold text in details) is shown, never executed by a terminal
  ["terminal escapes from the repository are shown escaped", renderSummary({ command: "status", result: result("status", [judged("aws", "env\x1b[2J", rel("stale", "held by \x1b]0;pwned\x07x")), judged("gcp", "vm\u202e1", keep("unknown", "odd\rline"))], { warnings: [{ code: "no-access", message: "team \x1b[31mred" }] }), failure: { message: "bad \x1b[8m", hint: "fix \x9b" } }),
    [/^pool-boy status FAILED: bad \\x1b\[8m$/m, /^would release aws\/env\\x1b\[2J .*held by \\x1b\]0;pwned\\x07x$/m, /^kept gcp\/vm\\u202e1 .*odd\\rline$/m, /^warning: team \\x1b\[31mred$/m, /^fix: fix \\x9b$/m], [/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/]],
];

for (const [name, text, must, mustNot] of cases) {
  test(`summary: ${name}`, () => {
    for (const re of must) assert.match(text, re);
    for (const re of mustNot) assert.doesNotMatch(text, re);
    assert.doesNotMatch(text, /\x1b\[/, "no colour");
    assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"));
    assert.ok(text.split("\n").length <= 12, "short");
  });
}
