import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePools, policiesFor, resolveConfig, type Flags, type FlyTarget, type ResolveInput } from "../../src/decide/config.js";

function resolve(flags: Flags, env: Record<string, string> = {}, extra: Partial<ResolveInput> = {}) {
  return resolveConfig({ command: "status", flags, env, flyTarget: null, files: {}, isTTY: false, ...extra });
}
function problems(flags: Flags, env: Record<string, string> = {}, extra: Partial<ResolveInput> = {}): string[] {
  const r = resolve(flags, env, extra);
  assert.equal(r.ok, false, "expected problems");
  return r.ok ? [] : r.problems;
}
const base = { repo: "/tmp/pool.git", pools: "aws:2h" };

test("the original's environment alone is a complete config", () => {
  const r = resolve({}, {
    POOL_REPO: "git@github.com:org/locks.git", POOLS: "workers:60,testers:30", POOL_REPO_BRANCH: "locks",
    CONCOURSE_BASE_URL: "https://ci.example.com/", CONCOURSE_USERNAME: "bot", CONCOURSE_PASSWORD: "s3cret-pw",
  });
  assert.ok(r.ok);
  const c = r.config;
  assert.equal(c.repo, "git@github.com:org/locks.git");
  assert.equal(c.branch, "locks");
  assert.deepEqual(c.pools.named, [{ pool: "workers", timeoutSeconds: 3600 }, { pool: "testers", timeoutSeconds: 1800 }]);
  assert.equal(c.atc?.url, "https://ci.example.com");
  assert.deepEqual(c.atc?.auth, { kind: "password", username: "bot", password: "s3cret-pw" });
  assert.equal(c.team, "main");
  assert.equal(c.atc?.concurrency, 16);
});

test("a flag beats the environment", () => {
  const r = resolve({ repo: "/flag", pools: "a:1h", branch: "b1", team: "t1" }, { POOL_REPO: "/env", POOLS: "b:2h", POOL_REPO_BRANCH: "b2", POOL_BOY_TEAM: "t2" });
  assert.ok(r.ok);
  assert.equal(r.config.repo, "/flag");
  assert.equal(r.config.branch, "b1");
  assert.equal(r.config.team, "t1");
  assert.deepEqual(r.config.pools.named, [{ pool: "a", timeoutSeconds: 3600 }]);
});

test("no API: timeout-only mode, no branch means the remote's default", () => {
  const r = resolve(base);
  assert.ok(r.ok);
  assert.equal(r.config.atc, null);
  assert.equal(r.config.branch, null);
});

test("every problem is reported at once, each naming its input", () => {
  const p = problems({ pools: "aws:90x,../x:1h,gcp" }, { CONCOURSE_USERNAME: "bot", POOL_BOY_CONCURRENCY: "lots" });
  const text = p.join("\n");
  assert.match(text, /--repo \(or POOL_REPO\) is required/);
  assert.match(text, /"90x" is not a duration/);
  assert.match(text, /"\.\.\/x" is not a pool name/);
  assert.match(text, /"gcp" has no timeout/);
  assert.match(text, /CONCOURSE_USERNAME is set but no password/);
  assert.match(text, /POOL_BOY_CONCURRENCY: "lots" is not a whole number/);
});

const badPools: Array<[string, RegExp]> = [
  ["", /no pool given/],
  ["aws", /has no timeout/],
  ["aws:", /is not a duration/],
  [":2h", /has no timeout/],
  ["aws:2h,aws:3h", /given twice/],
  ["*:2h,*:3h", /"\*" is given twice/],
  [".hidden:2h", /not a pool name/],
  ["a/b:2h", /not a pool name/],
  ["..:2h", /not a pool name/],
  ["aws:-1", /not a duration/],
];
for (const [spec, want] of badPools) {
  test(`--pools ${JSON.stringify(spec)} is refused`, () => {
    const { problems: p } = parsePools(spec, "--pools");
    assert.ok(p.some((x) => want.test(x)), p.join("; "));
  });
}

test("--pools: minutes, units, never, wildcard with overrides", () => {
  const { selection, problems: p } = parsePools("aws:90, gcp:2h ,slow:never,*:1d", "POOLS");
  assert.deepEqual(p, []);
  assert.equal(selection.wildcard, 86400);
  assert.deepEqual(policiesFor(["aws", "gcp", "other", "slow"], selection), [
    { pool: "aws", timeoutSeconds: 5400 },
    { pool: "gcp", timeoutSeconds: 7200 },
    { pool: "other", timeoutSeconds: 86400 },
    { pool: "slow", timeoutSeconds: null },
  ]);
  const named = parsePools("aws:2h", "--pools").selection;
  assert.deepEqual(policiesFor(["aws", "gcp"], named), [{ pool: "aws", timeoutSeconds: 7200 }]);
});

