import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

import { parseClaim } from "../../src/decide/parse.js";
import type { BuildRef, ClaimFormat, ClaimOperation, InstanceVars, ParsedClaim } from "../../src/core/model.js";

// Tests run from dist*/test/claims/, fixtures stay in the source tree.
const FIXTURES = new URL("../../../fixtures/claims/", import.meta.url);
const EXT = "https://ci.example.com";

interface Want {
  operation: ClaimOperation | null;
  format: ClaimFormat;
  owner: BuildRef | null;
  /** null: the note must be null; otherwise the note must match */
  note: RegExp | null;
}

function check(got: ParsedClaim, want: Want): void {
  assert.deepEqual(
    { operation: got.operation, format: got.format, owner: got.owner },
    { operation: want.operation, format: want.format, owner: want.owner },
  );
  if (want.note === null) assert.equal(got.note, null);
  else {
    assert.equal(typeof got.note, "string", "an unknown owner needs a note");
    assert.match(got.note ?? "", want.note);
  }
}

const job = (team: string, pipeline: string, jobName: string, name: string, instanceVars: InstanceVars | null = null): BuildRef => ({
  kind: "job",
  team,
  pipeline,
  instanceVars,
  job: jobName,
  name,
});
const oneOff = (id: string): BuildRef => ({ kind: "one-off", id });
const found = (format: ClaimFormat, owner: BuildRef, operation: ClaimOperation = "claiming"): Want => ({ operation, format, owner, note: null });
const unknown = (operation: ClaimOperation | null, format: ClaimFormat, note: RegExp): Want => ({ operation, format, owner: null, note });

// ---- the fixture files: one real message per format and resource version -------------------------

interface Fixture {
  file: string;
  source: string;
  defaultTeam: string;
  message: string;
  want: Want;
}

function readFixture(file: string): Fixture {
  const text = readFileSync(new URL(file, FIXTURES), "utf8");
  const lines = text.split("\n");
  const end = lines.indexOf("---");
  assert.ok(end > 0, `${file}: no --- line after the header`);
  const header = new Map<string, string>();
  for (const line of lines.slice(0, end)) {
    const m = /^# ([a-z-]+): (.*)$/u.exec(line);
    assert.ok(m?.[1] !== undefined && m[2] !== undefined, `${file}: bad header line ${JSON.stringify(line)}`);
    header.set(m[1], m[2]);
  }
  const source = header.get("source");
  const expect = header.get("expect");
  assert.ok(source && expect, `${file}: needs # source: and # expect:`);
  const raw = JSON.parse(expect) as { operation: ClaimOperation | null; format: ClaimFormat; owner: BuildRef | null; note: string | null };
  const message = lines.slice(end + 1).join("\n").replace(/\n$/u, "");
  const note = raw.note === null ? null : new RegExp(raw.note.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&"), "iu");
  return { file, source, defaultTeam: header.get("default-team") ?? "main", message, want: { ...raw, note } };
}

const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith(".txt")).sort();

test("the fixture directory holds a file for every format", () => {
  const formats = new Set(fixtureFiles.map((f) => readFixture(f).want.format));
  const all: ClaimFormat[] = ["hash", "backtick-hash", "build", "team-build", "team-build-vars", "team-instanced", "one-off", "build-url", "none"];
  assert.deepEqual([...formats].sort(), [...all].sort());
});

for (const file of fixtureFiles) {
  const fixture = readFixture(file);
  test(`fixture ${file}: ${fixture.source}`, () => {
    check(parseClaim(fixture.message, fixture.defaultTeam), fixture.want);
  });
}

// ---- variants of real messages the fixtures cannot hold, and what is not a claim ----------------

const URL_42 = `${EXT}/teams/platform/pipelines/app/jobs/deploy/builds/42`;
const DEPLOY_42 = job("platform", "app", "deploy", "42");

