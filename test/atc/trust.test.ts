// What the API answers may not be trusted blindly (issue 12): 401/403 are no access, not a build
// that is gone; only Concourse's own empty 404 is "not found"; Build URL names are raw; a claim of
// another Concourse is not asked of this one. All against the real HTTP stand-in.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startFakeAtc, type FakeAtc, type FakeAtcOptions, type FakeUser } from "../support/atc-server.js";
import { connectAtc, type AtcClient, type AtcOptions } from "../../src/io/atc/client.js";
import { askOwner } from "../../src/io/atc/ask.js";
import { parseClaim } from "../../src/decide/parse.js";
import { judge } from "../../src/decide/judge.js";
import type { BuildRef, ClaimedLock, Lookup, OwnerState, ParsedClaim } from "../../src/core/model.js";

const PASSWORD = "trust-test-Pa55word";
const USERS: FakeUser[] = [
  { username: "ci", password: PASSWORD, teams: ["main"] },
  { username: "other", password: PASSWORD, teams: ["other"] },
  { username: "root", password: PASSWORD, teams: ["ops"], admin: true },
];
const SHA = "5".repeat(40);
const HOUR = 3600_000;

type Auth = "ci" | "other" | "root" | "none" | { token: string };

async function withAtc(
  fakeOptions: FakeAtcOptions,
  auth: Auth | ((fake: FakeAtc) => Auth),
  body: (fake: FakeAtc, client: AtcClient) => Promise<void>,
  extra: Partial<AtcOptions> = {},
): Promise<void> {
  const fake = await startFakeAtc({ users: USERS, ...fakeOptions });
  let client: AtcClient | null = null;
  try {
    const chosen = typeof auth === "function" ? auth(fake) : auth;
    const atcAuth: AtcOptions["auth"] =
      chosen === "none"
        ? { kind: "none" }
        : typeof chosen === "object"
          ? { kind: "token", token: chosen.token, source: "CONCOURSE_TOKEN" }
          : { kind: "password", username: chosen, password: PASSWORD };
    client = await connectAtc({ url: fake.url, auth: atcAuth, insecure: false, caCert: null, concurrency: 8, timeoutMs: 4000, retries: 1, retryDelayMs: 5, ...extra });
    fake.clearRecords();
    await body(fake, client);
  } finally {
    await client?.close();
    await fake.close();
  }
}

function job(pipeline: string, jobName: string, name: string, team = "main"): Extract<BuildRef, { kind: "job" }> {
  return { kind: "job", team, pipeline, instanceVars: null, job: jobName, name };
}

function lockAged(hours: number): ClaimedLock {
  return { pool: "p", name: "l", path: "p/claimed/l", claim: { sha: SHA, committedAt: new Date(Date.now() - hours * HOUR), message: "" }, editedAfterClaim: [], problem: null };
}

const POLICY = { pool: "p", timeoutSeconds: 3600 };

function kindOf(lookup: Lookup<unknown>): string {
  return lookup.kind;
}

function causeOf(owner: OwnerState): string {
  return owner.kind === "silent" || owner.kind === "unreachable" ? `${owner.kind}/${owner.cause}` : owner.kind;
}

// ---- Only Concourse's own 404 means gone ----------------------------------------------------------

test("Concourse's empty 404 is not-found; a proxy's HTML 404 or another server's 404 body is transient", () =>
  withAtc({ version: "8.2.5" }, "ci", async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "started" });
    assert.equal(kindOf(await client.jobBuild(job("app", "deploy", "9"))), "not-found", "the ATC's own 404");
    fake.inject({ kind: "proxy" }, { path: "/jobs/deploy/builds/1" });
    const html = await client.jobBuild(job("app", "deploy", "1"));
    assert.equal(html.kind, "transient");
    assert.match(html.kind === "transient" ? html.detail : "", /HTTP 404 with an HTML page, which Concourse never sends: a proxy or another server answered/);
    assert.doesNotMatch(html.kind === "transient" ? html.detail : "", /nginx|<html/, "the page itself is not echoed");
    fake.inject({ kind: "status", status: 404, body: "404 page not found\n", contentType: "text/plain; charset=utf-8" }, { path: "/api/v1/builds/" });
    assert.equal(kindOf(await client.build("1")), "transient", "Go's default 404 text is not what the build route writes");
    fake.inject({ kind: "status", status: 404, body: '{"error":"no such route"}', contentType: "application/json" }, { path: "/api/v1/builds/" });
    assert.equal(kindOf(await client.build("2")), "transient", "another server's JSON 404");
    fake.inject({ kind: "status", status: 404, body: "\n" }, { path: "/api/v1/builds/" });
    assert.equal(kindOf(await client.build("3")), "not-found", "whitespace is no body");
    fake.inject({ kind: "status", status: 400, body: "<html>bad request</html>", contentType: "text/html" }, { path: "/api/v1/builds/" });
    assert.equal(kindOf(await client.build("4")), "transient", "a 400 with a page is not the ATC's either");
  }));

