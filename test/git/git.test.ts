import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isolatedGitEnv } from "../support/pool-repo.js";
import {
  cleanGitEnv,
  configEnv,
  GitCommandError,
  gitEnv,
  gitProcessCount,
  gitText,
  runGit,
  type GitTarget,
} from "../../src/io/git/git.js";

async function scratch(): Promise<{ target: GitTarget; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "pool-boy-git-test-"));
  const target = { cwd: dir, env: { ...isolatedGitEnv(dir), GIT_DIR: join(dir, "repo.git") } };
  return { target, done: () => rm(dir, { recursive: true, force: true }) };
}

test("the environment: caller's variables kept, repository-steering ones dropped, fixed settings added", () => {
  const env = gitEnv(
    cleanGitEnv({
      PATH: "/bin",
      GIT_DIR: "/elsewhere",
      GIT_WORK_TREE: "/elsewhere",
      GIT_CONFIG_PARAMETERS: "'core.pager'='less'",
      GIT_TRACE_CURL: "1",
      EDITOR: "vim",
      GIT_SSH_COMMAND: "ssh -o BatchMode=yes",
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "credential.helper",
      GIT_CONFIG_VALUE_0: "",
      LC_ALL: "de_DE.UTF-8",
      GIT_TERMINAL_PROMPT: "1",
    }),
  );
  assert.equal(env.GIT_DIR, undefined);
  assert.equal(env.GIT_WORK_TREE, undefined);
  assert.equal(env.GIT_CONFIG_PARAMETERS, undefined);
  assert.equal(env.GIT_TRACE_CURL, undefined);
  assert.equal(env.EDITOR, undefined);
  assert.equal(env.GIT_SSH_COMMAND, "ssh -o BatchMode=yes");
  assert.equal(env.GIT_CONFIG_KEY_0, "credential.helper");
  assert.equal(env.LC_ALL, "C");
  assert.equal(env.GIT_TERMINAL_PROMPT, "0");
  assert.equal(env.PATH, "/bin");
});

test("configEnv numbers its entries after the ones already there", () => {
  const env = configEnv({ GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "a.b", GIT_CONFIG_VALUE_0: "x" }, { "c.d": "y", "e.f": "z" });
  assert.equal(env.GIT_CONFIG_COUNT, "3");
  assert.equal(env.GIT_CONFIG_KEY_0, "a.b");
  assert.equal(env.GIT_CONFIG_KEY_1, "c.d");
  assert.equal(env.GIT_CONFIG_VALUE_2, "z");
});

test("every git process is counted, short commands and streamed ones alike", async () => {
  const { target, done } = await scratch();
  try {
    const before = gitProcessCount();
    await gitText(target, ["init", "--bare", "--quiet"]);
    await runGit(target, ["rev-parse", "--git-dir"]);
    assert.equal(gitProcessCount() - before, 2);
  } finally {
    await done();
  }
});

test("a failing command rejects with its exit code, even when git says nothing on stderr", async () => {
  const { target, done } = await scratch();
  try {
    await gitText(target, ["init", "--bare", "--quiet"]);
    await assert.rejects(gitText(target, ["config", "--get", "no.such-key"]), (err: unknown) => {
      assert.ok(err instanceof GitCommandError);
      assert.equal(err.exitCode, 1);
      return true;
    });
  } finally {
    await done();
  }
});

test("credentials in git's stderr are redacted", async () => {
  const { target, done } = await scratch();
  try {
    await gitText(target, ["init", "--bare", "--quiet"]);
    // Port 9 (discard) is closed: git fails at once and names the URL in its message.
    const url = "http://someone:pw-9f8e7d6c@127.0.0.1:9/pool.git";
    for (const attempt of [() => gitText(target, ["ls-remote", url]), () => runGit(target, ["ls-remote", url])]) {
      await assert.rejects(attempt(), (err: unknown) => {
        assert.ok(err instanceof GitCommandError);
        assert.doesNotMatch(`${err.message}\n${err.stderr}`, /pw-9f8e7d6c/);
        return true;
      });
    }
  } finally {
    await done();
  }
});

test("an EDITOR or PAGER in the caller's environment (npm sets EDITOR) does not stop git", async () => {
  const { target, done } = await scratch();
  try {
    const env = { ...target.env, EDITOR: "vi", PAGER: "less", GIT_EDITOR: "vim" };
    await gitText({ cwd: target.cwd, env }, ["init", "--bare", "--quiet"]);
    assert.match(await gitText({ cwd: target.cwd, env }, ["rev-parse", "--is-bare-repository"]), /true/);
  } finally {
    await done();
  }
});
