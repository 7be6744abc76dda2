import { test } from "node:test";
import assert from "node:assert/strict";
import { startFakeAtc, type FakeAtc, type FakeAtcOptions } from "../support/atc-server.js";
import { connectAtc, type AtcClient, type AtcOptions } from "../../src/io/atc/client.js";
import type { OwnerApi } from "../../src/io/atc/ask.js";
import type { BuildRef, InstanceVars, Lookup } from "../../src/core/model.js";

// The ask stage takes the client as it is: this line stops compiling if the two drift apart.
export const asOwnerApi = (client: AtcClient): OwnerApi => client;

const PASSWORD = "client-test-Pa55word";
const USERS = [
  { username: "ci", password: PASSWORD, teams: ["main"] },
  { username: "other", password: PASSWORD, teams: ["other"] },
];
const logs: string[] = [];

type Auth = "ci" | "other" | "none" | { token: string };

async function setup(fakeOptions: FakeAtcOptions, auth: Auth, extra: Partial<AtcOptions> = {}): Promise<{ fake: FakeAtc; client: AtcClient; done: () => Promise<void> }> {
  const fake = await startFakeAtc({ users: USERS, ...fakeOptions });
  const atcAuth: AtcOptions["auth"] =
    auth === "none" ? { kind: "none" } : typeof auth === "object" ? { kind: "token", token: auth.token, source: "flyrc target ci", flyTarget: "ci" } : { kind: "password", username: auth, password: PASSWORD };
  const client = await connectAtc({ url: fake.url, auth: atcAuth, insecure: false, caCert: null, concurrency: 16, timeoutMs: 4000, retries: 2, retryDelayMs: 5, log: (line) => logs.push(line), ...extra }).catch(
    async (error: unknown) => {
      // a listening API server keeps the test process alive
      await fake.close();
      throw error;
    },
  );
  fake.clearRecords();
  return { fake, client, done: async () => { await client.close(); await fake.close(); } };
}

function job(pipeline: string, jobName: string, name: string, instanceVars: InstanceVars | null = null, team = "main"): Extract<BuildRef, { kind: "job" }> {
  return { kind: "job", team, pipeline, instanceVars, job: jobName, name };
}

function assertKind<T>(lookup: Lookup<T>, kind: Lookup<T>["kind"], detail?: RegExp): void {
  assert.equal(lookup.kind, kind, JSON.stringify(lookup));
  if (detail && lookup.kind !== "found") assert.match(lookup.detail, detail);
  if (lookup.kind !== "found") assert.ok(!lookup.detail.includes(PASSWORD));
}

test("a job build is found with its status, times and team", async () => {
  const { fake, client, done } = await setup({ version: "7.11.2" }, "ci");
  try {
    const b = fake.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
    const found = await client.jobBuild(job("app", "deploy", "1"));
    assert.equal(found.kind, "found");
    if (found.kind !== "found") return;
    assert.deepEqual({ ...found.value, startTime: typeof found.value.startTime }, {
      id: b.id, name: "1", status: "started", team: "main", pipeline: "app", job: "deploy", instanceVars: null, startTime: "number", endTime: null,
    });
  } finally {
    await done();
  }
});

test("404s: unknown build, job, pipeline and team are not-found", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci");
  try {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    assertKind(await client.jobBuild(job("app", "deploy", "7")), "not-found", /build main\/app\/deploy #7: not found \(HTTP 404\)/);
    assertKind(await client.jobBuild(job("app", "nope", "1")), "not-found");
    assertKind(await client.jobBuild(job("gone", "deploy", "1")), "not-found");
    assertKind(await client.jobBuild(job("app", "deploy", "1", null, "ghosts")), "not-found");
    assertKind(await client.build("999"), "not-found");
  } finally {
    await done();
  }
});

