// The ssh transport against Debian's real sshd on 127.0.0.1 and real git: no mocks.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { explainGitFailure, gitFailure } from "../../src/io/git/transport.js";
import { transportFor, type PreparedTransport } from "../support/transport.js";
import { PoolBoyError } from "../../src/core/errors.js";
import { startSshd, makeKeyPair, type Sshd } from "../support/sshd.js";
import { git, gitOk, seedLockRepo } from "../support/git.js";
import { closeAll } from "../support/cleanup.js";
import { needs, SSH, SSH_KEYGEN, SSHD } from "../support/programs.js";

const run = promisify(execFile);


function keyLines(key: string): string[] {
  return key
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length >= 16 && !line.startsWith("-----"));
}

function assertNoKeyText(text: string, key: string): void {
  for (const line of keyLines(key)) assert.ok(!text.includes(line), `key text leaked into: ${text}`);
}

/** What a directory holds: names, sizes and mtimes, or null when it does not exist. */
function snapshot(dir: string): string | null {
  if (!existsSync(dir)) return null;
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const st = statSync(join(dir, name));
      return `${name} ${st.size} ${st.mtimeMs}`;
    })
    .join("\n");
}

let scratch: string;
let repos: string;
let sshd: Sshd;
let seedEnv: Record<string, string>;

/** The environment pool-boy would run with: a temp HOME, no system git config, English messages. */
async function runEnv(extra: Record<string, string | undefined> = {}): Promise<{ env: Record<string, string | undefined>; home: string }> {
  const home = await mkdtemp(join(scratch, "home-"));
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: home,
    LANG: "C",
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "pool-boy test",
    GIT_AUTHOR_EMAIL: "pool-boy@example.invalid",
    GIT_COMMITTER_NAME: "pool-boy test",
    GIT_COMMITTER_EMAIL: "pool-boy@example.invalid",
    ...extra,
  };
  return { env, home };
}

async function withTransport<T>(input: { url: string; env: Record<string, string | undefined>; tmpRoot?: string }, body: (transport: PreparedTransport) => Promise<T>): Promise<T> {
  const transport = await transportFor({ tmpRoot: scratch, ...input });
  try {
    return await body(transport);
  } finally {
    await transport.cleanup();
  }
}

const requirement = needs([SSHD, SSH, SSH_KEYGEN]);

before(async () => {
  if (!requirement.ready()) return;
  scratch = await mkdtemp(join(tmpdir(), "pool-boy-transport-ssh-"));
  repos = join(scratch, "repos");
  await mkdir(repos);
  seedEnv = await seedLockRepo(scratch, repos);
  sshd = await startSshd({ repos });
});

