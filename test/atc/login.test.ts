import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { needs, programPath, OPENSSL } from "../support/programs.js";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import { connectAtc, type AtcOptions } from "../../src/io/atc/client.js";
import { passwordGrantBody, parseVersion, tokenCandidates } from "../../src/io/atc/login.js";
import { PoolBoyError } from "../../src/core/errors.js";

const PASSWORD = "Correct-Horse-Battery-9";
const USERS = [
  { username: "ci", password: PASSWORD, teams: ["main"] },
  { username: "loner", password: PASSWORD, teams: [] },
];
const logs: string[] = [];

function options(url: string, auth: AtcOptions["auth"], extra: Partial<AtcOptions> = {}): AtcOptions {
  return { url, auth, insecure: false, caCert: null, concurrency: 4, timeoutMs: 5000, retries: 1, retryDelayMs: 5, log: (line) => logs.push(line), ...extra };
}
const password = { kind: "password", username: "ci", password: PASSWORD } as const;

async function withFake(version: string, body: (fake: FakeAtc) => Promise<void>): Promise<void> {
  const fake = await startFakeAtc({ version, users: USERS });
  try {
    fake.addBuild({ team: "main", pipeline: "private", job: "deploy", status: "started" });
    await body(fake);
  } finally {
    await fake.close();
  }
}

/** Asserts an atc error that names the URL and never the password. */
function atcError(pattern: RegExp, url: string) {
  return (error: unknown) => {
    assert.ok(error instanceof PoolBoyError, String(error));
    assert.equal(error.kind, "atc");
    assert.match(error.message, pattern);
    assert.ok(error.message.includes(url), `${error.message} names ${url}`);
    assert.ok(error.hint, "has a hint");
    for (const text of [error.message, error.hint ?? "", ...logs]) assert.ok(!text.includes(PASSWORD), `no password in: ${text}`);
    return true;
  };
}

test("the password grant is the form fly sends", () => {
  assert.equal(passwordGrantBody("ci", "p w&d"), "grant_type=password&password=p+w%26d&scope=openid+profile+email+federated%3Aid+groups&username=ci");
  assert.deepEqual(new URLSearchParams(passwordGrantBody("u", "p")).get("scope"), "openid profile email federated:id groups");
});

test("versions: dev builds and odd answers are unknown", () => {
  assert.deepEqual(parseVersion("7.11.2"), { major: 7, minor: 11, patch: 2 });
  assert.deepEqual(parseVersion("v6.3"), { major: 6, minor: 3, patch: 0 });
  assert.equal(parseVersion("0.0.0-dev"), null);
  assert.equal(parseVersion("latest"), null);
  assert.equal(parseVersion(null), null);
});

test("tokenCandidates: the token each line wants first", () => {
  const body = { access_token: "dex-access", id_token: "id.jwt.x" };
  assert.deepEqual(tokenCandidates("/sky/token", { access_token: "a.b.c" }, parseVersion("5.8.0")), ["a.b.c"]);
  assert.deepEqual(tokenCandidates("/sky/issuer/token", body, parseVersion("6.3.0")), ["id.jwt.x", "dex-access"]);
  assert.deepEqual(tokenCandidates("/sky/issuer/token", body, parseVersion("6.5.0")), ["dex-access", "id.jwt.x"]);
  // unknown version: an opaque 6.5+ token first, otherwise the id_token
  const opaque = Buffer.concat([Buffer.alloc(20, 7), Buffer.from([0, 0, 0, 0x70, 0, 0, 0, 0])]).toString("base64").replace(/=+$/, "");
  assert.deepEqual(tokenCandidates("/sky/issuer/token", { access_token: opaque, id_token: "i.d.t" }, null), [opaque, "i.d.t"]);
  assert.deepEqual(tokenCandidates("/sky/issuer/token", body, null), ["id.jwt.x", "dex-access"]);
});

const LINES: Array<[version: string, endpoint: string, check: string]> = [
  ["5.8.0", "/sky/token", "/sky/userinfo"],
  ["6.0.1", "/sky/token", "/sky/userinfo"],
  ["6.3.0", "/sky/issuer/token", "/api/v1/user"],
  ["6.7.9", "/sky/issuer/token", "/api/v1/user"],
  ["7.11.2", "/sky/issuer/token", "/api/v1/user"],
  ["8.2.5", "/sky/issuer/token", "/api/v1/user"],
];
for (const [version, endpoint, check] of LINES) {
  test(`login on ${version}: POST ${endpoint}, token checked at ${check}, private builds readable`, () =>
    withFake(version, async (fake) => {
      const client = await connectAtc(options(fake.url, password));
      try {
        assert.equal(client.version, version);
        const build = await client.jobBuild({ kind: "job", team: "main", pipeline: "private", instanceVars: null, job: "deploy", name: "1" });
        assert.equal(build.kind, "found");
        assert.deepEqual(
          fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
          ["GET /api/v1/info 200", `POST ${endpoint} 200`, `GET ${check} 200`, "GET /api/v1/teams/main/pipelines/private/jobs/deploy/builds/1 200"],
        );
      } finally {
        await client.close();
      }
    }));
}

test("info unavailable on 6.3: the issuer is tried first and the id_token wins", () =>
  withFake("6.3.0", async (fake) => {
    fake.inject({ kind: "status", status: 503 }, { times: 10, path: "/api/v1/info" });
    const client = await connectAtc(options(fake.url, password));
    try {
      assert.equal(client.version, null);
      const build = await client.jobBuild({ kind: "job", team: "main", pipeline: "private", instanceVars: null, job: "deploy", name: "1" });
      assert.equal(build.kind, "found");
      assert.ok(logs.some((line) => line.includes("going on without the Concourse version")));
    } finally {
      await client.close();
    }
  }));