test("an HTML 404 from a proxy keeps every lock, however old, for builds and every hand-off endpoint", () =>
  withAtc(
    {
      version: "8.2.5",
      pipelines: [
        {
          team: "main",
          name: "app",
          jobs: [
            { name: "deploy", outputs: [{ name: "env", resource: "envs" }] },
            { name: "test", inputs: [{ name: "env", resource: "envs", passed: ["deploy"] }] },
          ],
        },
      ],
    },
    "ci",
    async (fake, client) => {
      // the owner build is gone for good (Concourse would say 404) but the proxy answers first
      fake.inject({ kind: "proxy" }, { path: "/jobs/deploy/builds/404" });
      const gone = await askOwner(client, lockAged(48), parseClaim("main/app/deploy build 404 claiming: l", "main"));
      assert.equal(causeOf(gone), "unreachable/api-error");
      assert.deepEqual(judge(lockAged(48), gone, POLICY, new Date()).action, "keep");

      const deploy = fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "succeeded", outputs: [{ name: "env", resource: "envs", ref: SHA }] });
      const claim = parseClaim("main/app/deploy build 1 claiming: l", "main");
      const versionId = fake.versionId({ team: "main", pipeline: "app" }, "envs", SHA);
      const endpoints: Array<[string, string | RegExp]> = [
        ["jobs list", /\/pipelines\/app\/jobs(\?|$)/],
        ["build resources", `/api/v1/builds/${deploy.id}/resources`],
        ["versions", "/resources/envs/versions?"],
        ["input_to", `/versions/${versionId}/input_to`],
      ];
      for (const [name, path] of endpoints) {
        client.forget();
        fake.inject({ kind: "proxy" }, { path });
        const owner = await askOwner(client, lockAged(48), claim);
        assert.equal(causeOf(owner), "unreachable/api-error", name);
        const verdict = judge(lockAged(48), owner, POLICY, new Date());
        assert.deepEqual([verdict.action, verdict.reason], ["keep", "unknown"], name);
        assert.match(verdict.detail, /kept this run/, name);
      }
      // and with Concourse answering, the hand-off is followed: nobody took it yet, 48h old
      client.forget();
      assert.equal((await askOwner(client, lockAged(48), claim)).kind, "waiting");
    },
  ));

// ---- 401 and 403 never lead to a release ------------------------------------------------------------

test("no credentials, a private pipeline: no access (401) to team main, kept however old", () =>
  withAtc({ version: "8.2.5" }, "none", async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "failed" });
    assert.equal(client.user, null);
    const owner = await askOwner(client, lockAged(72), parseClaim("main/app/deploy build 1 claiming: l", "main"));
    assert.equal(causeOf(owner), "unreachable/no-access");
    assert.deepEqual(owner.kind === "unreachable" && owner.access, { team: "main", status: 401 });
    const verdict = judge(lockAged(72), owner, POLICY, new Date());
    assert.deepEqual([verdict.action, verdict.reason], ["keep", "unknown"]);
    assert.match(verdict.detail, /^no access to team main: build main\/app\/deploy #1: HTTP 401 not authorized: not public, and no credentials were given; kept until pool-boy may read the build \(never by age\)$/);
  }));

