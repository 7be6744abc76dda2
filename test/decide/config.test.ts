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

// ---- the repository's credentials: resolved here, one line a case ----

type AuthCase = [name: string, flags: Flags, env: Record<string, string>, url: string, auth: unknown];
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----";
const authCases: AuthCase[] = [
  ["a local path needs nothing", base, {}, "/tmp/pool.git", { kind: "none" }],
  ["ssh with a deploy key and known hosts", { pools: "aws:2h" }, { POOL_REPO: "git@h:o/r.git", POOL_REPO_SSH_PRIVATE_KEY: KEY, POOL_REPO_SSH_KNOWN_HOSTS: "h ssh-ed25519 AAAA" }, "git@h:o/r.git", { kind: "ssh", privateKey: KEY, knownHosts: "h ssh-ed25519 AAAA", userKnownHosts: null }],
  ["ssh without a key: ssh's own keys or agent", { ...base, repo: "ssh://git@h/r.git" }, {}, "ssh://git@h/r.git", { kind: "ssh", privateKey: null, knownHosts: null, userKnownHosts: null }],
  ["https credentials inside POOL_REPO move out of the URL", { pools: "aws:2h" }, { POOL_REPO: "https://bot:t%21k@h/r.git" }, "https://h/r.git", { kind: "https", username: "bot", password: "t!k" }],
  ["https://TOKEN@host in POOL_REPO is a token", { pools: "aws:2h" }, { POOL_REPO: "https://ghp_x@h/r.git" }, "https://h/r.git", { kind: "https", username: "ghp_x", password: "" }],
  ["POOL_REPO_USERNAME/PASSWORD with a clean --repo", { ...base, repo: "https://h/r.git" }, { POOL_REPO_USERNAME: "u", POOL_REPO_PASSWORD: "p-123" }, "https://h/r.git", { kind: "https", username: "u", password: "p-123" }],
  ["a user name in --repo with the password from the environment", { ...base, repo: "https://u@h/r.git" }, { POOL_REPO_PASSWORD: "p-123" }, "https://h/r.git", { kind: "https", username: "u", password: "p-123" }],
  ["https without credentials: the user's own helpers", { ...base, repo: "https://h/r.git" }, {}, "https://h/r.git", { kind: "none" }],
];
for (const [name, flags, env, url, auth] of authCases) {
  test(`repository auth: ${name}`, () => {
    const r = resolve(flags, env);
    assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
    assert.equal(r.config.repo, url);
    assert.deepEqual(r.config.repoAuth, auth);
  });
}

const refused: Array<[name: string, repo: string]> = [
  ["user and token", "https://bot:tok-123@h/r.git"],
  ["a token as the user", "https://ghp_tok123@h/r.git"],
  ["an ssh password", "ssh://git:pw-123@h/r.git"],
];
for (const [name, repo] of refused) {
  test(`--repo with credentials is refused: ${name}`, () => {
    const r = resolve({ ...base, repo });
    assert.equal(r.ok, false);
    const text = r.ok ? "" : r.problems.join("\n");
    assert.match(text, /--repo: credentials inside the repository URL are not accepted on the command line/);
    assert.match(text, /POOL_REPO in the environment, or the credentials in POOL_REPO_USERNAME\/POOL_REPO_PASSWORD/);
    assert.ok(!/tok-123|ghp_tok123|pw-123/.test(text), "the problem does not quote the secret");
    assert.ok(!r.ok && r.secrets.length > 0, "and the secret is known to the redactor all the same");
  });
}

test("every credential seen is in Config.secrets, used or not", () => {
  const r = resolve(
    { ...base, repo: "git@h:o/r.git", concourseUrl: "https://ci", tokenFile: "/t" },
    { POOL_REPO_PASSWORD: "unused-for-ssh", POOL_REPO_SSH_PRIVATE_KEY: KEY, CONCOURSE_TOKEN: "env-token-1", POOL_BOY_PUSHGATEWAY: "https://pg:pg-pass@pg:9091" },
    { files: { "/t": "file-token-2\n" } },
  );
  assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
  const values = r.config.secrets.map((s) => s.value);
  for (const v of ["unused-for-ssh", KEY, "env-token-1", "file-token-2", "pg-pass"]) assert.ok(values.includes(v), v);
  assert.ok(r.config.repoWarnings.some((w) => /POOL_REPO_PASSWORD is ignored/.test(w)));
});
