// The resource's check, in and out, run as Concourse runs them, against a real bare pool
// repository and the Concourse API stand-in: versions only when the set of locks to release
// changes, get writes the report, put releases (or not, on a dry run), bad source is named in
// full and changes nothing, and no secret reaches stdout or stderr.
import { test, describe, before, after } from "node:test";
import { closeAll } from "../support/cleanup.js";
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { everyVerdictScenario, DEMO_USER, type Scenario } from "../support/scenario.js";
import { createPoolRepo, filesAt, type PoolRepo } from "../support/pool-repo.js";
import { runResource, output, type ResourceRun } from "../support/resource.js";
import { CONFIG_FILE_SUPPORTED } from "../../src/resource/source.js";

interface Version {
  set: string;
  releasable: string;
}
interface Metadata {
  name: string;
  value: string;
}
interface InOut {
  version: Version;
  metadata: Metadata[];
}

const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";
const meta = (m: Metadata[], name: string) => m.find((e) => e.name === name)?.value;

describe("the Concourse resource", () => {
  let s: Scenario;
  let tmp: string;
  let env: Record<string, string>;
  let source: Record<string, unknown>;
  const seen: ResourceRun[] = [];
  const resource = async (op: "check" | "in" | "out", request: unknown, dir?: string, stdin?: string) => {
    const r = await runResource(op, request, env, { ...(dir ? { dir } : {}), ...(stdin !== undefined ? { stdin } : {}) });
    seen.push(r);
    return r;
  };
  let first: Version;
  let changed: Version;

  before(async () => {
    s = await everyVerdictScenario();
    // vm-1's owner gets HTTP 500 with retries and backoff at every run: seconds per run, and
    // nothing the resource adds. Its owner gives it back first.
    await (await s.repo.claimer()).release("gcp", "vm-1");
    tmp = await mkdtemp(join(tmpdir(), "pool-boy-resource-test-"));
    // What the container has: HOME, PATH, TMPDIR (the check container's, kept between checks)
    // and git isolated from the machine. The task's variables are there too, and must be ignored.
    env = {
      HOME: s.home,
      TMPDIR: tmp,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: join(s.home, ".gitconfig"),
      POOLS: "aws:never,gcp:never",
      POOL_BOY_TEAM: "other",
    };
    source = {
      uri: s.repo.path,
      branch: "main",
      pools: { aws: "2h", gcp: { timeout: "1h" } },
      concourse_url: s.atc.url,
      concourse_username: DEMO_USER.username,
      concourse_password: DEMO_USER.password,
    };
  });
  after(async () => {
    await closeAll(
      () => s?.cleanup(),
      () => tmp && rm(tmp, { recursive: true, force: true }),
    );
  });

  test("first check: one version for the set of locks to release, the clone cached under TMPDIR", async () => {
    const r = await resource("check", { source: { ...source, verbose: true } });
    assert.equal(r.code, 0, r.stderr);
    const versions = output<Version[]>(r);
    assert.equal(versions.length, 1);
    first = versions[0]!;
    assert.equal(first.releasable, "3");
    assert.match(first.set, /^[0-9a-f]{16}$/);
    assert.match(r.stderr, /(fetching|borrowing the objects of) .* into the cache /);
    const caches = await readdir(join(tmp, "pool-boy-resource"));
    assert.equal(caches.filter((c) => !c.endsWith(".lock")).length, 1);
  });

  test("unchanged check: the same version, from the cache", async () => {
    const headBefore = await s.repo.head();
    const r = await resource("check", { source, version: first });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(output(r), [first]);
    assert.equal(await s.repo.head(), headBefore, "check changes nothing");
    // Commits that do not change the set (a lock claimed by a running build) make no new version.
    const c = await s.repo.claimer();
    await c.claim("aws", "env-7", "main/app/deploy build 1 claiming: env-7");
    const again = await resource("check", { source, version: first });
    assert.deepEqual(output(again), [first]);
    await c.release("aws", "env-7");
  });

  test("changed check: a lock left by hand for 5 hours is a new version", async () => {
    const c = await s.repo.claimer();
    await c.claim("aws", "env-7", "claimed by hand", new Date(Date.now() - 5 * 3600_000));
    const r = await resource("check", { source, version: first });
    assert.equal(r.code, 0, r.stderr);
    const versions = output<Version[]>(r);
    assert.equal(versions.length, 1);
    changed = versions[0]!;
    assert.equal(changed.releasable, "4");
    assert.notEqual(changed.set, first.set);
  });

  test("get: the status report, a summary and the version, in its directory", async () => {
    const dir = join(tmp, "get");
    const r = await resource("in", { source, version: changed, params: {} }, dir);
    assert.equal(r.code, 0, r.stderr);
    const out = output<InOut>(r);
    assert.deepEqual(out.version, changed);
    assert.equal(meta(out.metadata, "releasable"), "4");
    assert.match(meta(out.metadata, "aws/env-2") ?? "", /^finished: /);
    assert.match(meta(out.metadata, "aws/env-7") ?? "", /^stale: /);
    const status = JSON.parse(await readFile(join(dir, "status.json"), "utf8")) as { command: string; locks: Array<{ name: string; verdict: string }> };
    assert.equal(status.command, "status");
    assert.equal(status.locks.filter((l) => l.verdict === "release").length, 4);
    const summary = await readFile(join(dir, "summary.txt"), "utf8");
    for (const lock of ["aws/env-2", "aws/env-5", "aws/env-7", "gcp/vm-3"]) assert.match(summary, new RegExp(`^would release ${lock} `, "m"));
    assert.deepEqual(JSON.parse(await readFile(join(dir, "version.json"), "utf8")), changed);
  });

  test("put with dry_run: says what it would release, changes nothing", async () => {
    const headBefore = await s.repo.head();
    const r = await resource("out", { source, params: { dry_run: true } }, join(tmp, "build"));
    assert.equal(r.code, 0, r.stderr);
    const out = output<InOut>(r);
    assert.equal(meta(out.metadata, "would release"), "4");
    assert.equal(meta(out.metadata, "dry_run"), "true: nothing was changed");
    assert.deepEqual(out.version, changed, "the same version check gives: no new version, no loop");
    assert.equal(await s.repo.head(), headBefore);
  });

  test("put narrowed by params.pools: only those pools", async () => {
    const r = await resource("out", { source, params: { pools: ["gcp"] } }, join(tmp, "build"));
    assert.equal(r.code, 0, r.stderr);
    const out = output<InOut>(r);
    assert.equal(meta(out.metadata, "released"), "1");
    assert.match(meta(out.metadata, "gcp/vm-3") ?? "", /^finished: /);
    assert.equal(meta(out.metadata, "aws/env-2"), undefined);
    const files = await filesAt(s.repo.path, "HEAD");
    assert.ok(files.includes("gcp/unclaimed/vm-3"));
    assert.ok(files.includes("aws/claimed/env-2"));
  });

  test("put: releases the locks, metadata says how many, which, why and the commit", async () => {
    const r = await resource("out", { source, params: {} }, join(tmp, "build"));
    assert.equal(r.code, 0, r.stderr);
    const out = output<InOut>(r);
    assert.equal(meta(out.metadata, "released"), "3");
    assert.match(meta(out.metadata, "aws/env-5") ?? "", /^stale: /);
    const head = await s.repo.head();
    assert.equal(meta(out.metadata, "commit"), head);
    assert.equal(meta(out.metadata, "head"), head);
    assert.match(r.stderr, /^released aws\/env-2 /m, "the build log shows the summary");
    const files = await filesAt(s.repo.path, "HEAD");
    for (const lock of ["aws/unclaimed/env-2", "aws/unclaimed/env-5", "aws/unclaimed/env-7", "aws/claimed/env-1"]) assert.ok(files.includes(lock), lock);

    // Nothing left to release: check makes no new version, so no build runs for nothing.
    const check = await resource("check", { source, version: changed });
    assert.equal(check.code, 0, check.stderr);
    assert.deepEqual(output(check), [changed]);
    const fresh = await resource("check", { source });
    assert.deepEqual(output(fresh), []);
  });

  test("bad source: every problem named by its key, exit 2, nothing on stdout, nothing changed", async () => {
    const headBefore = await s.repo.head();
    const bad = {
      pools: { aws: "soon", gcp: { timeout: "1h", "release-to": "gcp-dirty" } },
      private_key: PRIVATE_KEY,
      concourse_username: "bot",
      concourse_token: "tok-abcdef-123456",
      pool: "aws",
      config: "pools: {}",
    };
    for (const op of ["check", "in", "out"] as const) {
      const r = await resource(op, { source: bad, version: changed, params: { dry_run: "yes" } }, op === "check" ? undefined : join(tmp, "bad"));
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "");
      for (const problem of [
        /source\.uri is required/,
        ...(CONFIG_FILE_SUPPORTED ? [] : [/source\.pools: "aws:soon": "soon" is not a duration/]),
        // richer pool settings and source.config: refused until pool-boy reads a config file,
        // then passed on to it (and two places for per-pool settings are refused)
        CONFIG_FILE_SUPPORTED ? /give the per-pool settings in one of them/ : /source\.pools\.gcp: "release-to" needs the config file/,
        /source\.pool is not a pool-boy setting: pool-boy takes "pools"/,
        ...(CONFIG_FILE_SUPPORTED ? [] : [/source\.config needs the config file/]),
        /source\.concourse_username is set but no source\.concourse_password/,
        /no source\.concourse_url/,
      ]) {
        assert.match(r.stderr, problem, `${op}: ${problem}`);
      }
      if (op === "out") assert.match(r.stderr, /params\.dry_run must be true or false/);
    }
    // A source whose only problem is a timeout: named as source.pools.
    const r = await resource("check", { source: { ...source, pools: "aws:soon,gcp" } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /source\.pools: "aws:soon": "soon" is not a duration/);
    assert.match(r.stderr, /source\.pools: "gcp" has no timeout/);
    const narrow = await resource("out", { source, params: { pools: ["azure"] } }, join(tmp, "build"));
    assert.equal(narrow.code, 2);
    assert.match(narrow.stderr, /params\.pools: "azure" is not in source\.pools \(aws, gcp\)/);
    const notJson = await resource("check", null, undefined, "{not json");
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /not JSON/);
    assert.equal(await s.repo.head(), headBefore);
  });

  test("a wrong Concourse password fails the step (exit 3) and is never shown", async () => {
    const r = await resource("check", { source: { ...source, concourse_password: "wrong-password-987" } });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "");
    assert.doesNotMatch(r.stderr, /wrong-password-987/);
  });

  test("a push the server refuses fails the put, with nothing on stdout", async () => {
    const c = await s.repo.claimer();
    await c.claim("aws", "env-5", "claimed by hand again", new Date(Date.now() - 5 * 3600_000));
    const hook = join(s.repo.path, "hooks", "pre-receive");
    await writeFile(hook, "#!/bin/sh\necho 'refused by policy' >&2\nexit 1\n");
    await chmod(hook, 0o755);
    try {
      const r = await resource("out", { source: { ...source, private_key: undefined }, params: {} }, join(tmp, "build"));
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /refused|rejected/);
    } finally {
      await rm(hook, { force: true });
    }
  });

  test("no secret in any stdout or stderr", () => {
    assert.ok(seen.length >= 10);
    for (const r of seen) {
      for (const secret of [DEMO_USER.password, "tok-abcdef-123456", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"]) {
        assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `a secret leaked:\n${r.stdout}\n${r.stderr}`);
      }
    }
  });
});