test("another team's credentials: no access (403) to team main, kept; the user's teams are known at login", () =>
  withAtc({ version: "7.11.2" }, "other", async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "aborted" });
    const oneOff = fake.addBuild({ team: "main", pipeline: null, status: "failed" });
    assert.deepEqual(client.user, { name: "other", teams: ["other"], isAdmin: false });
    const owner = await askOwner(client, lockAged(72), parseClaim("main/app/deploy build 1 claiming: l", "main"));
    assert.deepEqual(owner.kind === "unreachable" && [owner.cause, owner.access], ["no-access", { team: "main", status: 403 }]);
    assert.match(judge(lockAged(72), owner, POLICY, new Date()).detail, /^no access to team main: .*HTTP 403 forbidden/);
    const byId = await askOwner(client, lockAged(72), parseClaim(`one-off build ${oneOff.id} claiming: l`, "main"));
    assert.deepEqual(byId.kind === "unreachable" && [byId.cause, byId.access], ["no-access", { team: null, status: 403 }]);
    assert.equal(judge(lockAged(72), byId, POLICY, new Date()).action, "keep");
  }));

test("a token of another team (flyrc or CONCOURSE_TOKEN): 403, kept; its user and teams are read at the token check", () =>
  withAtc({ version: "8.2.5" }, (fake) => ({ token: fake.issueToken("other") }), async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "failed" });
    assert.deepEqual(client.user, { name: "other", teams: ["other"], isAdmin: false });
    const owner = await askOwner(client, lockAged(72), parseClaim("main/app/deploy build 1 claiming: l", "main"));
    assert.equal(causeOf(owner), "unreachable/no-access");
  }));

test("a public pipeline needs no credentials: its failed build still releases the lock", () =>
  withAtc({ version: "8.2.5" }, "none", async (fake, client) => {
    fake.addPipeline({ team: "main", name: "oss", public: true, jobs: [{ name: "build" }] });
    fake.addBuild({ team: "main", pipeline: "oss", job: "build", name: "3", status: "failed" });
    const owner = await askOwner(client, lockAged(1), parseClaim("main/oss/build build 3 claiming: l", "main"));
    assert.equal(owner.kind, "finished");
    assert.equal(judge(lockAged(1), owner, POLICY, new Date()).action, "release");
    assert.ok(fake.requests.every((r) => !r.authorized));
  }));

test("an admin reads every team; v5 tells the teams through /sky/userinfo", async () => {
  await withAtc({ version: "8.2.5" }, "root", async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "started" });
    assert.deepEqual(client.user, { name: "root", teams: ["ops"], isAdmin: true });
    assert.equal((await askOwner(client, lockAged(72), parseClaim("main/app/deploy build 1 claiming: l", "main"))).kind, "running");
  });
  await withAtc({ version: "5.8.0" }, "ci", async (_fake, client) => {
    assert.deepEqual(client.user, { name: "ci", teams: ["main"], isAdmin: false });
  });
});

// ---- Build URL names are raw --------------------------------------------------------------------------

test("a Build URL naming the pipeline p%41 is looked up as p%41 (sent as p%2541), never as pA", () =>
  withAtc({ version: "8.2.5", externalUrl: "https://ci.example.com" }, "ci", async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "p%41", job: "de%70loy", name: "7", status: "started" });
    fake.addBuild({ team: "main", pipeline: "pA", job: "deploy", name: "7", status: "failed" });
    const claim = parseClaim("claiming: l\nBuild URL: https://ci.example.com/teams/main/pipelines/p%41/jobs/de%70loy/builds/7", "main");
    assert.deepEqual(claim.owner, job("p%41", "de%70loy", "7"));
    const owner = await askOwner(client, lockAged(72), claim);
    assert.equal(owner.kind, "running");
    assert.equal(fake.requests[0]?.path, "/api/v1/teams/main/pipelines/p%2541/jobs/de%2570loy/builds/7");
  }));

// ---- another Concourse's claim is not asked of this one ----------------------------------------------

