// Runs git in tests, outside pool-boy's own git adapter, to check what pool-boy did.

import { spawn } from "node:child_process";
import assert from "node:assert/strict";

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