describe("the resource and repository text", () => {
  let repo: PoolRepo | undefined;
  let tmp: string | undefined;
  before(async () => {
    // a lock whose file name carries a terminal escape (clear the screen), claimed by hand long ago
    repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1", "env\x1b[2J"] } }, date: new Date(Date.now() - 48 * 3_600_000) });
    await (await repo.claimer()).claim("aws", "env\x1b[2J", "by hand \x1b]0;title\x07", new Date(Date.now() - 5 * 3_600_000));
    tmp = await mkdtemp(join(tmpdir(), "pool-boy-resource-escape-"));
  });
  after(async () => {
    await closeAll(
      () => repo?.cleanup(),
      () => tmp && rm(tmp, { recursive: true, force: true }),
    );
  });

  test("check and get show lock names escaped on stderr (the build log renders escapes); stdout is one JSON document", async () => {
    const env = { HOME: join(tmp!, "home"), TMPDIR: tmp!, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: join(tmp!, "nogitconfig") };
    const source = { uri: repo!.path, pools: "aws:1h" };
    const check = await runResource("check", { source }, env);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /env\\x1b\[2J/);
    assert.doesNotMatch(check.stderr, /\x1b/);
    const version = output<Version[]>(check)[0];
    const dir = join(tmp!, "get");
    const got = await runResource("in", { source, version }, env, { dir });
    assert.equal(got.code, 0, got.stderr);
    output<InOut>(got);
    assert.match(got.stderr, /would release aws\/env\\x1b\[2J/);
    assert.doesNotMatch(got.stderr, /[\x1b\x07]/);
    assert.doesNotMatch(await readFile(join(dir, "summary.txt"), "utf8"), /[\x1b\x07]/);
  });
});
