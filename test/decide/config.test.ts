import { test } from "node:test";
import assert from "node:assert/strict";
import { ok, fail } from "../../src/core/result.js";
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
  const c = r.value;
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
  assert.equal(r.value.repo, "/flag");
  assert.equal(r.value.branch, "b1");
  assert.equal(r.value.team, "t1");
  assert.deepEqual(r.value.pools.named, [{ pool: "a", timeoutSeconds: 3600 }]);
});

test("no API: timeout-only mode, no branch means the remote's default", () => {
  const r = resolve(base);
  assert.ok(r.ok);
  assert.equal(r.value.atc, null);
  assert.equal(r.value.branch, null);
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
  ["aws:", /"aws:" has no timeout after the ":" \(e\.g\. "aws:2h", or "aws:never"\)/],
  [":2h", /":2h" names no pool before the ":" \(write POOL:TIMEOUT, e\.g\. "workers:2h", or "\*:2h" for every pool\)/],
  [":5", /":5" names no pool .*e\.g\. "workers:5"/],
  ["aws:2h,aws:3h", /given twice/],
  ["*:2h,*:3h", /"\*" is given twice/],
  [".hidden:2h", /not a pool name/],
  ["a/b:2h", /not a pool name/],
  ["..:2h", /not a pool name/],
  ["aws:-1", /not a duration/],
];
for (const [spec, want] of badPools) {
  test(`--pools ${JSON.stringify(spec)} is refused`, () => {
    const r = parsePools(spec, "--pools");
    const p = r.ok ? [] : r.problems;
    assert.ok(p.some((x) => want.test(x)), p.join("; "));
  });
}

test("--pools: minutes, units, never, wildcard with overrides", () => {
  const r = parsePools("aws:90, gcp:2h ,slow:never,*:1d", "POOLS");
  assert.deepEqual(r.ok ? [] : r.problems, []);
  assert.ok(r.ok);
  const selection = r.value;
  assert.equal(selection.wildcard, 86400);
  assert.deepEqual(policiesFor(["aws", "gcp", "other", "slow"], selection), [
    { pool: "aws", timeoutSeconds: 5400 },
    { pool: "gcp", timeoutSeconds: 7200 },
    { pool: "other", timeoutSeconds: 86400 },
    { pool: "slow", timeoutSeconds: null },
  ]);
  const two = parsePools("aws:2h", "--pools");
  assert.ok(two.ok);
  const named = two.value;
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
  assert.match(problems(base, { CONCOURSE_BASE_URL: "https://ci", CONCOURSE_USERNAME: "u", CONCOURSE_PASSWORD: "pw-123", CONCOURSE_TOKEN: "tok-123456" }).join(), /both a password \(CONCOURSE_PASSWORD\) and a token \(CONCOURSE_TOKEN\) are set/);
  assert.match(problems(base, { CONCOURSE_BASE_URL: "https://ci", CONCOURSE_PASSWORD: "pw-123" }).join(), /no user/);
});

test("passwords and tokens come from files", () => {
  const r = resolve({ ...base, concourseUrl: "https://ci", username: "bot", passwordFile: "/run/secrets/pw" }, {}, { files: { "/run/secrets/pw": "from-file\n" } });
  assert.ok(r.ok);
  assert.deepEqual(r.value.atc?.auth, { kind: "password", username: "bot", password: "from-file" });
  const t = resolve({ ...base, concourseUrl: "https://ci" }, { CONCOURSE_TOKEN_FILE: "/tok" }, { files: { "/tok": "tok-abcdef" } });
  assert.ok(t.ok);
  assert.equal(t.value.atc?.auth.kind, "token");
  assert.match(problems({ ...base, concourseUrl: "https://ci", username: "bot", passwordFile: "/missing" }, {}, { files: { "/missing": null } }).join(), /--password-file: cannot read "\/missing"/);
});

const target: FlyTarget = { name: "ci", api: "https://ci.example.com", team: "platform", token: "tok-flyrc-123", insecure: true, caCert: null };
test("--target reuses fly's api, team, token and insecure", () => {
  const r = resolve({ ...base, target: "ci" }, {}, { flyTarget: ok(target) });
  assert.ok(r.ok);
  assert.equal(r.value.atc?.url, "https://ci.example.com");
  assert.equal(r.value.team, "platform");
  assert.equal(r.value.atc?.insecure, true);
  assert.deepEqual(r.value.atc?.auth, { kind: "token", token: "tok-flyrc-123", source: "~/.flyrc target ci", flyTarget: "ci" });
});

test("--target problems say how to fix them", () => {
  assert.match(problems({ ...base, target: "ci" }).join(), /no such target in ~\/\.flyrc \(log in first: fly -t ci login/);
  assert.match(problems({ ...base, target: "ci" }, {}, { flyTarget: fail("the token expired at 2026-01-01T00:00:00Z (log in again: fly -t ci login)") }).join(), /--target ci: the token expired/);
  assert.match(problems({ ...base, target: "ci" }, {}, { flyTarget: ok({ ...target, token: null }) }).join(), /has no token in ~\/\.flyrc \(log in first: fly -t ci login\)/);
  assert.match(problems({ ...base, target: "ci", concourseUrl: "https://other.example.com" }, {}, { flyTarget: ok(target) }).join(), /name different Concourses/);
});

test("booleans from the environment are checked", () => {
  assert.match(problems(base, { POOL_BOY_JSON: "maybe" }).join(), /POOL_BOY_JSON: "maybe" is not true or false/);
  const r = resolve(base, { POOL_BOY_JSON: "1", POOL_BOY_VERBOSE: "true" });
  assert.ok(r.ok && r.value.json && r.value.verbose);
});

test("colour: only on a terminal, never with NO_COLOR", () => {
  const on = resolve(base, {}, { isTTY: true });
  assert.ok(on.ok && on.value.color);
  const off = resolve(base, { NO_COLOR: "1" }, { isTTY: true });
  assert.ok(off.ok && !off.value.color);
  const pipe = resolve(base, {}, { isTTY: false });
  assert.ok(pipe.ok && !pipe.value.color);
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
    assert.equal(r.value.repo, url);
    assert.deepEqual(r.value.repoAuth, auth);
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

test("--pushgateway with credentials is refused like --repo; POOL_BOY_PUSHGATEWAY may hold them", () => {
  for (const url of ["https://pg:pg-pass-77@pg:9091", "https://pgtoken77@pg:9091"]) {
    const r = resolve({ ...base, pushgateway: url });
    assert.equal(r.ok, false, url);
    const text = r.ok ? "" : r.problems.join("\n");
    assert.match(text, /--pushgateway: credentials inside the URL are not accepted on the command line/);
    assert.match(text, /POOL_BOY_PUSHGATEWAY in the environment/);
    assert.ok(!/pg-pass-77|pgtoken77/.test(text), "the problem does not quote the secret");
  }
  const env = resolve(base, { POOL_BOY_PUSHGATEWAY: "https://pg:pg-pass-77@pg:9091" });
  assert.ok(env.ok, env.ok ? "" : env.problems.join("\n"));
});

test("every credential seen is in Config.secrets, used or not", () => {
  const r = resolve(
    { ...base, repo: "git@h:o/r.git", concourseUrl: "https://ci", tokenFile: "/t" },
    { POOL_REPO_PASSWORD: "unused-for-ssh", POOL_REPO_SSH_PRIVATE_KEY: KEY, CONCOURSE_TOKEN: "env-token-1", POOL_BOY_PUSHGATEWAY: "https://pg:pg-pass@pg:9091" },
    { files: { "/t": "file-token-2\n" } },
  );
  assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
  const values = r.value.secrets.map((s) => s.value);
  for (const v of ["unused-for-ssh", KEY, "env-token-1", "file-token-2", "pg-pass"]) assert.ok(values.includes(v), v);
  assert.ok(r.value.repoWarnings.some((w) => /POOL_REPO_PASSWORD is ignored/.test(w)));
});

// ---- Pool timeouts: 1 minute to 365 days, or never. Everything else is refused. ----
type PoolTimeoutCase = [spec: string, want: number | null | RegExp];
const poolTimeouts: PoolTimeoutCase[] = [
  ["aws:1", 60],
  ["aws:1m", 60],
  ["aws:60s", 60],
  ["aws:0.5h", 1800],
  ["aws:90.5s", 91],
  ["aws:365d", 365 * 86400],
  ["aws:525600", 365 * 86400],
  ["aws:52w", 52 * 604800],
  ["aws:never", null],
  ["aws:0", /"0" is shorter than the shortest timeout, 1m .*"aws:never"/],
  ["aws:00", /"00" is shorter than the shortest timeout, 1m/],
  ["aws:0m", /"0m" is shorter than the shortest timeout/],
  ["aws:0.4s", /"0\.4s" is shorter than the shortest timeout/],
  ["aws:59s", /"59s" is shorter than the shortest timeout, 1m \(/],
  ["aws:0.9", /"0\.9" is not a duration/],
  ["aws:365d1s", /"365d1s" is longer than the longest timeout, 365d; give 365d or less, or "aws:never"/],
  ["aws:366d", /is longer than the longest timeout/],
  ["aws:53w", /is longer than the longest timeout/],
  [`aws:${"9".repeat(400)}`, /is longer than the longest timeout, 365d/],
  [`aws:${"9".repeat(400)}d`, /is longer than the longest timeout, 365d/],
  [`*:${"1".repeat(30)}h`, /"\*:1+h": "1+h" is longer than the longest timeout/],
];
for (const [spec, want] of poolTimeouts) {
  test(`--pools ${spec.length > 40 ? spec.slice(0, 40) + "…" : spec} → ${want instanceof RegExp ? "refused" : want}`, () => {
    const r = parsePools(spec, "--pools");
    const p = r.ok ? [] : r.problems;
    if (want instanceof RegExp) {
      assert.equal(p.length, 1, p.join("; "));
      assert.match(p[0]!, want);
      assert.match(p[0]!, /^--pools: /);
    } else {
      assert.deepEqual(p, []);
      assert.ok(r.ok);
      const selection = r.value;
      const t = selection.named.length > 0 ? selection.named[0]!.timeoutSeconds : selection.wildcard;
      assert.equal(t, want);
    }
  });
}

test("a refused pool timeout is refused by resolveConfig too, from POOLS, naming POOLS", () => {
  const p = problems({ repo: "/r" }, { POOLS: "aws:00" });
  assert.match(p.join(), /^POOLS: "aws:00": "00" is shorter/);
});

// ---- Every count and duration option is bounded, flag and environment alike. ----
type BoundCase = [name: string, flags: Flags, env: Record<string, string>, want: RegExp | ((r: ReturnType<typeof resolve>) => void)];
const withApi = { ...base, concourseUrl: "https://ci.example.com" };
const bounds: BoundCase[] = [
  ["--api-timeout 25d (over Node's timer limit)", { ...withApi, apiTimeout: "25d" }, {}, /--api-timeout: "25d" is longer than the longest request timeout, 1h \(give 1s to 1h/],
  ["--api-timeout 3601s", { ...withApi, apiTimeout: "3601s" }, {}, /--api-timeout: "3601s" is longer/],
  ["--api-timeout of 400 digits", { ...withApi, apiTimeout: "9".repeat(400) + "s" }, {}, /is longer than the longest request timeout/],
  ["--api-timeout 0s", { ...withApi, apiTimeout: "0s" }, {}, /--api-timeout: "0s" (is shorter than the shortest request timeout, 1s|is not a duration)/],
  ["--api-timeout 0.5s", { ...withApi, apiTimeout: "0.5s" }, {}, /is shorter than the shortest request timeout/],
  ["--api-timeout never", { ...withApi, apiTimeout: "never" }, {}, /--api-timeout: "never": a request must time out/],
  ["--api-timeout soon", { ...withApi, apiTimeout: "soon" }, {}, /"soon" is not a duration/],
  ["POOL_BOY_API_TIMEOUT=2h", withApi, { POOL_BOY_API_TIMEOUT: "2h" }, /^POOL_BOY_API_TIMEOUT: "2h" is longer/],
  ["--api-timeout 1 has no unit", { ...withApi, apiTimeout: "1" }, {}, /--api-timeout: "1" has no unit \(write e\.g\. "1s"/],
  ["--api-timeout 1s is a second", { ...withApi, apiTimeout: "1s" }, {}, (r) => assert.equal(r.ok && r.value.atc?.timeoutMs, 1000)],
  ["--api-timeout 1h is the longest", { ...withApi, apiTimeout: "1h" }, {}, (r) => assert.equal(r.ok && r.value.atc?.timeoutMs, 3_600_000)],
  ["--api-timeout 1.5s", { ...withApi, apiTimeout: "1.5s" }, {}, (r) => assert.equal(r.ok && r.value.atc?.timeoutMs, 1500)],
  ["--retries 11", { ...withApi, retries: "11" }, {}, /--retries: "11" is out of range \(give a whole number from 0 to 10\)/],
  ["--retries -1", { ...withApi, retries: "-1" }, {}, /--retries: "-1" is not a whole number \(give one from 0 to 10\)/],
  ["--retries 0 is allowed", { ...withApi, retries: "0" }, {}, (r) => assert.equal(r.ok && r.value.atc?.retries, 0)],
  ["POOL_BOY_API_RETRIES of 400 digits", withApi, { POOL_BOY_API_RETRIES: "9".repeat(400) }, /^POOL_BOY_API_RETRIES: "9+" is out of range/],
  ["--concurrency 0", { ...withApi, concurrency: "0" }, {}, /--concurrency: "0" is out of range \(give a whole number from 1 to 256\)/],
  ["--concurrency 257", { ...withApi, concurrency: "257" }, {}, /"257" is out of range/],
  ["--concurrency 2.5", { ...withApi, concurrency: "2.5" }, {}, /"2\.5" is not a whole number/],
  ["--concurrency 256 is the most", { ...withApi, concurrency: "256" }, {}, (r) => assert.equal(r.ok && r.value.atc?.concurrency, 256)],
  ["POOL_BOY_CONCURRENCY=1e3", withApi, { POOL_BOY_CONCURRENCY: "1e3" }, /^POOL_BOY_CONCURRENCY: "1e3" is not a whole number/],
  ["--max-attempts 0", { ...base, maxAttempts: "0" }, {}, /--max-attempts: "0" is out of range \(give a whole number from 1 to 50\)/],
  ["--max-attempts 51", { ...base, maxAttempts: "51" }, {}, /"51" is out of range/],
  ["POOL_BOY_MAX_ATTEMPTS=50 is the most", base, { POOL_BOY_MAX_ATTEMPTS: "50" }, (r) => assert.equal(r.ok && r.value.maxAttempts, 50)],
  ["POOL_BOY_MAX_ATTEMPTS=many", base, { POOL_BOY_MAX_ATTEMPTS: "many" }, /^POOL_BOY_MAX_ATTEMPTS: "many" is not a whole number/],
];
for (const [name, flags, env, want] of bounds) {
  test(`bounds: ${name}`, () => {
    if (typeof want === "function") {
      const r = resolve(flags, env);
      assert.ok(r.ok, r.ok ? "" : r.problems.join("; "));
      want(r);
    } else {
      const p = problems(flags, env);
      assert.equal(p.length, 1, p.join("; "));
      assert.match(p[0]!, want);
    }
  });
}

// ---- Messages name the input the user gave, and the fix. ----
const flyTarget: FlyTarget = { name: "ci", api: "https://ci.example.com", team: "main", token: "tok-flyrc-123", insecure: false, caCert: null, file: "/home/op/.flyrc" };
type MessageCase = [name: string, flags: Flags, env: Record<string, string>, extra: Partial<ResolveInput>, want: RegExp, notWant?: RegExp];
const messages: MessageCase[] = [
  ["a bad api in .flyrc names the target and the file", { ...base, target: "ci" }, {}, { flyTarget: ok({ ...flyTarget, api: "ci.example.com" }) },
    /^--target ci: the target's api "ci\.example\.com" in \/home\/op\/\.flyrc is not an http\(s\) URL \(log in again: fly -t ci login -c https:\/\/ci\.example\.com/, /CONCOURSE_BASE_URL/],
  ["a target given by POOL_BOY_TARGET is named so", base, { POOL_BOY_TARGET: "ci" }, {}, /^POOL_BOY_TARGET=ci: no such target in ~\/\.flyrc/],
  ["a target without a token names the file", { ...base, target: "ci" }, {}, { flyTarget: ok({ ...flyTarget, token: null }) }, /^--target ci: the target has no token in \/home\/op\/\.flyrc \(log in first: fly -t ci login\)/],
  ["--username without a password names --username", { ...base, concourseUrl: "https://ci", username: "bot" }, {}, {}, /^--username is set but no password: set CONCOURSE_PASSWORD or --password-file/],
  ["CONCOURSE_USERNAME without a password names the variable", { ...base, concourseUrl: "https://ci" }, { CONCOURSE_USERNAME: "bot" }, {}, /^CONCOURSE_USERNAME is set but no password/],
  ["a password file without a user names the file", { ...base, concourseUrl: "https://ci", passwordFile: "/pw" }, {}, { files: { "/pw": "pw-123456" } }, /password is set \(--password-file \/pw\) but no user: set --username \(or CONCOURSE_USERNAME\)/],
  ["a token file and a password name both", { ...base, concourseUrl: "https://ci", username: "u" }, { CONCOURSE_PASSWORD: "pw-123456", CONCOURSE_TOKEN_FILE: "/t" }, { files: { "/t": "tok-123456" } },
    /both a password \(CONCOURSE_PASSWORD\) and a token \(CONCOURSE_TOKEN_FILE \/t\) are set: give one of them/],
  ["credentials without an API name the credentials", base, { CONCOURSE_TOKEN: "tok-123456" }, {}, /credentials are set \(CONCOURSE_TOKEN\) but no API: set --concourse-url \(or CONCOURSE_BASE_URL\), or use --target/],
  ["a bad boolean says what is accepted", base, { POOL_BOY_VERBOSE: "yep" }, {}, /^POOL_BOY_VERBOSE: "yep" is not true or false \(use true or false, 1 or 0\)/],
];
for (const [name, flags, env, extra, want, notWant] of messages) {
  test(`message: ${name}`, () => {
    const p = problems(flags, env, extra).join("\n");
    assert.match(p, want);
    if (notWant) assert.doesNotMatch(p, notWant);
  });
}

test("the API's source travels with the config, for later messages", () => {
  const fromFlag = resolve({ ...base, concourseUrl: "https://ci" });
  assert.equal(fromFlag.ok && fromFlag.value.atc?.urlSource, "--concourse-url");
  const fromEnv = resolve(base, { CONCOURSE_BASE_URL: "https://ci" });
  assert.equal(fromEnv.ok && fromEnv.value.atc?.urlSource, "CONCOURSE_BASE_URL");
  const fromTarget = resolve({ ...base, target: "ci" }, {}, { flyTarget: ok(flyTarget) });
  assert.equal(fromTarget.ok && fromTarget.value.atc?.urlSource, "the api of --target ci in /home/op/.flyrc");
});
const onlyCases: Array<[string, Flags, Record<string, string>, Array<{ pool: string; lock: string | null }> | RegExp]> = [
  ["a pool", { only: ["aws"] }, {}, [{ pool: "aws", lock: null }]],
  ["a lock, repeated", { only: ["aws/env-1", "aws/env-2", "aws/env-1"] }, {}, [{ pool: "aws", lock: "env-1" }, { pool: "aws", lock: "env-2" }]],
  ["from the environment", {}, { POOL_BOY_ONLY: "aws, aws/env-1" }, [{ pool: "aws", lock: null }, { pool: "aws", lock: "env-1" }]],
  ["the flag beats the environment", { only: ["aws/x"] }, { POOL_BOY_ONLY: "aws" }, [{ pool: "aws", lock: "x" }]],
  ["an empty pool", { only: ["/x"] }, {}, /--only: "\/x" is not POOL or POOL\/LOCK/],
  ["a lock path", { only: ["aws/a/b"] }, {}, /--only: "aws\/a\/b" is not POOL or POOL\/LOCK .*the lock is a file name/],
  ["a hidden pool", { only: [".git"] }, {}, /is not POOL or POOL\/LOCK/],
];
for (const [name, flags, env, want] of onlyCases) {
  test(`--only: ${name}`, () => {
    const r = resolve({ ...base, ...flags }, env);
    if (want instanceof RegExp) assert.match(r.ok ? "" : r.problems.join("\n"), want);
    else {
      assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
      assert.deepEqual(r.value.only, want);
    }
  });
}

const apiTimeouts: Array<[string, number | RegExp]> = [
  ["10s", 10_000],
  ["1m", 60_000],
  ["1m30s", 90_000],
  ["10", /--api-timeout: "10" has no unit \(write e\.g\. "10s"/],
  ["0s", /is shorter than the shortest request timeout/],
  ["soon", /is not a duration/],
];
for (const [text, want] of apiTimeouts) {
  test(`--api-timeout ${text}`, () => {
    const r = resolve({ ...base, apiTimeout: text, concourseUrl: "https://ci.example.com" });
    if (want instanceof RegExp) assert.match(r.ok ? "" : r.problems.join("\n"), want);
    else {
      assert.ok(r.ok);
      assert.equal(r.value.atc?.timeoutMs, want);
    }
  });
}

const widths: Array<[string, Record<string, string>, boolean, number | undefined, number, boolean]> = [
  ["COLUMNS wins", { COLUMNS: "100" }, true, 120, 100, true],
  ["the terminal's width", {}, true, 120, 120, true],
  ["not a terminal: 80", {}, false, undefined, 80, false],
  ["a COLUMNS that is no number is ignored", { COLUMNS: "wide" }, false, undefined, 80, false],
  ["a dumb terminal gets no hyperlinks", { TERM: "dumb" }, true, 90, 90, false],
  ["NO_COLOR: no hyperlinks either", { NO_COLOR: "1" }, true, 90, 90, false],
];
for (const [name, env, isTTY, terminalColumns, columns, hyperlinks] of widths) {
  test(`width: ${name}`, () => {
    const r = resolve(base, env, { isTTY, terminalColumns });
    assert.ok(r.ok);
    assert.equal(r.value.columns, columns);
    assert.equal(r.value.hyperlinks, hyperlinks);
  });
}

test("--exit-code: status only", () => {
  const s = resolve({ ...base, exitCode: true });
  assert.ok(s.ok && s.value.exitCode);
  const c = resolve(base, { POOL_BOY_EXIT_CODE: "1" }, { command: "clean" });
  assert.ok(c.ok && !c.value.exitCode);
});