const cases: Array<[name: string, message: string, want: Want]> = [
  // Whitespace and line ends.
  ["CRLF line ends (v1.8.0)", `claiming: lock-a\r\nBuild URL: ${URL_42}\r\n`, found("build-url", DEPLOY_42)],
  ["commit.cleanup=verbatim keeps the space after the URL", `claiming: lock-a\nBuild URL: ${URL_42} `, found("build-url", DEPLOY_42)],
  ["verbatim cleanup and CRLF", `claiming: lock-a\r\nBuild URL: ${URL_42} \r\n`, found("build-url", DEPLOY_42)],
  ["verbatim cleanup with an empty Build URL", "claiming: lock-a\nBuild URL: ", unknown("claiming", "none", /empty/u)],
  ["tabs and spaces after the Build URL", `claiming: lock-a\nBuild URL:\t${URL_42}\t \n\n`, found("build-url", DEPLOY_42)],
  ["a blank line before the Build URL", `claiming: lock-a\n\nBuild URL: ${URL_42}`, found("build-url", DEPLOY_42)],
  ["leading blank lines and spaces", "\n\n  platform/app/deploy build 42 claiming: lock-a  \n", found("team-build", DEPLOY_42)],
  ["CRLF on a prefix message", "platform/app/deploy build 42 claiming: lock-a\r\n", found("team-build", DEPLOY_42)],
  ["a lone CR", "platform/app/deploy build 42 claiming: lock-a\rsecond line", found("team-build", DEPLOY_42)],
  ["only the first line counts for a prefix", "claiming: lock-a\nplatform/app/deploy build 42 claiming: lock-a", unknown("claiming", "none", /names no build/u)],
  ["v1.8.0 read with %s / --oneline (both lines joined)", `claiming: lock-a Build URL: ${URL_42}`, found("build-url", DEPLOY_42)],
  ["v1.8.0 one-off read with --oneline", `claiming: lock-a Build URL: ${EXT}/builds/77`, found("build-url", oneOff("77"))],
  ["v1.8.0 empty URL read with --oneline", "claiming: lock-a Build URL:", unknown("claiming", "none", /empty/u)],

  // Build URL details.
  ["Build URL: whole-object vars= form", `claiming: l\nBuild URL: ${URL_42}?vars=%7B%22branch%22%3A%22main%22%7D`, found("build-url", job("platform", "app", "deploy", "42", { branch: "main" }))],
  [
    "Build URL: vars= and vars.k together",
    `claiming: l\nBuild URL: ${URL_42}?vars=%7B%22cfg%22%3A%7B%22a%22%3A1%7D%7D&vars.cfg.b=2&vars.num=9000`,
    found("build-url", job("platform", "app", "deploy", "42", { cfg: { a: 1, b: 2 }, num: 9000 })),
  ],
  [
    "Build URL: quoted key with ':' and '/' (vars.\"a.b\".c.\"d:e\", Concourse's complex-refs case)",
    `claiming: l\nBuild URL: ${URL_42}?vars.%22a.b%22.c.%22d%3Ae%22=%22f%22&vars.%22x%2Fy%22=true`,
    found("build-url", job("platform", "app", "deploy", "42", { "a.b": { c: { "d:e": "f" } }, "x/y": true })),
  ],
  ["Build URL: 8.0.x with only numbers is still JSON", `claiming: l\nBuild URL: ${URL_42}?vars.num=9000`, found("build-url", job("platform", "app", "deploy", "42", { num: 9000 }))],
  ["Build URL: 8.0.x unquoted string", `claiming: l\nBuild URL: ${URL_42}?vars.branch=main`, unknown("claiming", "build-url", /not JSON.*8\.0\.0/u)],
  ["Build URL: invalid JSON value", `claiming: l\nBuild URL: ${URL_42}?vars.branch=%22main`, unknown("claiming", "build-url", /not JSON/u)],
  ["Build URL: a query without vars", `claiming: l\nBuild URL: ${URL_42}?foo=bar`, found("build-url", DEPLOY_42)],
  ["Build URL: an empty query", `claiming: l\nBuild URL: ${URL_42}?`, found("build-url", DEPLOY_42)],
  ["Build URL: trailing slash on ATC_EXTERNAL_URL", `claiming: l\nBuild URL: ${EXT}//teams/platform/pipelines/app/jobs/deploy/builds/42`, found("build-url", DEPLOY_42)],
  ["Build URL: port and path prefix, one-off", `claiming: l\nBuild URL: http://10.0.0.5:8080/ci/builds/5`, found("build-url", oneOff("5"))],
  ["Build URL: names with spaces, not escaped", `claiming: l\nBuild URL: ${EXT}/teams/platform/pipelines/my app/jobs/run it/builds/3`, found("build-url", job("platform", "my app", "run it", "3"))],
  ["Build URL: a raw % in a name stays", `claiming: l\nBuild URL: ${EXT}/teams/platform/pipelines/50%off/jobs/deploy/builds/3`, found("build-url", job("platform", "50%off", "deploy", "3"))],
  ["Build URL: names are raw: p%41 is p%41, not pA", `claiming: l\nBuild URL: ${EXT}/teams/t%2Fx/pipelines/p%41/jobs/j%20k/builds/3`, found("build-url", job("t%2Fx", "p%41", "j%20k", "3"))],
  ["Build URL: names are raw, the vars query is decoded", `claiming: l\nBuild URL: ${EXT}/teams/t/pipelines/p%25/jobs/j/builds/3?vars.b=%22a%25b%22`, found("build-url", job("t", "p%25", "j", "3", { b: "a%b" }))],
  ["Build URL: unicode names, raw", `claiming: l\nBuild URL: ${EXT}/teams/équipe/pipelines/déploiement/jobs/publier🚀/builds/3`, found("build-url", job("équipe", "déploiement", "publier🚀", "3"))],
  ["Build URL: not a URL", "claiming: l\nBuild URL: see slack", unknown("claiming", "build-url", /not a Concourse build URL/u)],
  ["Build URL: a job URL without a build number", `claiming: l\nBuild URL: ${EXT}/teams/platform/pipelines/app/jobs/deploy/builds/latest`, unknown("claiming", "build-url", /not a Concourse build URL/u)],
  ["Build URL: a pipeline URL", `claiming: l\nBuild URL: ${EXT}/teams/platform/pipelines/app`, unknown("claiming", "build-url", /not a Concourse build URL/u)],
  ["Build URL: a one-off id that is not a number", `claiming: l\nBuild URL: ${EXT}/builds/abc`, unknown("claiming", "build-url", /not a Concourse build URL/u)],
  ["Build URL: updating (v1.8.0)", `updating: lock-a\nBuild URL: ${URL_42}`, found("build-url", DEPLOY_42, "updating")],
  ["Build URL: removing (v1.8.0)", `removing: lock-a\nBuild URL: ${URL_42}`, unknown(null, "build-url", /removing/u)],
  ["Build URL: adding unclaimed (v1.8.0 update of a new lock)", `adding unclaimed: lock-a\nBuild URL: ${URL_42}`, unknown(null, "build-url", /adding unclaimed/u)],
  ["Build URL line under free text", `Moved by hand\nBuild URL: ${URL_42}`, unknown(null, "none", /not a pool-resource message/u)],
  ["a prefix line wins over a stray Build URL line", `platform/app/deploy build 42 claiming: l\nBuild URL: ${EXT}/builds/1`, found("team-build", DEPLOY_42)],

  // Prefix forms: names, JSON and reruns.
  ["default team for P/J build N", "app/deploy build 42 claiming: lock-a", found("build", job("main", "app", "deploy", "42"))],
  ["unicode names", "équipe/déploiement/publier 🚀 build 7 claiming: verrou-1", found("team-build", job("équipe", "déploiement", "publier 🚀", "7"))],
  ["a job named with ' build '", "platform/app/build and test build 5 claiming: lock-a", found("team-build", job("platform", "app", "build and test", "5"))],
  ["a lock name that looks like a prefix", "platform/app/deploy build 42 claiming: x build 5 claiming: y", found("team-build", DEPLOY_42)],
  ["an empty lock name", "platform/app/deploy build 42 claiming:", found("team-build", DEPLOY_42)],
  ["a rerun of a rerun", "platform/app/deploy build 42.1.2 claiming: lock-a", found("team-build", job("platform", "app", "deploy", "42.1.2"))],
  ["old 'adding:' (before 9af6d0b)", "app/seed build 3 adding: lock-a", unknown(null, "build", /adding/u)],
  ["'adding unclaimed:' with a prefix", "platform/app/seed build 3 adding unclaimed: lock-a", unknown(null, "team-build", /adding unclaimed/u)],
  ["one-off adding claimed", "one-off build 99 adding claimed: lock-a", found("one-off", oneOff("99"), "adding claimed")],
  ["one-off unclaiming", "one-off build 99 unclaiming: lock-a", unknown(null, "one-off", /unclaiming/u)],
  [
    "team-instanced: JSON with '}/' and ' build N claiming: ' inside a value",
    'platform/app/{"x":"}/evil build 1 claiming: y","y":[{"z":"/"}]}/deploy build 42 claiming: lock-a',
    found("team-instanced", job("platform", "app", "deploy", "42", { x: "}/evil build 1 claiming: y", y: [{ z: "/" }] })),
  ],
  [
    "team-instanced: escaped quotes and backslashes in values",
    'platform/app/{"q":"say \\"hi\\" \\\\ bye"}/deploy build 42 claiming: lock-a',
    found("team-instanced", job("platform", "app", "deploy", "42", { q: 'say "hi" \\ bye' })),
  ],
  [
    "team-instanced: a quoted key with a dot",
    'platform/app/{"my.key":"v","num":1500}/deploy build 42.1 claiming: lock-a',
    found("team-instanced", job("platform", "app", "deploy", "42.1", { "my.key": "v", num: 1500 })),
  ],
  [
    "team-instanced: a key named __proto__ stays data",
    'platform/app/{"__proto__":{"polluted":true}}/deploy build 42 claiming: lock-a',
    found("team-instanced", job("platform", "app", "deploy", "42", JSON.parse('{"__proto__":{"polluted":true}}') as InstanceVars)),
  ],
  [
    "team-build-vars: JSON with ' build ' and '/' and the operation word",
    'platform/app/deploy build 42 {"branch":"fix/a build 3 claiming: b"} claiming: lock-a',
    found("team-build-vars", job("platform", "app", "deploy", "42", { branch: "fix/a build 3 claiming: b" })),
  ],
  ["team-build-vars: updating", 'platform/app/refresh build 4 {"env":"prod"} updating: lock-a', found("team-build-vars", job("platform", "app", "refresh", "4", { env: "prod" }), "updating")],
  ["team-instanced: invalid JSON", 'platform/app/{"a":}/deploy build 42 claiming: lock-a', unknown("claiming", "team-instanced", /not valid JSON/u)],
  ["team-instanced: JSON that never closes", 'platform/app/{"a":"b/deploy build 42 claiming: lock-a', unknown(null, "none", /not a pool-resource message/u)],
  ["team-build-vars: invalid JSON", 'platform/app/deploy build 42 {"a" "b"} claiming: lock-a', unknown("claiming", "team-build-vars", /not valid JSON/u)],

  // Garbled by Sprintf (v1.0.0 – v1.7.x claims).
  ["garbled: %s in a pipeline name swallows the lock", "platform/50lock-aale/deploy build 42 claiming: %!s(MISSING)", unknown("claiming", "team-build", /garbled/u)],
  ["garbled: %d in a job name", "platform/app/deploy%!d(string=lock-a) build 42 claiming: %!s(MISSING)", unknown("claiming", "team-build", /garbled/u)],
  ["garbled: JSON that still parses", 'platform/app/{"a":"lock-c"}/deploy build 42 claiming: %!s(MISSING)', unknown("claiming", "team-instanced", /garbled/u)],
  ["garbled: %q makes the JSON invalid", 'platform/app/{"a":""lock-c""}/deploy build 42 claiming: %!s(MISSING)', unknown("claiming", "team-instanced", /garbled/u)],
  ["garbled: team-build-vars", 'platform/app/deploy build 42 {"pct":"50%!"(string=lock-c)} claiming: %!s(MISSING)', unknown("claiming", "team-build-vars", /garbled/u)],
  ["garbled: P/J build N", "50%!o(string=lock-a)ff/deploy build 1 claiming: %!s(MISSING)", unknown("claiming", "build", /garbled/u)],
  ["garbled beyond recognition", "%!(NOVERB)garbage claiming: %!s(MISSING)", unknown("claiming", "none", /garbled/u)],

  // Not claims, and not the pool-resource at all.
  ["empty string", "", unknown(null, "none", /empty/u)],
  ["only whitespace", " \r\n\t\n ", unknown(null, "none", /empty/u)],
  ["free text that looks like a prefix", "fix: a/b build 3 things", unknown(null, "none", /not a pool-resource message/u)],
  ["free text naming a build", "deploy app/deploy build 42 by hand", unknown(null, "none", /not a pool-resource message/u)],
  ["a person's unlock (kubo-ci style)", "Unclaim lock-a via platform pipeline", unknown(null, "none", /not a pool-resource message/u)],
  ["a merge commit", "Merge branch 'master' of github.com:org/locks", unknown(null, "none", /not a pool-resource message/u)],
  ["a revert of a release puts the lock back", 'Revert "platform/app/deploy build 43 unclaiming: lock-a"\n\nThis reverts commit abc.', unknown(null, "none", /revert/u)],
  ["a revert of a claim", 'Revert "platform/app/deploy build 42 claiming: lock-a"', unknown(null, "none", /revert/u)],
  ["bare unclaiming (2015)", "unclaiming: lock-a", unknown(null, "none", /unclaiming/u)],
  ["bare removing", "removing: lock-a", unknown(null, "none", /removing/u)],
  ["bare adding claimed (v1.8.0 lost its URL line)", "adding claimed: lock-a", unknown("adding claimed", "none", /names no build/u)],
  ["'claiming' without the colon", "platform/app/deploy build 42 claiming lock-a", unknown(null, "none", /not a pool-resource message/u)],
  ["space before the prefix is not the resource", "fix: a/ b build 3 claiming: x", unknown(null, "none", /not a pool-resource message/u)],
  ["a hash form with a rerun-like number is not a format", "app/deploy #42.1 claiming: lock-a", unknown(null, "none", /not a pool-resource message/u)],
  ["'unclaiming' is not read as 'claiming'", "platform/app/deploy build 43 unclaiming: lock-a", unknown(null, "team-build", /unclaiming/u)],
];