test("a private pipeline: 401 without credentials, 403 for another team's user", async () => {
  for (const [auth, status, detail] of [["none", 401, /HTTP 401 not authorized: not public, and no credentials were given/], ["other", 403, /HTTP 403 forbidden: the credentials are not for this team/]] as const) {
    const { fake, client, done } = await setup({ version: "6.7.9" }, auth);
    try {
      const b = fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
      for (const lookup of [await client.jobBuild(job("app", "deploy", "1")), await client.build(String(b.id))]) {
        assertKind(lookup, "no-access", detail);
        assert.equal(lookup.kind === "no-access" && lookup.status, status);
      }
    } finally {
      await done();
    }
  }
});

test("a public pipeline is readable without a token, by name and by id", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "none");
  try {
    fake.addPipeline({ team: "main", name: "oss", public: true, jobs: [{ name: "build" }] });
    const b = fake.addBuild({ team: "main", pipeline: "oss", job: "build", status: "failed" });
    assertKind(await client.jobBuild(job("oss", "build", "1")), "found");
    assertKind(await client.build(String(b.id)), "found");
    assert.ok(fake.requests.every((r) => !r.authorized));
  } finally {
    await done();
  }
});

test("instance vars select the instance by JSON value and type; names like 42.1 and odd characters work", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci");
  try {
    const vars = { branch: "feature/x y", num: 9000, cfg: { region: "eu-1" } };
    fake.addPipeline({ team: "main", name: "my app", instanceVars: vars, jobs: [{ name: "deploy #1" }] });
    fake.addPipeline({ team: "main", name: "my app", instanceVars: { ...vars, num: "9000" }, jobs: [{ name: "deploy #1" }] });
    const b = fake.addBuild({ team: "main", pipeline: "my app", instanceVars: vars, job: "deploy #1", name: "42", status: "succeeded" });
    const rerun = fake.addBuild({ team: "main", pipeline: "my app", instanceVars: vars, job: "deploy #1", name: "42.1", status: "started" });
    const found = await client.jobBuild(job("my app", "deploy #1", "42.1", vars));
    assert.ok(found.kind === "found" && found.value.id === rerun.id && found.value.status === "started");
    assert.deepEqual(found.value.instanceVars, vars);
    assertKind(await client.jobBuild(job("my app", "deploy #1", "42", vars)), "found");
    // the instance whose num is the string "9000" has no build 42
    assertKind(await client.jobBuild(job("my app", "deploy #1", "42", { ...vars, num: "9000" })), "not-found");
    // without vars: the pipeline whose instance vars are NULL, which does not exist
    assertKind(await client.jobBuild(job("my app", "deploy #1", "42")), "not-found");
    assert.ok(b.id < rerun.id);
    const path = fake.requests[0]?.path ?? "";
    assert.match(path, /^\/api\/v1\/teams\/main\/pipelines\/my%20app\/jobs\/deploy%20%231\/builds\/42\.1\?/);
    assert.match(path, /vars\.branch=%22feature%2Fx\+y%22/);
    assert.match(path, /vars\.num=9000/);
    assert.match(path, /vars\.cfg\.region=%22eu-1%22/);
  } finally {
    await done();
  }
});

test("one-off builds: found by id for the team, no-access for others; a non-id is not asked", async () => {
  const { fake, client, done } = await setup({ version: "7.11.2" }, "ci");
  try {
    const mine = fake.addBuild({ team: "main", pipeline: null, status: "started" });
    const theirs = fake.addBuild({ team: "other", pipeline: null, status: "started" });
    const found = await client.build(String(mine.id));
    assert.ok(found.kind === "found" && found.value.pipeline === null && found.value.job === null && found.value.name === String(mine.id));
    assertKind(await client.build(String(theirs.id)), "no-access");
    assertKind(await client.build("12abc"), "not-found", /not a build id/);
    assert.equal(fake.requests.filter((r) => r.path.includes("12abc")).length, 0);
  } finally {
    await done();
  }
});

