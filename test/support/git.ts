// Runs git in tests, outside pool-boy's own git adapter, to check what pool-boy did.

import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function git(args: string[], env: Record<string, string>, cwd?: string): Promise<GitResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn("git", args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
}

export async function gitOk(args: string[], env: Record<string, string>, cwd?: string): Promise<string> {
  const result = await git(args, env, cwd);
  assert.equal(result.code, 0, `git ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

/**
 * `repos/locks.git`: a bare pool repository with one claimed lock, made with git outside
 * pool-boy, for the transport tests' servers. Returns the environment it was made with.
 */
export async function seedLockRepo(scratch: string, repos: string): Promise<Record<string, string>> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, GIT_CONFIG_NOSYSTEM: "1", LANG: "C", GIT_AUTHOR_NAME: "seed", GIT_AUTHOR_EMAIL: "seed@example.invalid", GIT_COMMITTER_NAME: "seed", GIT_COMMITTER_EMAIL: "seed@example.invalid" };
  const seed = join(scratch, "seed");
  await gitOk(["init", "-q", "-b", "main", seed], env);
  await mkdir(join(seed, "pool", "claimed"), { recursive: true });
  await writeFile(join(seed, "pool", "claimed", "lock-a"), "");
  await gitOk(["add", "-A"], env, seed);
  await gitOk(["commit", "-q", "-m", "pipeline/job build 1 claiming: lock-a"], env, seed);
  await gitOk(["clone", "-q", "--bare", seed, join(repos, "locks.git")], env);
  return env;
}