for (const [name, message, want] of cases) {
  test(name, () => check(parseClaim(message, "main"), want));
}

test("the default team is used only where the message names none", () => {
  assert.deepEqual(parseClaim("app/deploy #1 claiming: l", "ops").owner, job("ops", "app", "deploy", "1"));
  assert.deepEqual(parseClaim("app/deploy `#1` claiming: l", "ops").owner, job("ops", "app", "deploy", "1"));
  assert.deepEqual(parseClaim("app/deploy build 1 claiming: l", "ops").owner, job("ops", "app", "deploy", "1"));
  assert.deepEqual(parseClaim("platform/app/deploy build 1 claiming: l", "ops").owner, job("platform", "app", "deploy", "1"));
  assert.deepEqual(parseClaim(`claiming: l\nBuild URL: ${URL_42}`, "ops").owner, DEPLOY_42);
});

test("never throws, whatever the input", () => {
  const inputs: unknown[] = [
    undefined,
    null,
    42,
    "%",
    "%!",
    "{",
    "a/b/{",
    "a/b/{}}}}/c build 1 claiming: x",
    "a/b/c build 1 {",
    "Build URL:",
    "claiming: x\nBuild URL: %E0%A4%A",
    `claiming: x\nBuild URL: ${EXT}/teams/%E0%A4%A/pipelines/p/jobs/j/builds/1?vars.%22=1`,
    `claiming: x\nBuild URL: ${EXT}/teams/t/pipelines/p/jobs/j/builds/1?vars.=1&vars..a=2&vars.a:b=3`,
    "\u0000\uffff\ud800",
    "a/".repeat(20000) + " build 1 claiming: x",
    "x/y/{" + '"a":'.repeat(5000) + " build 1 claiming: x",
    "p/" + "{}".repeat(20000) + "/j build 1 claiming: x",
  ];
  for (const input of inputs) {
    const started = performance.now();
    const got = parseClaim(input as string, "main");
    assert.ok(performance.now() - started < 2000, `slow on ${String(input).slice(0, 40)}`);
    assert.equal(typeof got.format, "string");
    if (got.owner === null) assert.equal(typeof got.note, "string");
    else assert.equal(got.note, null);
  }
});

test("the result is plain data that survives JSON", () => {
  const got = parseClaim('platform/app/{"b":[1,{"c":null}],"a":true}/deploy build 42 claiming: l', "main");
  assert.deepEqual(JSON.parse(JSON.stringify(got)), got);
});

test("a Build URL says which Concourse the build ran on; other formats do not", () => {
  assert.equal(parseClaim(`claiming: l\nBuild URL: ${URL_42}`, "main").concourse, EXT);
  assert.equal(parseClaim("claiming: l\nBuild URL: https://CI.other.org:8443/prefix/teams/t/pipelines/p/jobs/j/builds/1", "main").concourse, "https://CI.other.org:8443/prefix");
  assert.equal(parseClaim("claiming: l\nBuild URL: http://10.0.0.9:8080/builds/77", "main").concourse, "http://10.0.0.9:8080");
  assert.equal(parseClaim("platform/app/deploy build 42 claiming: l", "main").concourse, undefined);
  assert.equal(parseClaim("claiming: l\nBuild URL:", "main").concourse, undefined);
});