test("a Build URL of another host is not looked up, although a same-named failed build exists here", () =>
  withAtc({ version: "8.2.5", externalUrl: "https://ci.example.com" }, "ci", async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "42", status: "failed" });
    assert.deepEqual([...client.hosts].sort(), [new URL(fake.url).host, "ci.example.com"].sort());
    const url = "https://ci.other.org/teams/main/pipelines/app/jobs/deploy/builds/42";
    const claim = parseClaim(`claiming: l\nBuild URL: ${url}`, "main");
    for (const [hours, want] of [[0.5, "keep/young"], [3, "release/stale"]] as const) {
      const owner = await askOwner(client, lockAged(hours), claim);
      assert.equal(causeOf(owner), "silent/foreign-concourse");
      const verdict = judge(lockAged(hours), owner, POLICY, new Date());
      assert.equal(`${verdict.action}/${verdict.reason}`, want, "the timeout decides, never 'finished'");
      assert.match(verdict.detail, /the claim came from another Concourse \(ci\.other\.org\)/);
    }
    assert.equal(fake.requests.length, 0, "the other Concourse's build is never asked here");

    // the configured host and the external_url's host are this Concourse
    for (const base of [fake.url, "https://CI.example.com"]) {
      const here = parseClaim(`claiming: l\nBuild URL: ${base}/teams/main/pipelines/app/jobs/deploy/builds/42`, "main");
      assert.equal((await askOwner(client, lockAged(0.5), here)).kind, "finished", base);
    }
  }));

test("before 5.3 there is no external_url: only the configured host is this Concourse", () =>
  withAtc({ version: "5.2.0", externalUrl: "https://ci.example.com" }, "ci", async (fake, client) => {
    assert.equal(client.externalUrl, null);
    assert.deepEqual(client.hosts, [new URL(fake.url).host]);
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "failed" });
    const claim: ParsedClaim = parseClaim("claiming: l\nBuild URL: https://ci.example.com/teams/main/pipelines/app/jobs/deploy/builds/1", "main");
    assert.equal(causeOf(await askOwner(client, lockAged(0.5), claim)), "silent/foreign-concourse");
  }));

test("when /api/v1/info does not answer, a claim of another host is kept this run, neither asked nor aged", async () => {
  const fake = await startFakeAtc({ version: "8.2.5", users: USERS, externalUrl: "https://ci.example.com" });
  fake.inject({ kind: "status", status: 503 }, { path: "/api/v1/info", times: 10 });
  const client = await connectAtc({ url: fake.url, auth: { kind: "password", username: "ci", password: PASSWORD }, insecure: false, caCert: null, concurrency: 8, timeoutMs: 4000, retries: 1, retryDelayMs: 5 });
  try {
    assert.equal(client.externalUrlKnown, false);
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "failed" });
    fake.clearRecords();
    const claim = parseClaim("claiming: l\nBuild URL: https://ci.example.com/teams/main/pipelines/app/jobs/deploy/builds/1", "main");
    const owner = await askOwner(client, lockAged(72), claim);
    assert.equal(causeOf(owner), "unreachable/api-error");
    assert.match(owner.kind === "unreachable" ? owner.why : "", /whether that is .* is not known, because its \/api\/v1\/info .* did not answer/);
    assert.equal(judge(lockAged(72), owner, POLICY, new Date()).action, "keep");
    assert.equal(fake.requests.length, 0);
    // the configured host is this Concourse whatever /api/v1/info says
    const here = parseClaim(`claiming: l\nBuild URL: ${fake.url}/teams/main/pipelines/app/jobs/deploy/builds/1`, "main");
    assert.equal((await askOwner(client, lockAged(72), here)).kind, "finished");
  } finally {
    await client.close();
    await fake.close();
  }
});

test("a proxy's 401 or 403 page is no access too (kept), and its HTML is not echoed", () =>
  withAtc({ version: "8.2.5" }, "ci", async (fake, client) => {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy", name: "1", status: "failed" });
    fake.inject({ kind: "proxy", status: 403 }, { path: "/jobs/deploy/builds/1" });
    const owner = await askOwner(client, lockAged(72), parseClaim("main/app/deploy build 1 claiming: l", "main"));
    assert.equal(causeOf(owner), "unreachable/no-access");
    assert.match(owner.kind === "unreachable" ? owner.why : "", /HTTP 403 forbidden/);
    assert.doesNotMatch(owner.kind === "unreachable" ? owner.why : "", /<|nginx/);
  }));
