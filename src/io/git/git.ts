// The one place git is run. Every git process pool-boy starts goes through this module, so
// that the environment is the same everywhere, the processes can be counted (the process
// count per run must not grow with the number of locks) and git's stderr is masked before
// it can reach an error message.
//
// A plain spawn, not simple-git: pool-boy needs streams it can stop early, raw bytes and stdin,
// which simple-git does not give, and for the rest simple-git's argument and environment checks
// had to be switched off (every argument here is built by pool-boy, and the transport sets
// GIT_SSH_COMMAND, GIT_ASKPASS and config entries on purpose).

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { redact } from "../../core/redact.js";

/** Where a git command runs: a directory (pool-boy's own bare repository) and its environment. */
export interface GitTarget {
  cwd: string;
  /** the whole environment (see cleanGitEnv); gitEnv() adds the fixed settings */
  env: Record<string, string>;
  /** masks the run's secrets in git's stderr (the run's Redactor.outside); the patterns alone when absent */
  mask?: (text: string) => string;
}

let processes = 0;

/** How many git processes this module has started since the program began. */
export function gitProcessCount(): number {
  return processes;
}

// Variables of the caller's environment that would point git at another repository or change
// what it reads (a parent git process sets them when pool-boy runs from a hook or an alias), or
// make it wait for a person. GIT_CONFIG_PARAMETERS is a parent's `git -c`; config entries that
// are meant for us come as GIT_CONFIG_COUNT/KEY/VALUE (the transport's) and are kept. Trace
// variables go because a trace (GIT_TRACE_CURL, GIT_TRACE_PACKET) writes credentials to a file or
// stderr that redact() never sees.
const DROPPED = new Set([
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_IMPLICIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_COMMON_DIR",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
  "GIT_INTERNAL_SUPER_PREFIX",
  "GIT_GRAFT_FILE",
  "GIT_SHALLOW_FILE",
  "GIT_REPLACE_REF_BASE",
  "GIT_NO_REPLACE_OBJECTS",
  "GIT_QUARANTINE_PATH",
  "GIT_CONFIG",
  "GIT_CONFIG_PARAMETERS",
  "GIT_EDITOR",
  "GIT_SEQUENCE_EDITOR",
  "EDITOR",
  "VISUAL",
  "GIT_PAGER",
  "PAGER",
  "GIT_EXTERNAL_DIFF",
  "LANGUAGE",
]);

/**
 * The caller's environment (the whole environment git should run with, e.g. the transport's,
 * which leaves out pool-boy's secret variables: it is not merged over process.env) without
 * the variables that must not steer pool-boy's git processes.
 */
export function cleanGitEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (DROPPED.has(key) || key.startsWith("GIT_TRACE")) continue;
    out[key] = value;
  }
  // Only so that an environment given without PATH can still find git; PATH holds no secret.
  if (out.PATH === undefined && process.env.PATH !== undefined) out.PATH = process.env.PATH;
  return out;
}

/** The environment of every git process: the target's, cleaned again, plus the fixed settings. */
export function gitEnv(env: Record<string, string>): Record<string, string> {
  return {
    ...cleanGitEnv(env),
    // Never wait for a password on a terminal: a scheduled task has nobody to type it.
    GIT_TERMINAL_PROMPT: "0",
    // Messages are parsed ("[rejected]", "couldn't find remote ref"): they must not be translated.
    LC_ALL: "C",
  };
}

/**
 * Extra environment that sets git config entries for one process without writing them to disk
 * or putting them on the command line (GIT_CONFIG_COUNT/KEY/VALUE, git 2.31+). Entries already in
 * `env` (a transport's) are kept and ours are numbered after them.
 */
export function configEnv(env: Record<string, string>, entries: Record<string, string>): Record<string, string> {
  const out = { ...env };
  let count = Number.parseInt(out.GIT_CONFIG_COUNT ?? "0", 10);
  if (!Number.isFinite(count) || count < 0) count = 0;
  for (const [key, value] of Object.entries(entries)) {
    out[`GIT_CONFIG_KEY_${count}`] = key;
    out[`GIT_CONFIG_VALUE_${count}`] = value;
    count++;
  }
  out.GIT_CONFIG_COUNT = String(count);
  return out;
}

/** A git command that failed. `stderr` is already masked. */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`git ${args[0] ?? ""} failed (exit ${exitCode ?? "?"}): ${firstLines(stderr) || "no message"}`, options);
    this.name = "GitCommandError";
  }
}

/** The informative part of git's stderr, for messages: "fatal:/error:" lines first, hints dropped. */
export function firstLines(stderr: string, max = 3): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("hint:"));
  const important = lines.filter((l) => /^(fatal|error|remote: error|ERROR)\b/i.test(l));
  return (important.length ? important : lines).slice(0, max).join("; ");
}

/** Run one git command; resolves its stdout as text, rejects with a GitCommandError. */
export async function gitText(target: GitTarget, args: string[]): Promise<string> {
  return (await runGit(target, args)).stdout.toString("utf8");
}

/**
 * A counted git process. Everything pool-boy asks of git is a plain spawn: output read as a
 * stream and stopped early (log), bytes that must not be decoded (paths that are not UTF-8),
 * input on stdin (fast-import), and the short commands (gitText).
 */
export function spawnGit(target: GitTarget, args: string[]): ChildProcessWithoutNullStreams {
  processes++;
  return spawn("git", args, { cwd: target.cwd, env: gitEnv(target.env), stdio: ["pipe", "pipe", "pipe"] });
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  /** redacted */
  stderr: string;
}

/**
 * Run git to completion with optional stdin, collecting raw stdout. Rejects with GitCommandError
 * on a non-zero exit unless `allowFailure`.
 */
export function runGit(
  target: GitTarget,
  args: string[],
  options: { input?: Buffer | string; allowFailure?: boolean } = {},
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(target, args);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    // git may exit before reading all of stdin (a fatal error); the EPIPE is not the news.
    child.stdin.on("error", () => undefined);
    const mask = target.mask ?? redact;
    child.on("error", (e) => reject(new GitCommandError(args, null, mask(e.message), { cause: e })));
    child.on("close", (code) => {
      const stderr = mask(Buffer.concat(err).toString("utf8"));
      const result = { code: code ?? -1, stdout: Buffer.concat(out), stderr };
      if (code !== 0 && !options.allowFailure) reject(new GitCommandError(args, code, stderr));
      else resolve(result);
    });
    child.stdin.end(options.input ?? "");
  });
}