after(async () => {
  await closeAll(
    () => sshd?.close(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  );
});

describe("ssh transport against a real sshd", requirement, () => {
  it("ls-remote, clone and push with the deploy key from the environment; ~/.ssh never touched", async () => {
    const passwdHomeSsh = join(userInfo().homedir, ".ssh");
    const before = snapshot(passwdHomeSsh);
    const { env, home } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
    await withTransport({ url: sshd.url("locks.git"), env }, async (transport) => {
      assert.equal(transport.url, sshd.url("locks.git"));
      const refs = await gitOk(["ls-remote", transport.url], transport.env);
      assert.match(refs, /\trefs\/heads\/main$/m);

      const work = join(scratch, "work-push");
      await gitOk(["clone", "-q", transport.url, work], transport.env);
      await rm(join(work, "pool", "claimed", "lock-a"));
      await mkdir(join(work, "pool", "unclaimed"), { recursive: true });
      await writeFile(join(work, "pool", "unclaimed", "lock-a"), "");
      await gitOk(["add", "-A"], transport.env, work);
      // the author is the test's: git's environment from the transport holds no identity
      await gitOk(["-c", "user.name=pool-boy test", "-c", "user.email=pool-boy@example.invalid", "commit", "-q", "-m", "pool-boy: releasing lock-a"], transport.env, work);
      await gitOk(["push", "-q", "origin", "HEAD:main"], transport.env, work);
    });
    const log = await gitOk(["--git-dir", join(repos, "locks.git"), "log", "-1", "--format=%s", "main"], seedEnv);
    assert.equal(log.trim(), "pool-boy: releasing lock-a");
    assert.equal(existsSync(join(home, ".ssh")), false, "HOME/.ssh was created");
    assert.equal(snapshot(passwdHomeSsh), before, `${passwdHomeSsh} changed`);
  });

  it("the ssh process gets the key as a file path only, never its text", async () => {
    // An ssh on PATH that records its arguments, then runs the real one.
    const bin = join(scratch, "bin");
    await mkdir(bin, { recursive: true });
    const argLog = join(scratch, "ssh-args.log");
    await writeFile(join(bin, "ssh"), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${argLog}'\nexec /usr/bin/ssh "$@"\n`, { mode: 0o755 });
    const { env } = await runEnv({ PATH: `${bin}:${process.env.PATH ?? ""}`, POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
    await withTransport({ url: sshd.url("locks.git"), env }, async (transport) => {
      await gitOk(["ls-remote", transport.url], transport.env);
      assertNoKeyText(transport.env.GIT_SSH_COMMAND ?? "", sshd.clientKey);
    });
    const args = await readFile(argLog, "utf8");
    assert.match(args, /^-i$/m);
    assert.match(args, /^StrictHostKeyChecking=yes$/m);
    assertNoKeyText(args, sshd.clientKey);
  });

  it("accepts a key with Windows line endings and no final newline", async () => {
    const mangled = sshd.clientKey.replace(/\n/g, "\r\n").trimEnd();
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: mangled, POOL_REPO_SSH_KNOWN_HOSTS: `${sshd.hostKeyLine}\r\n` });
    await withTransport({ url: sshd.url("locks.git"), env }, async (transport) => {
      assert.match(await gitOk(["ls-remote", transport.url], transport.env), /refs\/heads\/main/);
    });
  });

  it("works with git's scp-like URL form too", async () => {
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
    await withTransport({ url: sshd.scpUrl("locks.git"), env }, async (transport) => {
      assert.match(await gitOk(["ls-remote", transport.url], transport.env), /refs\/heads\/main/);
    });
  });

  it("works from a temp root whose path has spaces, quotes or %", async () => {
    for (const name of ["tmp with spaces", "tmp with 'quotes' and %d"]) {
      const odd = join(scratch, name);
      await mkdir(odd);
      const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
      await withTransport({ url: sshd.url("locks.git"), env, tmpRoot: odd }, async (transport) => {
        assert.match(await gitOk(["ls-remote", transport.url], transport.env), /refs\/heads\/main/);
      });
    }
  });

  it("refuses an unknown host key and says how to provide it; following the advice works", async () => {
    const { env, home } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey });
    const url = sshd.url("locks.git");
    const failed = await withTransport({ url, env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /Host key verification failed/);
    const explained = explainGitFailure(failed.stderr, url);
    assert.equal(explained.cause, "host-key-unknown");
    const advice = `set POOL_REPO_SSH_KNOWN_HOSTS to the output of: ssh-keyscan -p ${sshd.port} 127.0.0.1`;
    assert.ok(explained.message.includes(advice), explained.message);
    const error = gitFailure(failed.stderr, url);
    assert.ok(error instanceof PoolBoyError && error.kind === "git");
    assertNoKeyText(`${error.message}\n${error.hint ?? ""}\n${failed.stderr}\n${explained.detail}`, sshd.clientKey);
    assert.equal(existsSync(join(home, ".ssh")), false);

    // Do what the message says.
    const scan = await run("ssh-keyscan", ["-p", String(sshd.port), "127.0.0.1"]);
    const retry = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: scan.stdout });
    await withTransport({ url, env: retry.env }, async (transport) => {
      assert.match(await gitOk(["ls-remote", transport.url], transport.env), /refs\/heads\/main/);
    });
  });

  it("reads the user's ~/.ssh/known_hosts and leaves it as it was", async () => {
    const { env, home } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey });
    await mkdir(join(home, ".ssh"), { mode: 0o700 });
    const knownHosts = join(home, ".ssh", "known_hosts");
    await writeFile(knownHosts, `${sshd.hostKeyLine}\n`, { mode: 0o600 });
    const before = snapshot(join(home, ".ssh"));
    await withTransport({ url: sshd.url("locks.git"), env }, async (transport) => {
      assert.match(await gitOk(["ls-remote", transport.url], transport.env), /refs\/heads\/main/);
    });
    assert.equal(snapshot(join(home, ".ssh")), before);
    assert.equal(await readFile(knownHosts, "utf8"), `${sshd.hostKeyLine}\n`);
  });

  it("refuses a host presenting a different key than the known one", async () => {
    const other = await makeKeyPair(await mkdtemp(join(scratch, "k-")), "impostor");
    const wrongLine = `[127.0.0.1]:${sshd.port} ${other.publicKey.split(/\s+/).slice(0, 2).join(" ")}`;
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: wrongLine });
    const failed = await withTransport({ url: sshd.url("locks.git"), env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    const explained = explainGitFailure(failed.stderr, sshd.url("locks.git"));
    assert.equal(explained.cause, "host-key-changed", failed.stderr);
    assert.match(explained.hint, /POOL_REPO_SSH_KNOWN_HOSTS/);
  });

  it("a key the server does not know is refused with a permission-denied message and no key text", async () => {
    const wrong = await makeKeyPair(await mkdtemp(join(scratch, "k-")), "wrong");
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: wrong.privateKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
    const failed = await withTransport({ url: sshd.url("locks.git"), env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /Permission denied \(publickey\)/);
    const explained = explainGitFailure(failed.stderr, sshd.url("locks.git"));
    assert.equal(explained.cause, "publickey-denied");
    assert.match(explained.message, /refused the key/);
    assert.match(explained.hint, /POOL_REPO_SSH_PRIVATE_KEY/);
    assertNoKeyText(`${explained.message}\n${explained.hint}\n${explained.detail}\n${failed.stderr}`, wrong.privateKey);
  });

  it("a passphrase-protected key is refused up front with a clear error", async () => {
    const locked = await makeKeyPair(await mkdtemp(join(scratch, "k-")), "locked", { passphrase: "a passphrase nobody types" });
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: locked.privateKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
    await assert.rejects(transportFor({ url: sshd.url("locks.git"), env, tmpRoot: scratch }), (error: unknown) => {
      assert.ok(error instanceof PoolBoyError);
      assert.equal(error.kind, "config");
      assert.match(error.message, /passphrase/);
      assertNoKeyText(`${error.message}\n${error.hint ?? ""}`, locked.privateKey);
      return true;
    });
  });

  it("a missing repository is reported as not found", async () => {
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
    const url = sshd.url("nope.git");
    const failed = await withTransport({ url, env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    assert.equal(explainGitFailure(failed.stderr, url).cause, "not-found", failed.stderr);
  });

  it("a closed port is reported as connection refused", async () => {
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey });
    const url = `ssh://${sshd.user}@127.0.0.1:1/srv/locks.git`;
    const failed = await withTransport({ url, env }, (transport) => git(["ls-remote", transport.url], transport.env));
    assert.notEqual(failed.code, 0);
    const explained = explainGitFailure(failed.stderr, url);
    assert.equal(explained.cause, "refused", failed.stderr);
    assert.match(explained.message, /127\.0\.0\.1 port 1 refused/);
  });

  it("the key file is 0600 in a 0700 dir while in use, and gone after cleanup", async () => {
    const { env } = await runEnv({ POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey, POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine });
    const transport = await transportFor({ url: sshd.url("locks.git"), env, tmpRoot: scratch });
    const keyFile = /-i (\S+)/.exec(transport.env.GIT_SSH_COMMAND ?? "")?.[1] ?? "";
    try {
      assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
      assert.equal((await stat(dirname(keyFile))).mode & 0o777, 0o700);
      await gitOk(["ls-remote", transport.url], transport.env);
    } finally {
      await transport.cleanup();
    }
    assert.equal(existsSync(keyFile), false);
    assert.equal(existsSync(dirname(keyFile)), false);
  });
});