test("a bad API URL is refused, without echoing credentials", () => {
  const p = problems(base, { CONCOURSE_BASE_URL: "ftp://ci" });
  assert.match(p.join(), /CONCOURSE_BASE_URL: "ftp:\/\/ci" is not an http\(s\) URL/);
  const q = problems(base, { CONCOURSE_BASE_URL: "https://bot:hunter22@ci.example.com" });
  assert.doesNotMatch(q.join(), /hunter22/);
});

test("credentials without an API, or both kinds at once, are refused", () => {
  assert.match(problems(base, { CONCOURSE_TOKEN: "tok-123456" }).join(), /no API/);
  assert.match(problems(base, { CONCOURSE_BASE_URL: "https://ci", CONCOURSE_USERNAME: "u", CONCOURSE_PASSWORD: "pw-123", CONCOURSE_TOKEN: "tok-123456" }).join(), /both a password and a token/);
  assert.match(problems(base, { CONCOURSE_BASE_URL: "https://ci", CONCOURSE_PASSWORD: "pw-123" }).join(), /no user/);
});

test("passwords and tokens come from files", () => {
  const r = resolve({ ...base, concourseUrl: "https://ci", username: "bot", passwordFile: "/run/secrets/pw" }, {}, { files: { "/run/secrets/pw": "from-file\n" } });
  assert.ok(r.ok);
  assert.deepEqual(r.config.atc?.auth, { kind: "password", username: "bot", password: "from-file" });
  const t = resolve({ ...base, concourseUrl: "https://ci" }, { CONCOURSE_TOKEN_FILE: "/tok" }, { files: { "/tok": "tok-abcdef" } });
  assert.ok(t.ok);
  assert.equal(t.config.atc?.auth.kind, "token");
  assert.match(problems({ ...base, concourseUrl: "https://ci", username: "bot", passwordFile: "/missing" }, {}, { files: { "/missing": null } }).join(), /--password-file: cannot read "\/missing"/);
});

const target: FlyTarget = { name: "ci", api: "https://ci.example.com", team: "platform", token: "tok-flyrc-123", insecure: true, caCert: null };
test("--target reuses fly's api, team, token and insecure", () => {
  const r = resolve({ ...base, target: "ci" }, {}, { flyTarget: target });
  assert.ok(r.ok);
  assert.equal(r.config.atc?.url, "https://ci.example.com");
  assert.equal(r.config.team, "platform");
  assert.equal(r.config.atc?.insecure, true);
  assert.deepEqual(r.config.atc?.auth, { kind: "token", token: "tok-flyrc-123", source: "~/.flyrc target ci", flyTarget: "ci" });
});

test("--target problems say how to fix them", () => {
  assert.match(problems({ ...base, target: "ci" }).join(), /no such target in ~\/\.flyrc \(log in first: fly -t ci login/);
  assert.match(problems({ ...base, target: "ci" }, {}, { flyTarget: "the token expired at 2026-01-01T00:00:00Z (log in again: fly -t ci login)" }).join(), /--target ci: the token expired/);
  assert.match(problems({ ...base, target: "ci" }, {}, { flyTarget: { ...target, token: null } }).join(), /has no token \(log in first: fly -t ci login\)/);
  assert.match(problems({ ...base, target: "ci", concourseUrl: "https://other.example.com" }, {}, { flyTarget: target }).join(), /name different Concourses/);
});

test("booleans from the environment are checked", () => {
  assert.match(problems(base, { POOL_BOY_JSON: "maybe" }).join(), /POOL_BOY_JSON: "maybe" is not true or false/);
  const r = resolve(base, { POOL_BOY_JSON: "1", POOL_BOY_VERBOSE: "true" });
  assert.ok(r.ok && r.config.json && r.config.verbose);
});

test("colour: only on a terminal, never with NO_COLOR", () => {
  const on = resolve(base, {}, { isTTY: true });
  assert.ok(on.ok && on.config.color);
  const off = resolve(base, { NO_COLOR: "1" }, { isTTY: true });
  assert.ok(off.ok && !off.config.color);
  const pipe = resolve(base, {}, { isTTY: false });
  assert.ok(pipe.ok && !pipe.config.color);
});

test("a CA certificate file must hold a PEM certificate", () => {
  assert.match(problems({ ...base, concourseUrl: "https://ci", caCert: "/ca.pem" }, {}, { files: { "/ca.pem": "not a cert" } }).join(), /holds no PEM certificate/);
});
