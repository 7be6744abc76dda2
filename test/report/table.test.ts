import { test } from "node:test";
import assert from "node:assert/strict";
import { renderTable, shortWhy, cut, printable } from "../../src/report/table.js";
import { roundAge } from "../../src/core/durations.js";
import type { BuildRef, JudgedLock, OwnerState, ParsedClaim, RunResult, Verdict } from "../../src/core/model.js";

const T0 = new Date("2025-03-01T12:00:00Z");
const job = (pipeline: string, name: string, number: string, team = "main"): BuildRef => ({ kind: "job", team, pipeline, instanceVars: null, job: name, name: number });

function judged(name: string, owner: OwnerState, verdict: Verdict, options: { ref?: BuildRef | null; message?: string; age?: number; pool?: string; timeout?: number | null } = {}): JudgedLock {
  const pool = options.pool ?? "aws";
  const claim: ParsedClaim = options.ref ? { operation: "claiming", owner: options.ref, format: "team-build", note: null } : { operation: null, owner: null, format: "none", note: "not a pool-resource message" };
  const age = options.age ?? 3600;
  return {
    lock: { pool, name, path: `${pool}/claimed/${name}`, claim: { sha: "a".repeat(40), committedAt: new Date(T0.getTime() - age * 1000), message: options.message ?? "x" }, editedAfterClaim: [], problem: null },
    claim,
    owner,
    verdict,
    ageSeconds: age,
    policy: { pool, timeoutSeconds: options.timeout === undefined ? 7200 : options.timeout },
  };
}

function result(locks: JudgedLock[], over: Partial<RunResult> = {}): RunResult {
  const pools = [...new Set(locks.map((l) => l.lock.pool))].map((pool) => ({ pool, claimed: locks.filter((l) => l.lock.pool === pool).length, unclaimed: 1 }));
  return {
    command: "status", repo: "/tmp/a/very/long/path/to/the/pool/repository/that/goes/on/and/on/locks.git", branch: "main", head: "b".repeat(40),
    mode: "api", atcVersion: "8.2.5", atcUrl: "https://ci.example.com", target: "ci", team: "main",
    locks, pools, policies: pools.map((p) => ({ pool: p.pool, timeoutSeconds: 7200 })), only: [], released: [], commits: [], attempts: 1, api: null,
    startedAt: T0, finishedAt: T0, warnings: [], ...over,
  };
}

const running = (ref: BuildRef): OwnerState => ({ kind: "running", holder: { ref, status: "started", id: 1 }, handedOff: false });
const keepAlive: Verdict = { action: "keep", reason: "alive", detail: "running" };
const stale: Verdict = { action: "release", reason: "stale", detail: "the claim commit does not name a build; claimed 5h ago, over the 2h timeout" };
const silent: OwnerState = { kind: "silent", why: "the claim commit does not name a build", cause: "no-owner", holder: null };

const wide = result([
  judged("a-lock-with-a-rather-long-name", running(job("app", "deploy", "5")), keepAlive, { ref: job("app", "deploy", "5") }),
  judged("env-2", running(job("web", "deploy", "3")), keepAlive, { ref: job("web", "deploy", "3") }),
  judged("env-3", silent, stale, { message: "alice: grabbing perf-b to debug the load balancer, back on Friday", age: 5 * 3600 + 300 }),
  judged("env-4", { kind: "unreachable", why: "GET /api/v1/teams/main/pipelines/app/jobs/deploy/builds/7 answered HTTP 500: internal error (4 tries)", cause: "api-error" }, { action: "keep", reason: "unknown", detail: "the API did not answer: GET /api/v1/teams/main/pipelines/app/jobs/deploy/builds/7 answered HTTP 500; kept this run" }, { ref: job("app", "deploy", "7") }),
]);

