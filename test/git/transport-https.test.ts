// The https transport against a real git smart-HTTP server (git http-backend behind node's https
// server, Basic auth, self-signed certificate) and real git: no mocks.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { explainGitFailure } from "../../src/io/git/transport.js";
import { transportFor, type PreparedTransport } from "../support/transport.js";
import { redact } from "../../src/core/redact.js";
import { startGitHttps, type GitHttps } from "../support/git-https.js";
import { git, gitOk, seedLockRepo } from "../support/git.js";
import { closeAll } from "../support/cleanup.js";
import { needs, GIT_HTTP_BACKEND, OPENSSL } from "../support/programs.js";


const USER = "pool-bot";
// characters that need percent-encoding in a URL, to prove decoding is right
const TOKEN = "tok3n:with/odd@chars%and#more";

let scratch: string;
let repos: string;
let server: GitHttps;
let seedEnv: Record<string, string>;

async function runEnv(extra: Record<string, string | undefined> = {}): Promise<{ env: Record<string, string | undefined>; home: string }> {
  const home = await mkdtemp(join(scratch, "home-"));
  return {
    home,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      LANG: "C",
      LC_ALL: "C",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_SSL_CAINFO: server.caFile,
      GIT_AUTHOR_NAME: "pool-boy test",
      GIT_AUTHOR_EMAIL: "pool-boy@example.invalid",
      GIT_COMMITTER_NAME: "pool-boy test",
      GIT_COMMITTER_EMAIL: "pool-boy@example.invalid",
      ...extra,
    },
  };
}

async function withTransport<T>(input: { url: string; env: Record<string, string | undefined> }, body: (transport: PreparedTransport) => Promise<T>): Promise<T> {
  const transport = await transportFor({ tmpRoot: scratch, ...input });
  try {
    return await body(transport);
  } finally {
    await transport.cleanup();
  }
}

function assertNoSecret(text: string): void {
  assert.ok(!text.includes(TOKEN), `token leaked: ${text}`);
  assert.ok(!text.includes(encodeURIComponent(TOKEN)), `encoded token leaked: ${text}`);
}

const requirement = needs([OPENSSL, GIT_HTTP_BACKEND]);

before(async () => {
  if (!requirement.ready()) return;
  scratch = await mkdtemp(join(tmpdir(), "pool-boy-transport-https-"));
  repos = join(scratch, "repos");
  await mkdir(repos);
  seedEnv = await seedLockRepo(scratch, repos);
  server = await startGitHttps({ repos, credentials: { user: USER, password: TOKEN } });
});

after(async () => {
  await closeAll(
    () => server?.close(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  );
});

describe("https transport against a real git http server", requirement, () => {
  it("clones and pushes with POOL_REPO_USERNAME/POOL_REPO_PASSWORD, through askpass, and no helper stores them", async () => {
    const { env, home } = await runEnv({ POOL_REPO_USERNAME: USER, POOL_REPO_PASSWORD: TOKEN });
    // A user whose git would store credentials in plain text: it must not get ours.
    await writeFile(join(home, ".gitconfig"), "[credential]\n\thelper = store\n");
    const attemptsBefore = server.attempts.length;
    await withTransport({ url: server.url("locks.git"), env }, async (transport) => {
      assert.equal(transport.url, server.url("locks.git"));
      assertNoSecret(JSON.stringify({ url: transport.url, askpass: await readFile(transport.env.GIT_ASKPASS ?? "", "utf8") }));
      assert.match(await gitOk(["ls-remote", transport.url], transport.env), /refs\/heads\/main/);
      const work = join(scratch, "work-push");
      await gitOk(["clone", "-q", transport.url, work], transport.env);
      await rm(join(work, "pool", "claimed", "lock-a"));
      await mkdir(join(work, "pool", "unclaimed"), { recursive: true });
      await writeFile(join(work, "pool", "unclaimed", "lock-a"), "");
      await gitOk(["add", "-A"], transport.env, work);
      // the author is the test's: git's environment from the transport holds no identity
      await gitOk(["-c", "user.name=pool-boy test", "-c", "user.email=pool-boy@example.invalid", "commit", "-q", "-m", "pool-boy: releasing lock-a"], transport.env, work);
      await gitOk(["push", "-q", "origin", "HEAD:main"], transport.env, work);
      // the clone's config holds the URL git was given: no credentials in it
      assertNoSecret(await readFile(join(work, ".git", "config"), "utf8"));
    });
    const log = await gitOk(["--git-dir", join(repos, "locks.git"), "log", "-1", "--format=%s", "main"], seedEnv);
    assert.equal(log.trim(), "pool-boy: releasing lock-a");
    const attempts = server.attempts.slice(attemptsBefore);
    assert.ok(attempts.some((a) => a.ok && a.user === USER), JSON.stringify(attempts));
    assert.ok(attempts.every((a) => a.user === null || a.ok), JSON.stringify(attempts));
    assert.equal(existsSync(join(home, ".git-credentials")), false, "a credential helper stored the token");
  });

  it("takes credentials from the URL, strips them, and decodes them right", async () => {
    const { env } = await runEnv();
    const withCredentials = server.url("locks.git").replace("https://", `https://${USER}:${encodeURIComponent(TOKEN)}@`);
    await withTransport({ url: withCredentials, env }, async (transport) => {
      assert.equal(transport.url, server.url("locks.git"));
      assert.match(await gitOk(["ls-remote", transport.url], transport.env), /refs\/heads\/main/);
    });
    assertNoSecret(redact(`fatal: unable to access '${withCredentials}': oops`));
  });

  it("a wrong token fails with an authentication message that shows no secret", async () => {
    const wrong = "wrong-token-5d1e9";
    const { env } = await runEnv({ POOL_REPO_USERNAME: USER, POOL_REPO_PASSWORD: wrong });
    const failed = await withTransport({ url: server.url("locks.git"), env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    const explained = explainGitFailure(failed.stderr, server.url("locks.git"));
    assert.equal(explained.cause, "auth-failed", failed.stderr);
    assert.match(explained.hint, /POOL_REPO_USERNAME and POOL_REPO_PASSWORD/);
    for (const text of [failed.stderr, explained.message, explained.hint, explained.detail]) assert.ok(!text.includes(wrong), text);
  });

  it("no credentials at all fails at once (no prompt) with a message saying which variables to set", async () => {
    const { env } = await runEnv();
    const failed = await withTransport({ url: server.url("locks.git"), env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    const explained = explainGitFailure(failed.stderr, server.url("locks.git"));
    assert.equal(explained.cause, "auth-missing", failed.stderr);
    assert.match(explained.hint, /POOL_REPO_USERNAME and POOL_REPO_PASSWORD/);
  });

  it("an untrusted certificate is explained", async () => {
    const { env } = await runEnv({ GIT_SSL_CAINFO: undefined, POOL_REPO_USERNAME: USER, POOL_REPO_PASSWORD: TOKEN });
    const failed = await withTransport({ url: server.url("locks.git"), env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    assert.equal(explainGitFailure(failed.stderr, server.url("locks.git")).cause, "tls", failed.stderr);
  });

  it("a missing repository is reported as not found", async () => {
    const { env } = await runEnv({ POOL_REPO_USERNAME: USER, POOL_REPO_PASSWORD: TOKEN });
    const failed = await withTransport({ url: server.url("nope.git"), env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    assert.equal(explainGitFailure(failed.stderr, server.url("nope.git")).cause, "not-found", failed.stderr);
  });
});