test("a dev build (0.0.0-dev) of 8.x: the opaque access_token wins", () =>
  withFake("8.2.5", async (fake) => {
    fake.inject({ kind: "status", status: 200, body: '{"version":"0.0.0-dev","worker_version":"2.5"}', contentType: "application/json" }, { path: "/api/v1/info" });
    const client = await connectAtc(options(fake.url, password));
    try {
      assert.equal(client.version, "0.0.0-dev");
      // one token check: the first candidate was the right one
      assert.deepEqual(fake.requests.slice(1).map((r) => `${r.path} ${r.status}`), ["/sky/issuer/token 200", "/api/v1/user 200"]);
    } finally {
      await client.close();
    }
  }));

test("info unavailable on 5.8: the issuer refuses fly, /sky/token works, /sky/userinfo checks", () =>
  withFake("5.8.0", async (fake) => {
    fake.inject({ kind: "status", status: 502 }, { times: 10, path: "/api/v1/info" });
    const client = await connectAtc(options(fake.url, password));
    try {
      assert.deepEqual(
        fake.requests.slice(2).map((r) => `${r.path} ${r.status}`),
        ["/sky/issuer/token 401", "/sky/token 200", "/api/v1/user 404", "/sky/userinfo 200"],
      );
    } finally {
      await client.close();
    }
  }));

for (const version of ["5.8.0", "6.3.0", "8.2.5"]) {
  test(`a wrong password on ${version} is one clear line without the password`, () =>
    withFake(version, async (fake) => {
      await assert.rejects(
        connectAtc(options(fake.url, { kind: "password", username: "ci", password: `${PASSWORD}-wrong` })),
        atcError(/refused the login of "ci": Invalid username or password/, fake.url),
      );
    }));
}

test("a 5.x user in no team: the 400 says so", () =>
  withFake("5.8.0", async (fake) => {
    await assert.rejects(connectAtc(options(fake.url, { kind: "password", username: "loner", password: PASSWORD })), atcError(/HTTP 400\): the user may belong to no team/, fake.url));
  }));

test("a server that is down: cannot reach, URL without credentials, quick", async () => {
  const fake = await startFakeAtc({ version: "8.2.5" });
  await fake.close();
  const url = fake.url.replace("http://", `http://ci:${PASSWORD}@`);
  const started = Date.now();
  await assert.rejects(connectAtc(options(url, password, { retries: 2 })), atcError(/cannot reach Concourse at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/, fake.url));
  assert.ok(Date.now() - started < 2000);
});

test("a server that is not a Concourse", async () => {
  const server = createServer((req, res) => {
    res.writeHead(req.url === "/" ? 200 : 404, { "content-type": "text/html" });
    res.end("<html>hello</html>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await assert.rejects(connectAtc(options(url, password)), atcError(/is not a Concourse: GET \/api\/v1\/info answered HTTP 404/, url));
  } finally {
    server.close();
  }
});

test("a URL that is not http(s) is a config error naming the setting", async () => {
  for (const url of ["ftp://ci.example.com", "ci.example.com", ""]) {
    await assert.rejects(connectAtc(options(url, { kind: "none" })), (error: unknown) => {
      assert.ok(error instanceof PoolBoyError);
      assert.equal(error.kind, "config");
      assert.match(error.message, /^CONCOURSE_BASE_URL\/--concourse-url: /);
      return true;
    });
  }
});

test("anonymous: no login, no token check", () =>
  withFake("7.11.2", async (fake) => {
    const client = await connectAtc(options(`${fake.url}/`, { kind: "none" }));
    try {
      assert.equal(client.url, fake.url);
      assert.deepEqual(fake.requests.map((r) => r.path), ["/api/v1/info"]);
    } finally {
      await client.close();
    }
  }));

/** A throw-away self-signed certificate for 127.0.0.1, made fresh so that no key is kept in the repo. */
function makeCertificate(dir: string): void {
  execFileSync(programPath(OPENSSL), ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
}

test("TLS: verified by default, accepted with its CA certificate or when insecure", needs([OPENSSL]), async () => {
  const dir = await mkdtemp(join(tmpdir(), "pool-boy-tls-"));
  try {
    makeCertificate(dir);
    const key = await readFile(join(dir, "key.pem"), "utf8");
    const cert = await readFile(join(dir, "cert.pem"), "utf8");
    const fake = await startFakeAtc({ version: "8.2.5", users: USERS, tls: { key, cert } });
    try {
      assert.match(fake.url, /^https:/);
      await assert.rejects(connectAtc(options(fake.url, password, { retries: 3 })), (error: unknown) => {
        assert.ok(error instanceof PoolBoyError);
        assert.match(error.message, /cannot connect to Concourse at https:.*(SELF_SIGNED|self.signed)/i);
        assert.match(error.hint ?? "", /CA certificate/);
        return true;
      });
      // a certificate error is not retried
      assert.equal(fake.requests.length, 0);
      const withCa = await connectAtc(options(fake.url, password, { caCert: cert }));
      assert.equal(withCa.version, "8.2.5");
      await withCa.close();
      const insecure = await connectAtc(options(fake.url, password, { insecure: true }));
      assert.equal(insecure.version, "8.2.5");
      await insecure.close();
    } finally {
      await fake.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
