// A local --repo checked before the run: a folder that is not a git repository is said to be
// exactly that, and `clean` refuses, before it does anything, a branch that git would refuse to
// push to because it is checked out (receive.denyCurrentBranch), instead of failing at the end.

import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PoolBoyError } from "../../core/errors.js";
import { cleanGitEnv, gitText } from "./git.js";

/** The folder a local repository URL names (a path or file:// URL). */
function localPath(url: string): string {
  return url.startsWith("file://") ? fileURLToPath(url) : resolve(url);
}

/**
 * Checks a local repository. Does nothing for a path that does not exist (the sync reports it) or
 * when the push would be accepted.
 */
export async function checkLocalRepo(input: { url: string; branch: string | null; command: "status" | "clean"; env: Record<string, string> }): Promise<void> {
  let path: string;
  try {
    path = localPath(input.url);
  } catch {
    return;
  }
  const info = await stat(path).catch(() => null);
  if (info === null)
    throw new PoolBoyError(
      "config",
      `${input.url} does not exist`,
      "point --repo (or POOL_REPO) at the pool repository: a bare repository, a clone or a git URL",
    );
  if (!info.isDirectory()) return;
  const target = { cwd: path, env: cleanGitEnv({ ...input.env, GIT_CEILING_DIRECTORIES: resolve(path, "..") }) };
  const git = (args: string[]) => gitText(target, args).then((s) => s.trim());
  const top = await git(["rev-parse", "--absolute-git-dir"]).catch(() => null);
  if (top === null)
    throw new PoolBoyError(
      "config",
      `${input.url} is not a git repository`,
      "point --repo at the pool repository (a bare repository, a clone or a git URL)",
    );
  if (input.command !== "clean") return;

  // Branches checked out in the repository's work trees: a push to one of them is refused
  // unless receive.denyCurrentBranch allows it.
  const worktrees = await git(["worktree", "list", "--porcelain"]).catch(() => "");
  const checkedOut = new Set(
    worktrees
      .split("\n")
      .filter((line) => line.startsWith("branch refs/heads/"))
      .map((line) => line.slice("branch refs/heads/".length)),
  );
  if (checkedOut.size === 0) return;
  const deny = (await git(["config", "--get", "receive.denyCurrentBranch"]).catch(() => "")).toLowerCase();
  if (["ignore", "warn", "updateinstead", "false", "no", "off", "0"].includes(deny)) return;
  // Without --branch the remote's default branch is used: a clone's HEAD, its checked-out branch.
  const head = await git(["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => null);
  const branch = input.branch ?? head;
  if (branch === null || !checkedOut.has(branch)) return;
  throw new PoolBoyError(
    "config",
    `${input.url} has branch "${branch}" checked out, so git would refuse clean's push to it (receive.denyCurrentBranch)`,
    `push the pools to a bare repository (git clone --bare ${input.url} pools.git) and point --repo at it, or use --branch with a branch that is not checked out there`,
  );
}
