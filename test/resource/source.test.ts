// source → the CLI's inputs, one line a case; and the same Config as the CLI for the same settings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { translateSource, inSourceTerms, parseOutParams, narrowPools, sourceSecrets } from "../../src/resource/source.js";
import { resolveConfig } from "../../src/decide/config.js";
import { parse } from "yaml";

const base = { uri: "git@github.com:org/locks.git", pools: "aws:2h" };

const good: Array<[string, Record<string, unknown>, (t: ReturnType<typeof translateSource>) => void]> = [
  ["spec string", base, (t) => assert.equal(t.ok && t.value.flags.pools, "aws:2h")],
  ["map of timeouts, numbers are minutes", { ...base, pools: { aws: "2h", gcp: 90, "*": { timeout: "never" } } }, (t) => assert.equal(t.ok && t.value.flags.pools, "aws:2h,gcp:90,*:never")],
  ["ssh key → the transport's variable", { ...base, private_key: "KEY", known_hosts: "h k" }, (t) => assert.deepEqual(t.ok && t.value.env, { POOL_REPO: base.uri, POOL_REPO_SSH_PRIVATE_KEY: "KEY", POOL_REPO_SSH_KNOWN_HOSTS: "h k" })],
  ["https user and password", { ...base, username: "u", password: "p" }, (t) => assert.deepEqual(t.ok && t.value.env, { POOL_REPO: base.uri, POOL_REPO_USERNAME: "u", POOL_REPO_PASSWORD: "p" })],
  // stdin is no command line: a URL with credentials is the pool-resource's own way, and accepted
  ["credentials inside uri", { ...base, uri: "https://bot:tok-123@git.example.com/locks.git" }, (t) => {
    assert.ok(t.ok);
    const r = resolveConfig({ command: "status", flags: t.value.flags, env: t.value.env, flyTarget: null, files: t.value.files, isTTY: false });
    assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
    assert.equal(r.value.repo, "https://git.example.com/locks.git");
    assert.deepEqual(r.value.repoAuth, { kind: "https", username: "bot", password: "tok-123" });
  }],
  ["concourse user", { ...base, concourse_url: "https://ci", concourse_username: "bot", concourse_password: "pw" }, (t) => {
    assert.ok(t.ok);
    assert.equal(t.value.flags.username, "bot");
    assert.equal(t.value.env.CONCOURSE_PASSWORD, "pw");
  }],
  ["concourse token", { ...base, concourse_url: "https://ci", concourse_token: "tok" }, (t) => assert.equal(t.ok && t.value.env.CONCOURSE_TOKEN, "tok")],
  ["ca_cert text as a named file", { ...base, ca_cert: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n" }, (t) => assert.ok(t.ok && t.value.flags.caCert && t.value.files[t.value.flags.caCert])],
  ["empty branch: the default branch", { ...base, branch: "" }, (t) => assert.equal(t.ok && t.value.flags.branch, undefined)],
];
for (const [name, source, check] of good) test(`source: ${name}`, () => check(translateSource(source)));

const bad: Array<[string, unknown, RegExp]> = [
  ["not a map", "uri", /source is missing or not a map/],
  ["no uri", { pools: "aws:2h" }, /source\.uri is required/],
  ["uri not a string", { ...base, uri: 42 }, /source\.uri must be a string/],
  ["no pools", { uri: "x" }, /source\.pools is required/],
  ["empty pools map", { ...base, pools: {} }, /empty map/],
  ["pools a list", { ...base, pools: ["aws"] }, /source\.pools must be/],
  ["bad timeout in the map", { ...base, pools: { aws: true } }, /source\.pools\.aws: the timeout must be/],
  ["bad duration", { ...base, pools: "aws:soon" }, /source\.pools: "aws:soon": "soon" is not a duration/],
  ["config not a string", { ...base, config: { pools: {} } }, /source\.config must be a string/],
  ["pool-resource's pool key", { ...base, pool: "aws" }, /source\.pool is not a pool-boy setting: pool-boy takes "pools"/],
  ["unknown key", { ...base, privatekey: "x" }, /source\.privatekey is not a pool-boy setting; known keys: uri,/],
  ["user without password", { ...base, username: "u" }, /source\.username is set but no source\.password/],
  ["key and password", { ...base, private_key: "k", password: "p" }, /both set/],
  ["concourse password without user", { ...base, concourse_url: "https://ci", concourse_password: "p" }, /no source\.concourse_username/],
  ["password and token", { ...base, concourse_url: "https://ci", concourse_username: "u", concourse_password: "p", concourse_token: "t" }, /give one/],
  ["credentials without url", { ...base, concourse_token: "t" }, /no source\.concourse_url/],
  ["ca_cert not PEM", { ...base, ca_cert: "/etc/ssl/ca.pem" }, /source\.ca_cert holds no PEM certificate/],
  ["insecure not a boolean", { ...base, insecure: "yes" }, /source\.insecure must be true or false/],
];
for (const [name, source, re] of bad) {
  test(`bad source: ${name}`, () => {
    const t = translateSource(source);
    assert.ok(!t.ok);
    assert.match(t.problems.join("\n"), re);
  });
}

test("every problem at once", () => {
  const t = translateSource({ pools: "aws:soon", username: "u", pool: "x", insecure: 1 });
  assert.ok(!t.ok);
  assert.equal(t.problems.length, 5, t.problems.join("\n"));
});

test("the source resolves to the Config the CLI builds from the same settings", () => {
  const t = translateSource({ ...base, branch: "main", pools: { aws: "2h", "*": "90m" }, team: "ops", concourse_url: "https://ci.example.com", concourse_username: "bot", concourse_password: "pw-123456" });
  assert.ok(t.ok);
  const fromSource = resolveConfig({ command: "clean", flags: t.value.flags, env: t.value.env, flyTarget: null, files: t.value.files, isTTY: false });
  const fromCli = resolveConfig({
    command: "clean",
    // the URL as a flag, as the resource passes it (messages name the flag, in source terms)
    flags: { concourseUrl: "https://ci.example.com" },
    env: { POOL_REPO: base.uri, POOL_REPO_BRANCH: "main", POOLS: "aws:2h,*:90m", POOL_BOY_TEAM: "ops", CONCOURSE_USERNAME: "bot", CONCOURSE_PASSWORD: "pw-123456" },
    flyTarget: null,
    files: {},
    isTTY: false,
  });
  assert.deepEqual(fromSource, fromCli);
});

test("the CLI's names become the source's keys in messages", () => {
  for (const [cli, resource] of [
    ["--pools: \"aws\" has no timeout", "source.pools: \"aws\" has no timeout"],
    ["set POOL_REPO_SSH_KNOWN_HOSTS to the output of", "set source.known_hosts to the output of"],
    ["POOL_REPO_SSH_PRIVATE_KEY: not a key", "source.private_key: not a key"],
    ["CONCOURSE_BASE_URL: \"x\" is not an http(s) URL", "source.concourse_url: \"x\" is not an http(s) URL"],
    ["--repo (or POOL_REPO) is required", "source.uri is required"],
  ] as const) assert.equal(inSourceTerms(cli), resource);
});

test("put params: pools and dry_run, every problem at once", () => {
  assert.deepEqual(parseOutParams(undefined), { ok: true, value: { pools: null, dryRun: false } });
  assert.deepEqual(parseOutParams({ pools: "aws, gcp", dry_run: true }), { ok: true, value: { pools: ["aws", "gcp"], dryRun: true } });
  assert.deepEqual(parseOutParams({ pools: ["aws"] }), { ok: true, value: { pools: ["aws"], dryRun: false } });
  const bad = parseOutParams({ pools: 3, dry_run: "yes", release: "aws" });
  assert.ok(!bad.ok);
  assert.equal(bad.problems.length, 3);
});

test("narrowing is --only: it keeps the source's settings and refuses pools the source does not cover", () => {
  const selection = { named: [{ pool: "aws", timeoutSeconds: 7200 }, { pool: "gcp", timeoutSeconds: 60 }], wildcard: undefined };
  const none = { named: [], wildcard: undefined };
  const file = (source: string, ...pools: string[]) => ({ source: `--config ${source}`, pools: new Map(pools.map((p) => [p, {}])), strict: false });
  assert.deepEqual(narrowPools(selection, null, ["gcp", "gcp"]), { ok: true, value: [{ pool: "gcp", lock: null }] });
  const refused = narrowPools(selection, null, ["azure"]);
  assert.ok(!refused.ok && /"azure" is not in source\.pools \(aws, gcp\)/.test(refused.problems[0] ?? ""));
  assert.deepEqual(narrowPools({ named: [], wildcard: null }, null, ["azure"]), { ok: true, value: [{ pool: "azure", lock: null }] });
  // source.config, or a source.pools map with settings: the file's pools
  assert.deepEqual(narrowPools(none, file("source.config", "aws", "gcp"), ["gcp"]), { ok: true, value: [{ pool: "gcp", lock: null }] });
  assert.deepEqual(narrowPools(none, file("source.config", "*"), ["azure"]), { ok: true, value: [{ pool: "azure", lock: null }] });
  const notInFile = narrowPools(none, file("source.config", "aws", "gcp"), ["azure"]);
  assert.ok(!notInFile.ok && /"azure" is not in source\.config \(aws, gcp\)/.test(notInFile.problems[0] ?? ""));
  const notInMap = narrowPools(none, file("source.pools", "aws"), ["gcp"]);
  assert.ok(!notInMap.ok && /"gcp" is not in source\.pools \(aws\)/.test(notInMap.problems[0] ?? ""));
  // the spec names the pools judged: the file below it only adds settings
  const specFirst = narrowPools(selection, file("source.config", "azure"), ["azure"]);
  assert.ok(!specFirst.ok);
});

test("secrets are found whatever else is wrong with the source", () => {
  assert.deepEqual(sourceSecrets({ private_key: "k1", password: "p1", concourse_password: "p2", concourse_token: "t1", uri: 3 }).sort(), ["k1", "p1", "p2", "t1"]);
  assert.deepEqual(sourceSecrets("nonsense"), []);
});

// Where pool-boy reads a config file (--config), `config` and richer `pools` maps reach it as a
// file's text, through the same flag: checked and applied by the CLI's own parser.
const withConfig = { configFile: true };
const withoutConfig = { configFile: false };

test("config-file mode: source.config is passed on as --config with its text", () => {
  const t = translateSource({ uri: "x", config: "pools:\n  aws: {timeout: 2h}\n" }, withConfig);
  assert.ok(t.ok, !t.ok ? t.problems.join("\n") : "");
  assert.equal((t.value.flags as Record<string, unknown>)["config"], "source.config");
  assert.equal(t.value.files["source.config"], "pools:\n  aws: {timeout: 2h}\n");
  assert.equal(t.value.flags.pools, undefined);
});

test("config-file mode: a richer pools map becomes a config file's text, the same settings", () => {
  const pools = { "*": { timeout: "2h" }, aws: { timeout: "90m", "keep-failed": "1d", "release-to": "aws-dirty" }, gcp: 45 };
  const t = translateSource({ uri: "x", pools }, withConfig);
  assert.ok(t.ok, !t.ok ? t.problems.join("\n") : "");
  assert.equal((t.value.flags as Record<string, unknown>)["config"], "source.pools");
  assert.equal(t.value.flags.pools, undefined);
  assert.deepEqual(parse(t.value.files["source.pools"] ?? ""), { pools: { ...pools, gcp: "45" } });
});

test("config-file mode: a map of timeouts only is still --pools; richer settings in two places are refused", () => {
  const plain = translateSource({ uri: "x", pools: { aws: "2h" } }, withConfig);
  assert.ok(plain.ok && plain.value.flags.pools === "aws:2h" && !("config" in plain.value.flags));
  const both = translateSource({ uri: "x", pools: { aws: { "release-to": "d" } }, config: "pools: {}" }, withConfig);
  assert.ok(!both.ok && /give the per-pool settings in one of them/.test(both.problems.join("\n")));
  const none = translateSource({ uri: "x" }, withConfig);
  assert.ok(!none.ok && /source\.pools is required \(or source\.config\)/.test(none.problems.join("\n")));
});

test("without config-file support, config and richer maps are refused, saying why", () => {
  const t = translateSource({ uri: "x", pools: { aws: { "release-to": "d" } }, config: "pools: {}" }, withoutConfig);
  assert.ok(!t.ok);
  assert.match(t.problems.join("\n"), /source\.pools\.aws: "release-to" needs the config file/);
  assert.match(t.problems.join("\n"), /source\.config needs the config file/);
  assert.equal(inSourceTerms("--config source.config:3: pools.aws.timeout: bad"), "source.config:3: pools.aws.timeout: bad");
});
