// Reads what the repository itself says to pool-boy, at the synced head: .pool-boy/config.yaml
// and the holds under .pool-boy/holds/. Two git processes (ls-tree, cat-file --batch), none when
// the folder is absent. Decides nothing: the texts go to decide/config-file.ts and decide/holds.ts.

import { PoolBoyError } from "../../core/errors.js";
import { REPO_CONFIG_PATH } from "../../decide/config-file.js";
import { HOLDS_DIR } from "../../decide/holds.js";
import { firstLines, GitCommandError, runGit, type GitTarget } from "./git.js";
import type { SyncedRepo } from "./sync.js";

export interface RepoControls {
  /** the text of .pool-boy/config.yaml, or null when the file is absent */
  configText: string | null;
  /** every file under .pool-boy/holds/, with its text */
  holdFiles: Array<{ path: string; text: string }>;
}

export async function readControls(repo: SyncedRepo, commit: string): Promise<RepoControls> {
  try {
    const entries = await listControls(repo.target, commit);
    const wanted = entries.filter((e) => e.path === REPO_CONFIG_PATH || e.path.startsWith(`${HOLDS_DIR}/`));
    if (wanted.length === 0) return { configText: null, holdFiles: [] };
    const texts = await readBlobs(repo.target, wanted.map((e) => e.sha));
    let configText: string | null = null;
    const holdFiles: RepoControls["holdFiles"] = [];
    wanted.forEach((e, i) => {
      const text = texts[i] ?? "";
      if (e.path === REPO_CONFIG_PATH) configText = text;
      else holdFiles.push({ path: e.path, text });
    });
    return { configText, holdFiles };
  } catch (err) {
    const detail = err instanceof GitCommandError ? firstLines(err.stderr) : err instanceof Error ? err.message : String(err);
    throw new PoolBoyError("git", `cannot read .pool-boy/ of ${repo.display} (${repo.branch}) at ${commit.slice(0, 12)}: ${detail}`, "run again", { cause: err });
  }
}

/** The files under .pool-boy/ at a commit (only that folder is listed: cheap on a big repository). */
async function listControls(target: GitTarget, commit: string): Promise<Array<{ sha: string; path: string }>> {
  const { stdout } = await runGit(target, ["ls-tree", "-r", "-z", "--full-tree", commit, "--", ".pool-boy/"]);
  return stdout
    .toString("utf8")
    .split("\0")
    .filter(Boolean)
    .map((record) => {
      const tab = record.indexOf("\t");
      const [, type = "", sha = ""] = record.slice(0, tab).split(" ");
      return { type, sha, path: record.slice(tab + 1) };
    })
    .filter((e) => e.type === "blob");
}

/** Blob texts by id, in order, with one `git cat-file --batch`. */
async function readBlobs(target: GitTarget, shas: string[]): Promise<string[]> {
  const { stdout } = await runGit(target, ["cat-file", "--batch"], { input: shas.map((s) => `${s}\n`).join("") });
  const texts: string[] = [];
  let at = 0;
  for (let i = 0; i < shas.length; i++) {
    const nl = stdout.indexOf(10, at);
    const header = stdout.subarray(at, nl).toString("latin1").split(" ");
    const size = Number(header[2]);
    if (header[1] !== "blob" || !Number.isFinite(size)) throw new Error(`cat-file: unexpected "${header.join(" ")}"`);
    texts.push(stdout.subarray(nl + 1, nl + 1 + size).toString("utf8"));
    at = nl + 1 + size + 1;
  }
  return texts;
}