test("v5 answers 401 to an authenticated user for another team's one-off build: one fresh login, then no-access", async () => {
  const { fake, client, done } = await setup({ version: "5.8.0" }, "ci");
  try {
    const theirs = fake.addBuild({ team: "other", pipeline: null, status: "started" });
    const lookup = await client.build(String(theirs.id));
    assertKind(lookup, "no-access", /HTTP 401 not authorized: refused even after logging in again/);
    assert.deepEqual(fake.requests.map((r) => r.path), [`/api/v1/builds/${theirs.id}`, "/sky/token", "/sky/userinfo", `/api/v1/builds/${theirs.id}`]);
  } finally {
    await done();
  }
});

test("400 (instance vars the ATC cannot read) is not-found with the reason: the API cannot say", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci");
  try {
    fake.inject({ kind: "status", status: 400 }, { path: "/builds/" });
    assertKind(await client.jobBuild(job("app", "deploy", "1", { v: 1 })), "not-found", /HTTP 400: instance vars it cannot read/);
  } finally {
    await done();
  }
});

test("500 twice, then the answer: retried with backoff, counted", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci");
  try {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    fake.inject({ kind: "status", status: 500, body: "boom" }, { times: 2, path: "/builds/" });
    assertKind(await client.jobBuild(job("app", "deploy", "1")), "found");
    assert.deepEqual(fake.requests.map((r) => r.status), [500, 500, 200]);
    const stats = client.stats();
    assert.equal(stats.outcomes["retry"], 2);
    assert.equal(stats.outcomes["ok"], 1);
  } finally {
    await done();
  }
});

test("500 every time: transient after the retries", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci");
  try {
    fake.inject({ kind: "status", status: 500, body: "database is down" }, { times: 100, path: "/builds/" });
    assertKind(await client.jobBuild(job("app", "deploy", "1")), "transient", /answered HTTP 500: database is down \(3 tries\)/);
    assert.equal(fake.requests.length, 3);
    assert.equal(client.stats().outcomes["transient"], 1);
  } finally {
    await done();
  }
});

test("a reset connection and a hung request are retried; a slow server ends transient", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci", { timeoutMs: 150, retries: 1 });
  try {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    fake.inject({ kind: "reset" }, { path: "/builds/1" });
    assertKind(await client.jobBuild(job("app", "deploy", "1")), "found");
    fake.inject({ kind: "hang" }, { path: "/builds/2" });
    assertKind(await client.jobBuild(job("app", "deploy", "2")), "found");
    fake.latencyMs = 400;
    const started = Date.now();
    assertKind(await client.build("1"), "transient", /no answer within 150 ms/);
    assert.ok(Date.now() - started < 1000);
  } finally {
    await done();
  }
});

test("the server going away mid-run: transient after the retries, naming the cause", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci", { retries: 2 });
  try {
    await fake.close();
    const lookup = await client.build("1");
    assertKind(lookup, "transient", /build 1: GET \/api\/v1\/builds\/1: .*ECONNREFUSED/);
    assert.equal(client.stats().outcomes["retry"], 2);
  } finally {
    await done();
  }
});

test("answers the client cannot vouch for are transient, not crashes", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci");
  try {
    const weird = JSON.stringify({ id: 1, name: "1", team_name: "main", status: "exploded", api_url: "/api/v1/builds/1" });
    fake.inject({ kind: "status", status: 200, body: weird }, { path: "/builds/1" });
    assertKind(await client.build("1"), "transient", /status "exploded", not one of pending, started/);
    fake.inject({ kind: "status", status: 200, body: "<html>login</html>" }, { path: "/builds/2" });
    assertKind(await client.build("2"), "transient", /not JSON/);
    fake.inject({ kind: "status", status: 418, body: "teapot" }, { path: "/builds/3" });
    assertKind(await client.build("3"), "transient", /unexpected HTTP 418 teapot/);
  } finally {
    await done();
  }
});

