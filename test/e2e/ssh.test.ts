// The scheduled Concourse task, end to end: `pool-boy clean` with no flags, configured only by
// environment variables, against Debian's real sshd on 127.0.0.1 serving the scenario's bare pool
// repository, with the deploy key and known_hosts given as text in the environment.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { everyVerdictScenario, type Scenario } from "../support/scenario.js";
import { startSshd, makeKeyPair, type Sshd } from "../support/sshd.js";
import { filesAt, log } from "../support/pool-repo.js";
import { poolBoy } from "../support/cli.js";
import { closeAll } from "../support/cleanup.js";
import { needs, SSH, SSH_KEYGEN, SSHD } from "../support/programs.js";

/** What a directory holds (names, sizes, modes, mtimes), or null when it does not exist. */
function snapshot(dir: string): string | null {
  if (!existsSync(dir)) return null;
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const st = statSync(join(dir, name));
      return `${name} ${st.size} ${st.mode} ${st.mtimeMs}`;
    })
    .join("\n");
}

/** The base64 lines of a private key: none of them may show anywhere. */
function keyLines(key: string): string[] {
  return key
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length >= 16 && !line.startsWith("-----"));
}

/** The key's base64, whatever its line length (the transport folds it to 64 columns). */
function keyBody(key: string): string {
  return key.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
}

function assertNoKey(text: string, key: string): void {
  for (const line of keyLines(key)) assert.ok(!text.includes(line), `the private key leaked into:\n${text}`);
}

function accepted(sshd: Sshd): number {
  return (sshd.log().match(/Accepted publickey for /g) ?? []).length;
}

let s: Scenario;
let sshd: Sshd;
let scratch: string;
/** ~/.ssh of the user the tests run as: ssh finds it through the password database, not $HOME */
const passwdSsh = join(userInfo().homedir, ".ssh");
let passwdSshBefore: string | null;

const requirement = needs([SSHD, SSH, SSH_KEYGEN]);

before(async () => {
  if (!requirement.ready()) return;
  s = await everyVerdictScenario();
  // The scenario's bare repository is `root/pool.git`: serve its parent directory.
  sshd = await startSshd({ repos: s.repo.root });
  scratch = await mkdtemp(join(tmpdir(), "pool-boy-e2e-ssh-"));
  passwdSshBefore = snapshot(passwdSsh);
});

after(async () => {
  await closeAll(
    () => sshd?.close(),
    () => s?.cleanup(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  );
});

/**
 * The task's environment and nothing else (the CLI helper adds only PATH and NO_COLOR): the
 * scenario's variables (POOLS, CONCOURSE_*, a temp HOME, git isolated from the machine's config)
 * with the repository over ssh, and a TMPDIR of its own to watch the key file in.
 */
async function taskEnv(overrides: Record<string, string | null> = {}): Promise<{ env: Record<string, string>; tmp: string }> {
  const tmp = await mkdtemp(join(scratch, "tmp-"));
  const env: Record<string, string> = {
    ...s.env,
    POOL_REPO: sshd.url("pool.git"),
    POOL_REPO_BRANCH: s.repo.branch,
    POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey,
    POOL_REPO_SSH_KNOWN_HOSTS: sshd.hostKeyLine,
    TMPDIR: tmp,
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) delete env[name];
    else env[name] = value;
  }
  return { env, tmp };
}

/** After every run: no ~/.ssh made in HOME, the real ~/.ssh untouched, the private temp files gone. */
async function assertNoTraces(tmp: string): Promise<void> {
  assert.equal(existsSync(join(s.home, ".ssh")), false, "no ~/.ssh was created in HOME");
  assert.equal(snapshot(passwdSsh), passwdSshBefore, `${passwdSsh} is unchanged`);
  assert.deepEqual(await readdir(tmp), [], "the key file, known_hosts and the temporary clone are gone");
}

