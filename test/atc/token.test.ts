import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startFakeAtc } from "../support/atc-server.js";
import { connectAtc, type AtcOptions } from "../../src/io/atc/client.js";
import { isOpaqueAccessToken, opaqueTokenExpiry, tokenExpiry, unusableToken } from "../../src/io/atc/token.js";
import { parseFlyrc } from "../../src/io/atc/flyrc.js";
import { PoolBoyError } from "../../src/core/errors.js";

const NOW = 1_800_000_000;
const USERS = [{ username: "ci", password: "token-test-password", teams: ["main"] }];

function jwt(claims: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

function opaque(exp: number): string {
  const raw = Buffer.alloc(28);
  randomBytes(20).copy(raw);
  raw.writeBigUInt64LE(BigInt(exp), 20);
  return raw.toString("base64").replace(/=+$/, "");
}

function options(url: string, auth: AtcOptions["auth"]): AtcOptions {
  return { url, auth, insecure: false, caCert: null, concurrency: 4, timeoutMs: 5000, retries: 1, retryDelayMs: 5 };
}

test("tokenExpiry reads a JWT's exp and the 6.5+ opaque token's little-endian expiry", () => {
  assert.equal(tokenExpiry(jwt({ sub: "x", exp: NOW })), NOW);
  const token = opaque(NOW);
  assert.equal(token.length, 38);
  assert.ok(isOpaqueAccessToken(token));
  assert.equal(opaqueTokenExpiry(token), NOW);
  assert.equal(tokenExpiry(token), NOW);
});

test("tokenExpiry: tokens whose format says nothing give null", () => {
  assert.equal(tokenExpiry(jwt({ sub: "x" })), null);
  assert.equal(tokenExpiry("not-a-token"), null);
  assert.equal(tokenExpiry("a.b.c"), null);
  // 38 characters of the right alphabet whose "expiry" is before any Concourse existed
  assert.equal(tokenExpiry(Buffer.alloc(28).toString("base64").replace(/=+$/, "")), null);
});

test("unusableToken: expired and empty tokens, with the fly target's login command", () => {
  const expired = unusableToken(jwt({ exp: NOW - 1 }), { source: "flyrc target ci", flyTarget: "ci" }, NOW, "https://ci");
  assert.ok(expired instanceof PoolBoyError);
  assert.match(expired.message, /expired at 2027-01-15T07:59:59.000Z/);
  assert.equal(expired.hint, "log in again: fly -t ci login");
  const loggedOut = unusableToken("", { source: "flyrc target prod-eu", flyTarget: "prod-eu" }, NOW, "https://ci");
  assert.ok(loggedOut instanceof PoolBoyError);
  assert.match(loggedOut.message, /fly target "prod-eu" is logged out/);
  assert.equal(loggedOut.hint, "log in again: fly -t prod-eu login");
  assert.equal(unusableToken(opaque(NOW + 60), { source: "CONCOURSE_TOKEN" }, NOW, "https://ci"), null);
  assert.equal(unusableToken("opaque-but-unreadable", { source: "CONCOURSE_TOKEN" }, NOW, "https://ci"), null);
});

for (const version of ["5.8.0", "6.3.0", "8.2.5"]) {
  test(`an expired ${version} flyrc token is refused before anything is sent`, async () => {
    const fake = await startFakeAtc({ version, users: USERS });
    try {
      const token = fake.issueToken("ci", { lifetimeSeconds: -60 });
      assert.equal(version === "8.2.5", isOpaqueAccessToken(token));
      const read = parseFlyrc(`targets:\n  ci-${version}:\n    api: ${fake.url}\n    team: main\n    token: {type: bearer, value: "${token}"}\n`, `ci-${version}`);
      assert.ok(read.ok);
      const flyrc = read.value;
      await assert.rejects(
        connectAtc(options(flyrc.api, { kind: "token", token: flyrc.token ?? "", source: `flyrc target ${flyrc.name}`, flyTarget: flyrc.name })),
        (error: unknown) => {
          assert.ok(error instanceof PoolBoyError);
          assert.equal(error.kind, "atc");
          assert.match(error.message, /expired at/);
          assert.ok(!error.message.includes(token));
          assert.equal(error.hint, `log in again: fly -t ci-${version} login`);
          return true;
        },
      );
      assert.equal(fake.requests.length, 0);
    } finally {
      await fake.close();
    }
  });
}

test("a logged-out flyrc target is refused before anything is sent", async () => {
  const fake = await startFakeAtc({ version: "7.11.2", users: USERS });
  try {
    const read = parseFlyrc(`targets:\n  ci:\n    api: ${fake.url}\n    token: {type: "", value: ""}\n`, "ci");
    assert.ok(read.ok);
    const flyrc = read.value;
    await assert.rejects(connectAtc(options(flyrc.api, { kind: "token", token: flyrc.token ?? "", source: "flyrc target ci", flyTarget: "ci" })), /logged out/);
    assert.equal(fake.requests.length, 0);
  } finally {
    await fake.close();
  }
});

for (const version of ["5.8.0", "6.3.0", "7.11.2"]) {
  test(`a valid ${version} flyrc token is checked once and then used`, async () => {
    const fake = await startFakeAtc({ version, users: USERS });
    try {
      fake.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
      const token = fake.issueToken("ci");
      const client = await connectAtc(options(fake.url, { kind: "token", token, source: "flyrc target ci", flyTarget: "ci" }));
      try {
        const found = await client.jobBuild({ kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "1" });
        assert.equal(found.kind, "found");
        const check = version === "5.8.0" ? "/sky/userinfo" : "/api/v1/user";
        assert.deepEqual(
          fake.requests.map((r) => `${r.path} ${r.authorized}`),
          ["/api/v1/info false", `${check} true`, "/api/v1/teams/main/pipelines/app/jobs/deploy/builds/1 true"],
        );
        assert.ok(!JSON.stringify(fake.requests).includes(token));
      } finally {
        await client.close();
      }
    } finally {
      await fake.close();
    }
  });
}

test("a token the server does not know is refused at connect with the fly target's login command", async () => {
  const fake = await startFakeAtc({ version: "8.2.5", users: USERS });
  try {
    const token = opaque(Math.floor(Date.now() / 1000) + 3600);
    await assert.rejects(connectAtc(options(fake.url, { kind: "token", token, source: "flyrc target ci", flyTarget: "ci" })), (error: unknown) => {
      assert.ok(error instanceof PoolBoyError);
      assert.match(error.message, /refused the token from flyrc target ci \(HTTP 401\)/);
      assert.ok(error.message.includes(fake.url));
      assert.ok(!error.message.includes(token));
      assert.equal(error.hint, "log in again: fly -t ci login");
      return true;
    });
  } finally {
    await fake.close();
  }
});

test("a token from CONCOURSE_TOKEN that expired points at getting a fresh one", async () => {
  const token = jwt({ exp: Math.floor(Date.now() / 1000) - 10 });
  await assert.rejects(connectAtc(options("https://ci.example.com", { kind: "token", token, source: "CONCOURSE_TOKEN" })), (error: unknown) => {
    assert.ok(error instanceof PoolBoyError);
    assert.match(error.message, /the token from CONCOURSE_TOKEN expired at .*: not sending it to https:\/\/ci\.example\.com/);
    assert.match(error.hint ?? "", /fly -t TARGET login -c https:\/\/ci\.example\.com/);
    return true;
  });
});
