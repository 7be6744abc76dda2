// The fake ATC itself: that it answers as the reference says each version line does, since every
// other test, the demo and the benchmark believe it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { startFakeAtc, type FakeAtc, type FakeAtcOptions } from "../support/atc-server.js";
import { opaqueTokenExpiry, tokenExpiry } from "../../src/io/atc/token.js";

const USERS = [
  { username: "ci", password: "server-test-pw", teams: ["main"] },
  { username: "other", password: "server-test-pw", teams: ["other"] },
];
const FLY = "Basic Zmx5OlpteDU=";
const GRANT = "grant_type=password&password=server-test-pw&scope=openid+profile+email+federated%3Aid+groups&username=ci";

interface Reply {
  status: number;
  type: string;
  text: string;
  json: () => unknown;
}

async function call(fake: FakeAtc, path: string, init: { method?: "GET" | "POST"; token?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers["authorization"] = `Bearer ${init.token}`;
  const res = await request(fake.url + path, { method: init.method ?? "GET", headers, body: init.body ?? null });
  const text = await res.body.text();
  return { status: res.statusCode, type: String(res.headers["content-type"] ?? ""), text, json: () => JSON.parse(text) };
}

async function withFake(options: FakeAtcOptions, body: (fake: FakeAtc) => Promise<void>): Promise<void> {
  const fake = await startFakeAtc({ users: USERS, ...options });
  try {
    await body(fake);
  } finally {
    await fake.close();
  }
}

const login = (fake: FakeAtc, path: string, body = GRANT, authorization = FLY) =>
  call(fake, path, { method: "POST", headers: { authorization, "content-type": "application/x-www-form-urlencoded" }, body });

test("5.x login: /sky/token, Basic only, Dex errors relayed as text with a newline, JWT with exp", () =>
  withFake({ version: "5.8.0", tokenLifetimeSeconds: 3600 }, async (fake) => {
    const ok = await login(fake, "/sky/token");
    assert.equal(ok.status, 200);
    const body = ok.json() as { access_token: string; token_type: string; expiry: string };
    assert.equal(body.token_type, "Bearer");
    const exp = tokenExpiry(body.access_token) ?? 0;
    assert.ok(Math.abs(exp - (Date.now() / 1000 + 3600)) < 5);
    assert.equal(new Date(body.expiry).getTime() / 1000, exp);
    const wrong = await login(fake, "/sky/token", GRANT.replace("server-test-pw", "nope"));
    assert.deepEqual([wrong.status, wrong.type, wrong.text], [401, "text/plain; charset=utf-8", '{"error":"access_denied","error_description":"Invalid username or password"}\n']);
    const badClient = await login(fake, "/sky/token", GRANT, "Basic bm9wZTpub3Bl");
    assert.deepEqual([badClient.status, badClient.text], [401, ""]);
    assert.equal((await login(fake, "/sky/token", GRANT.replace("grant_type=password", "grant_type=client_credentials"))).status, 400);
    const issuer = await login(fake, "/sky/issuer/token");
    assert.deepEqual([issuer.status, (issuer.json() as { error: string }).error], [401, "invalid_client"]);
    assert.equal((await call(fake, "/api/v1/user", { token: body.access_token })).status, 404);
    assert.equal((await call(fake, "/sky/userinfo", { token: body.access_token })).status, 200);
  }));

test("6.1–6.4 login: the Dex body, and only the id_token opens the API", () =>
  withFake({ version: "6.3.0" }, async (fake) => {
    const ok = await login(fake, "/sky/issuer/token");
    const body = ok.json() as { access_token: string; id_token: string; token_type: string; expires_in: number };
    assert.equal(body.token_type, "bearer");
    assert.ok(body.expires_in > 0);
    assert.equal((await call(fake, "/api/v1/user", { token: body.id_token })).status, 200);
    assert.equal((await call(fake, "/api/v1/user", { token: body.access_token })).status, 401);
    const gone = await login(fake, "/sky/token");
    assert.deepEqual([gone.status, gone.text], [404, "404 page not found\n"]);
    const wrong = await login(fake, "/sky/issuer/token", GRANT.replace("server-test-pw", "nope"));
    assert.deepEqual([wrong.status, wrong.type, wrong.json()], [401, "application/json", { error: "access_denied", error_description: "Invalid username or password" }]);
    const noOpenid = await login(fake, "/sky/issuer/token", GRANT.replace("openid+", ""));
    assert.equal(noOpenid.status, 400);
    // the client may also authenticate in the form
    const inForm = await login(fake, "/sky/issuer/token", `${GRANT}&client_id=fly&client_secret=Zmx5`, "");
    assert.equal(inForm.status, 200);
  }));

test("6.5+ login: a 38-character opaque access_token with its expiry inside", () =>
  withFake({ version: "7.11.2", tokenLifetimeSeconds: 600 }, async (fake) => {
    const body = (await login(fake, "/sky/issuer/token")).json() as { access_token: string; id_token: string };
    assert.equal(body.access_token.length, 38);
    const exp = opaqueTokenExpiry(body.access_token) ?? 0;
    assert.ok(Math.abs(exp - (Date.now() / 1000 + 600)) < 5);
    assert.equal((await call(fake, "/api/v1/user", { token: body.access_token })).status, 200);
    assert.equal((await call(fake, "/api/v1/user", { token: body.id_token })).status, 401);
    const user = (await call(fake, "/api/v1/user", { token: body.access_token })).json() as Record<string, unknown>;
    assert.deepEqual(user["teams"], { main: ["owner"] });
    assert.equal(user["connector"], "local");
  }));

test("/api/v1/info per version; a bad token gets 401 from 5.2", async () => {
  await withFake({ version: "5.0.0" }, async (fake) => {
    assert.deepEqual((await call(fake, "/api/v1/info")).json(), { version: "5.0.0", worker_version: "2.5" });
    assert.equal((await call(fake, "/api/v1/info", { token: "junk" })).status, 200);
  });
  await withFake({ version: "7.11.2" }, async (fake) => {
    const info = (await call(fake, "/api/v1/info")).json() as Record<string, unknown>;
    assert.equal(info["external_url"], fake.url);
    assert.ok(info["feature_flags"]);
    assert.equal((await call(fake, "/api/v1/info", { token: "junk" })).status, 401);
  });
});

test("order of checks: 400 bad vars, 404 team, 404 pipeline, 401/403, then 404 job and build", () =>
  withFake({ version: "8.2.5" }, async (fake) => {
    fake.addPipeline({ team: "main", name: "app", instanceVars: { num: 9000 }, jobs: [{ name: "deploy" }] });
    fake.addBuild({ team: "main", pipeline: "app", instanceVars: { num: 9000 }, job: "deploy" });
    const ci = fake.issueToken("ci");
    const other = fake.issueToken("other");
    const build = (team: string, job: string, name: string, query: string) => `/api/v1/teams/${team}/pipelines/app/jobs/${job}/builds/${name}${query}`;
    assert.equal((await call(fake, build("nope", "deploy", "1", "?vars.num=nine"))).status, 400);
    assert.deepEqual([(await call(fake, build("nope", "deploy", "1", "?vars.num=9000"))).status, (await call(fake, build("nope", "deploy", "1", "?vars.num=9000"))).text], [404, ""]);
    assert.equal((await call(fake, build("main", "deploy", "1", "?vars.num=%229000%22"))).status, 404);
    assert.equal((await call(fake, build("main", "deploy", "1", ""))).status, 404);
    const anonymous = await call(fake, build("main", "nope", "1", "?vars.num=9000"));
    assert.deepEqual([anonymous.status, anonymous.text], [401, "not authorized"]);
    const foreign = await call(fake, build("main", "nope", "1", "?vars.num=9000"), { token: other });
    assert.deepEqual([foreign.status, foreign.text], [403, "forbidden"]);
    assert.equal((await call(fake, build("main", "nope", "1", "?vars.num=9000"), { token: ci })).status, 404);
    assert.equal((await call(fake, build("main", "deploy", "2", "?vars.num=9000"), { token: ci })).status, 404);
    assert.equal((await call(fake, build("main", "deploy", "1", "?vars.num=9000"), { token: ci })).status, 200);
    assert.equal((await call(fake, build("main", "deploy", "1", `?vars=${encodeURIComponent('{"num":9000}')}`), { token: ci })).status, 200);
  }));

test("an expired token counts as none: public pipelines still answer, private ones 401", () =>
  withFake({ version: "7.11.2" }, async (fake) => {
    fake.addPipeline({ team: "main", name: "oss", public: true, jobs: [{ name: "build" }] });
    fake.addBuild({ team: "main", pipeline: "oss", job: "build" });
    fake.addBuild({ team: "main", pipeline: "private", job: "build" });
    const expired = fake.issueToken("ci", { lifetimeSeconds: -1 });
    assert.equal((await call(fake, "/api/v1/teams/main/pipelines/oss/jobs/build/builds/1", { token: expired })).status, 200);
    assert.equal((await call(fake, "/api/v1/builds/1", { token: expired })).status, 200);
    assert.equal((await call(fake, "/api/v1/builds/2", { token: expired })).status, 401);
    assert.equal((await call(fake, "/api/v1/builds/x")).status, 400);
  }));

test("build JSON by version: rerun fields from 6.0, pipeline_id and instance vars from 7.0, no start_time while pending", async () => {
  for (const version of ["5.8.0", "6.7.9", "7.11.2"]) {
    await withFake({ version }, async (fake) => {
      fake.addBuild({ team: "main", pipeline: "oss", job: "build", name: "42", status: "failed" });
      fake.addBuild({ team: "main", pipeline: "oss", job: "build", name: "42.1", status: "pending" });
      const token = fake.issueToken("ci");
      const rerun = (await call(fake, "/api/v1/teams/main/pipelines/oss/jobs/build/builds/42.1", { token })).json() as Record<string, unknown>;
      assert.equal(rerun["status"], "pending");
      assert.equal(rerun["api_url"], "/api/v1/builds/2");
      assert.ok(!("start_time" in rerun));
      assert.equal("rerun_of" in rerun, version !== "5.8.0");
      if (version !== "5.8.0") assert.deepEqual([rerun["rerun_number"], rerun["rerun_of"]], [1, { id: 1, name: "42" }]);
      assert.equal("pipeline_id" in rerun, version === "7.11.2");
    });
  }
});

test("jobs list: 5.x Job with empty lists, 6.x omits them, 7.0+ JobSummary", async () => {
  const shapes: Record<string, (job: Record<string, unknown>) => void> = {
    "5.8.0": (job) => {
      assert.deepEqual([job["inputs"], job["outputs"], job["next_build"]], [[], [], null]);
      assert.ok(isRecord(job["finished_build"]) && "api_url" in job["finished_build"]);
    },
    "6.7.9": (job) => {
      assert.ok(!("inputs" in job) && !("outputs" in job));
      assert.equal(job["next_build"], null);
    },
    "7.11.2": (job) => {
      assert.ok(!("inputs" in job) && !("next_build" in job) && "pipeline_id" in job);
      assert.ok(isRecord(job["finished_build"]) && !("api_url" in job["finished_build"]));
    },
  };
  for (const [version, check] of Object.entries(shapes)) {
    await withFake({ version }, async (fake) => {
      fake.addPipeline({ team: "main", name: "p", public: true, jobs: [{ name: "lonely" }, { name: "t", inputs: [{ name: "e", resource: "pool", passed: ["lonely"] }] }] });
      fake.addBuild({ team: "main", pipeline: "p", job: "lonely", status: "succeeded" });
      const jobs = (await call(fake, "/api/v1/teams/main/pipelines/p/jobs")).json() as Array<Record<string, unknown>>;
      check(jobs[0] ?? {});
      const input = (jobs[1]?.["inputs"] as Array<Record<string, unknown>>)[0] ?? {};
      assert.deepEqual(input["passed"], ["lonely"]);
      assert.equal("trigger" in input, version !== "7.11.2");
    });
  }
});

test("versions: filter honoured from 5.5, ignored before; pages link to older versions", async () => {
  for (const [version, filtered] of [["5.4.0", false], ["5.5.0", true], ["8.2.5", true]] as const) {
    await withFake({ version }, async (fake) => {
      fake.addPipeline({ team: "main", name: "p", public: true, resources: ["pool"] });
      for (const ref of ["r1", "r2", "r3"]) fake.addVersion({ team: "main", pipeline: "p" }, "pool", ref);
      const list = (await call(fake, "/api/v1/teams/main/pipelines/p/resources/pool/versions?filter=ref:r1")).json() as Array<{ version: { ref: string } }>;
      assert.deepEqual(list.map((v) => v.version.ref), filtered ? ["r1"] : ["r3", "r2", "r1"]);
      const page = await request(`${fake.url}/api/v1/teams/main/pipelines/p/resources/pool/versions?limit=2`);
      await page.body.text();
      assert.match(String(page.headers["link"]), version.startsWith("5.") ? /versions\?since=2&limit=2>; rel="next"/ : /versions\?to=1&limit=2>; rel="next"/);
      assert.equal((await call(fake, "/api/v1/teams/main/pipelines/p/resources/nope/versions")).status, 404);
    });
  }
});

test("faults: status, reset and hang hit only the matching requests, as many times as asked", () =>
  withFake({ version: "8.2.5" }, async (fake) => {
    fake.inject({ kind: "status", status: 503, body: "later" }, { times: 2, path: "/info" });
    assert.equal((await call(fake, "/api/v1/user")).status, 401);
    assert.equal((await call(fake, "/api/v1/info")).status, 503);
    assert.equal((await call(fake, "/api/v1/info")).status, 503);
    assert.equal((await call(fake, "/api/v1/info")).status, 200);
    fake.inject({ kind: "reset" });
    await assert.rejects(call(fake, "/api/v1/info"));
    fake.inject({ kind: "hang" }, { path: /^\/api\/v1\/info$/ });
    await assert.rejects(request(`${fake.url}/api/v1/info`, { headersTimeout: 100 }));
    assert.deepEqual(fake.requests.map((r) => r.status), [401, 503, 503, 200, 0, 0]);
  }));

test("records: method, path, whether a token came, never the token; the most in flight", () =>
  withFake({ version: "8.2.5", latencyMs: 30 }, async (fake) => {
    const token = fake.issueToken("ci");
    await Promise.all([1, 2, 3, 4, 5].map(() => call(fake, "/api/v1/user", { token })));
    assert.equal(fake.maxInFlight, 5);
    assert.deepEqual(fake.requests[0], { method: "GET", path: "/api/v1/user", authorized: true, status: 200 });
    assert.ok(!JSON.stringify(fake.requests).includes(token));
    assert.ok(fake.connections >= 1);
    fake.clearRecords();
    assert.deepEqual([fake.requests.length, fake.maxInFlight, fake.connections], [0, 0, 0]);
  }));

test("expireAllTokens stops every token issued so far; later logins work", () =>
  withFake({ version: "8.2.5" }, async (fake) => {
    const before = fake.issueToken("ci");
    fake.expireAllTokens();
    assert.equal((await call(fake, "/api/v1/user", { token: before })).status, 401);
    assert.equal((await call(fake, "/api/v1/user", { token: fake.issueToken("ci") })).status, 200);
  }));

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