test("tokens expiring mid-run: one fresh login shared by every request that saw the 401", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5" }, "ci");
  try {
    for (let i = 0; i < 6; i++) fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    fake.expireAllTokens();
    const lookups = await Promise.all([1, 2, 3, 4, 5].map((n) => client.jobBuild(job("app", "deploy", String(n)))));
    for (const lookup of lookups) assertKind(lookup, "found");
    assert.equal(fake.requests.filter((r) => r.path === "/sky/issuer/token").length, 1);
    assert.ok(logs.some((line) => line.includes("logging in again as ci")));
    // renewed once per run: a second expiry is no-access
    fake.expireAllTokens();
    assertKind(await client.jobBuild(job("app", "deploy", "6")), "no-access", /HTTP 401/);
    assert.equal(fake.requests.filter((r) => r.path === "/sky/issuer/token").length, 1);
  } finally {
    await done();
  }
});

test("a token expiring mid-run without a password at hand: no-access naming the login command", async () => {
  const live = await startFakeAtc({ version: "7.11.2", users: USERS });
  try {
    const liveToken = live.issueToken("ci");
    live.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    const tokenClient = await connectAtc({ url: live.url, auth: { kind: "token", token: liveToken, source: "flyrc target ci", flyTarget: "ci" }, insecure: false, caCert: null, concurrency: 4, timeoutMs: 4000, retries: 0 });
    live.expireAllTokens();
    const lookup = await tokenClient.jobBuild(job("app", "deploy", "1"));
    assertKind(lookup, "no-access", /the token from flyrc target ci was refused \(log in again: fly -t ci login\)/);
    assert.ok(lookup.kind === "no-access" && !lookup.detail.includes(liveToken));
    await tokenClient.close();
  } finally {
    await live.close();
  }
});

test("concurrency is bounded: 60 lookups, never more than 16 in flight at the server", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5", latencyMs: 25 }, "ci");
  try {
    for (let i = 0; i < 60; i++) fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    const lookups = await Promise.all(Array.from({ length: 60 }, (_, i) => client.jobBuild(job("app", "deploy", String(i + 1)))));
    assert.ok(lookups.every((lookup) => lookup.kind === "found"));
    assert.equal(fake.maxInFlight, 16);
    assert.equal(client.stats().maxInFlight, 16);
    // kept-alive: the connections opened for the burst are reused, not one per request
    assert.ok(fake.connections <= 16, `${fake.connections} connections`);
  } finally {
    await done();
  }
});

test("a smaller bound is kept too", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5", latencyMs: 10 }, "ci", { concurrency: 3 });
  try {
    for (let i = 0; i < 12; i++) fake.addBuild({ team: "main", pipeline: null });
    await Promise.all(Array.from({ length: 12 }, (_, i) => client.build(String(i + 1))));
    assert.equal(fake.maxInFlight, 3);
  } finally {
    await done();
  }
});

test("each distinct URL is asked once per run", async () => {
  const { fake, client, done } = await setup({ version: "8.2.5", latencyMs: 10 }, "ci");
  try {
    fake.addBuild({ team: "main", pipeline: "app", job: "deploy" });
    const ref = job("app", "deploy", "1");
    const many = await Promise.all([client.jobBuild(ref), client.jobBuild({ ...ref }), client.jobBuild(ref), client.build("1"), client.build("1")]);
    assert.ok(many.every((lookup) => lookup.kind === "found"));
    assertKind(await client.jobBuild(ref), "found");
    assertKind(await client.jobBuild(job("app", "deploy", "99")), "not-found");
    assertKind(await client.jobBuild(job("app", "deploy", "99")), "not-found");
    assert.deepEqual(fake.requests.map((r) => r.path), ["/api/v1/teams/main/pipelines/app/jobs/deploy/builds/1", "/api/v1/builds/1", "/api/v1/teams/main/pipelines/app/jobs/deploy/builds/99"]);
    const stats = client.stats();
    assert.equal(stats.outcomes["ok"], 2);
    assert.equal(stats.outcomes["not-found"], 1);
  } finally {
    await done();
  }
});

test("no log line carries the password", () => {
  assert.ok(logs.length > 0);
  for (const line of logs) assert.ok(!line.includes(PASSWORD), line);
});