describe("pool-boy clean as a scheduled task, git over ssh, configured by the environment only", requirement, () => {
  test("an unknown host key: refused with how to fix it, exit 3, nothing changed", async () => {
    const head = await s.repo.head();
    const logins = accepted(sshd);
    const { env, tmp } = await taskEnv({ POOL_REPO_SSH_KNOWN_HOSTS: null });
    const run = await poolBoy(["clean"], env);
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stdout, "");
    const port = String(sshd.port);
    assert.match(run.stderr, new RegExp(`^pool-boy: .*the SSH host key of 127\\.0\\.0\\.1 port ${port} is unknown`, "m"));
    assert.ok(
      run.stderr.includes(`set POOL_REPO_SSH_KNOWN_HOSTS to the output of: ssh-keyscan -p ${port} 127.0.0.1`),
      `the message says how to fix it:\n${run.stderr}`,
    );
    assert.match(run.stderr, /check the fingerprint before trusting it: `ssh-keyscan -p \d+ 127\.0\.0\.1 \| ssh-keygen -lf -`/);
    assert.doesNotMatch(run.stderr, /\n\s+at .*:\d+:\d+/, "no stack trace");
    assertNoKey(run.stderr, sshd.clientKey);
    assert.equal(await s.repo.head(), head, "nothing was pushed");
    assert.equal(accepted(sshd), logins, "ssh stopped before offering the key");
    await assertNoTraces(tmp);
  });

  test("a host key that is not the one given: refused as a possible man-in-the-middle, exit 3", async () => {
    const head = await s.repo.head();
    const other = await makeKeyPair(scratch, "impostor_host");
    const { env, tmp } = await taskEnv({ POOL_REPO_SSH_KNOWN_HOSTS: `[127.0.0.1]:${sshd.port} ${other.publicKey.split(/\s+/).slice(0, 2).join(" ")}` });
    const run = await poolBoy(["clean"], env);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /the SSH host key of 127\.0\.0\.1 port \d+ is not the one pool-boy was told to trust/);
    assert.match(run.stderr, /ssh-keyscan -p \d+ 127\.0\.0\.1/);
    assertNoKey(run.stderr, sshd.clientKey);
    assert.equal(await s.repo.head(), head);
    await assertNoTraces(tmp);
  });

  test("no flags at all: releases what the scenario expects and pushes over ssh; the key lives in a 0600 temp file until the end", async () => {
    const logins = accepted(sshd);
    const { env, tmp } = await taskEnv();
    // While the CLI asks Concourse about the locks (the repository is synced, the push is still to
    // come), look at the private temp dir the transport made under TMPDIR.
    let seen: { keyMode: number; dirMode: number; holdsKey: boolean } | null = null;
    s.atc.beforeAnswer = async (path) => {
      if (seen !== null || !path.includes("/jobs/")) return;
      for (const name of await readdir(tmp)) {
        const keyFile = join(tmp, name, "id_pool_boy");
        if (!existsSync(keyFile)) continue;
        seen = {
          keyMode: (await stat(keyFile)).mode & 0o777,
          dirMode: (await stat(join(tmp, name))).mode & 0o777,
          holdsKey: keyBody(await readFile(keyFile, "utf8")) === keyBody(sshd.clientKey),
        };
      }
    };
    const run = await poolBoy(["clean"], env).finally(() => {
      s.atc.beforeAnswer = null;
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "", "nothing on stderr without --verbose");

    assert.deepEqual(seen, { keyMode: 0o600, dirMode: 0o700, holdsKey: true }, "the deploy key was in a 0600 file in a 0700 dir during the run");
    await assertNoTraces(tmp);

    // What was released is exactly what the scenario expects, one commit per lock, pushed over ssh.
    const wantReleased = s.expected.filter((e) => e.verdict === "release");
    const files = await filesAt(s.repo.path, "HEAD");
    for (const e of s.expected) {
      assert.equal(files.includes(`${e.pool}/claimed/${e.name}`), e.verdict === "keep", `${e.pool}/${e.name}: ${e.story}`);
    }
    const ours = (await log(s.repo.path, { max: wantReleased.length + 1 })).filter((c) => c.author.startsWith("Pool Boy"));
    assert.deepEqual(
      ours.map((c) => c.message.split("\n")[0]).sort(),
      wantReleased.map((e) => `unclaiming: ${e.name}`).sort(),
    );
    assert.ok(accepted(sshd) - logins >= 2, `fetch and push went through the sshd:\n${sshd.log()}`);
    assert.ok(run.stdout.includes(sshd.url("pool.git")), "the report names the ssh repository");
    assert.match(run.stdout, /: 3 released \(finished 2, stale 1\), 6 kept .*; pushed 3 commits\.$/m);
    assertNoKey(run.stdout, sshd.clientKey);
  });
});