for (const width of [80, 72]) {
  test(`at ${width} columns no line is wider, and lock, owner, age and verdict are whole`, () => {
    const text = renderTable({ ...wide, repo: "/srv/locks.git" }, { color: false, verbose: false, width });
    // Every line but the summary, which stays one line for logs.
    for (const line of text.trimEnd().split("\n").slice(0, -1)) assert.ok([...line].length <= width, `${[...line].length} > ${width}: ${line}`);
    assert.match(text, /^ {2}a-lock-with-a-rather-long-name {2}app\/deploy #5 +1h +keep \(alive\)/m);
    assert.match(text, /^ {2}env-2 +web\/deploy #3 +1h +keep \(alive\)/m);
    assert.match(text, /^ {2}env-3 {2,}"alice: gra[^"]*…" {2,}5h 5m {2}release \(stale\)/m);
    assert.doesNotMatch(text, /\/api\/v1/);
  });
}

test("narrower than lock, owner, age and verdict: those stay whole, WHY goes", () => {
  const text = renderTable(wide, { color: false, verbose: false, width: 50 });
  assert.match(text, /^ {2}a-lock-with-a-rather-long-name {2}app\/deploy #5 {2}1h {5}keep \(alive\)$/m);
  assert.doesNotMatch(text, /WHY/);
});

test("the header names the target, its team and the Concourse version once; the repo whole, the branch below when long", () => {
  const text = renderTable(wide, { color: false, verbose: false, width: 80 });
  const [first, second, third] = text.split("\n");
  assert.equal(first, "pool-boy status · target ci (team main) · Concourse 8.2.5");
  assert.equal(second, wide.repo);
  assert.equal(third, "  (main @ bbbbbbbb)");
  const short = renderTable({ ...wide, repo: "/srv/locks.git" }, { color: false, verbose: false, width: 80 });
  assert.equal(short.split("\n")[1], "/srv/locks.git (main @ bbbbbbbb)");
});

test("owners link to their builds only when asked (a terminal); the link holds no control character", () => {
  const plain = renderTable(wide, { color: false, verbose: false, width: 80 });
  assert.doesNotMatch(plain, /\u001b/);
  const linked = renderTable(wide, { color: false, verbose: false, width: 80, hyperlinks: true });
  assert.match(linked, /\u001b\]8;;https:\/\/ci\.example\.com\/teams\/main\/pipelines\/app\/jobs\/deploy\/builds\/5\u001b\\app\/deploy #5\u001b\]8;;\u001b\\/);
  // The hyperlink's escapes take no room: the columns still line up.
  const visible = linked.replace(/\u001b\]8;;[^\u001b]*\u001b\\/g, "");
  assert.equal(visible, plain);
  const evil = result([judged("x", running(job("p\u001b]8;;", "j\u0007", "1")), keepAlive, { ref: job("p\u001b]8;;", "j\u0007", "1") })]);
  const text = renderTable(evil, { color: false, verbose: true, width: 80, hyperlinks: true });
  assert.doesNotMatch(text.replace(/\u001b\]8;;[\x21-\x7e]*\u001b\\/g, ""), /[\u0000-\u0009\u000b-\u001f\u007f]/);
});

test("without an API no owner is linked and the fact is said once", () => {
  const r = result(wide.locks, { mode: "timeout-only", atcUrl: null, atcVersion: null, target: null });
  const text = renderTable(r, { color: false, verbose: false, width: 80, hyperlinks: true });
  assert.doesNotMatch(text, /\u001b/);
  assert.equal(text.match(/No Concourse API configured/g)?.length, 1);
});

test("after clean, the pool header counts released rows as released", () => {
  const r = result([judged("env-1", running(job("app", "deploy", "5")), keepAlive, { ref: job("app", "deploy", "5") }), judged("env-3", silent, stale)], {
    command: "clean",
    pools: [{ pool: "aws", claimed: 1, unclaimed: 3 }],
    released: [{ pool: "aws", name: "env-3", from: "aws/claimed/env-3", to: "aws/unclaimed/env-3", message: "", reason: "stale", detail: "", commit: "c".repeat(40) }],
  });
  const text = renderTable(r, { color: false, verbose: false, width: 80 });
  assert.match(text, /^aws · 1 claimed, 1 released, 3 unclaimed · timeout 2h$/m);
  assert.match(text, /released \(stale\)/);
});

const whys: Array<[string, JudgedLock, string]> = [
  ["running", judged("a", running(job("a", "b", "1")), keepAlive, { ref: job("a", "b", "1") }), "started"],
  ["not found, young", judged("a", { kind: "silent", why: "404", cause: "not-found", holder: null }, { action: "keep", reason: "young", detail: "" }, { ref: job("a", "b", "1") }), "not found"],
  ["no API: the timeout", judged("a", { kind: "silent", why: "", cause: "no-api", holder: null }, { action: "keep", reason: "young", detail: "" }, { ref: job("a", "b", "1") }), "within the 2h timeout"],
  ["no API, old", judged("a", { kind: "silent", why: "", cause: "no-api", holder: null }, stale, { ref: job("a", "b", "1"), age: 9000 }), "over the 2h timeout"],
  ["a person's note", judged("a", silent, stale), "a person's note"],
  ["no access, timeout never", judged("a", { kind: "silent", why: "", cause: "no-access", holder: null }, keepAlive, { ref: job("a", "b", "1"), timeout: null }), "no access; timeout never"],
  ["API error", judged("a", { kind: "unreachable", why: "", cause: "api-error" }, keepAlive, { ref: job("a", "b", "1") }), "API error, kept this run"],
  ["waiting", judged("a", { kind: "waiting", holder: { ref: job("a", "b", "1"), status: "succeeded", id: 1 }, handedOff: false, candidates: ["test"] }, keepAlive, { ref: job("a", "b", "1") }), "waiting for test"],
];
for (const [name, j, want] of whys) test(`WHY: ${name}`, () => assert.equal(shortWhy(j), want));

const ages: Array<[number, string]> = [[0, "0s"], [45, "45s"], [60, "1m"], [3002, "50m"], [3600, "1h"], [11_100, "3h 5m"], [187_200, "2d 4h"], [172_800, "2d"]];
for (const [seconds, want] of ages) test(`roundAge(${seconds}) = ${want}`, () => assert.equal(roundAge(seconds), want));

test("cut and printable", () => {
  assert.equal(cut("abcdef", 4), "abc…");
  assert.equal(cut("abc", 4), "abc");
  assert.equal(printable("a\u001b[2Jb\u009bc"), "a\\x1b[2Jb\\x9bc");
});
