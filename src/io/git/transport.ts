// How git reaches the lock repository: the environment and URL every git process runs with.
// The credentials are resolved by resolveConfig (RepoAuth); this module only writes the files
// git needs, into a private 0700 temp dir removed by cleanup() (and, should the run be killed, by
// the next run: see transport/private-dir.ts).
//
//   SSH (ssh://…, user@host:path): the deploy key goes to a 0600 file, used through
//     GIT_SSH_COMMAND with strict host key checking against a temp known_hosts built from
//     POOL_REPO_SSH_KNOWN_HOSTS, the user's ~/.ssh/known_hosts and the bundled keys of github.com,
//     gitlab.com and bitbucket.org. BatchMode: ssh never prompts.
//   HTTPS: the user name and password reach git through GIT_ASKPASS: a script that prints them
//     from variables set only in git's environment. The URL handed to git carries no
//     credentials, the script holds no secret, no secret is ever in a process's arguments, and no
//     credential helper sees them.
//   file:// and local paths: nothing special.
//
// git's environment is an allowlist (gitBaseEnv): nothing of pool-boy's own credentials (the
// Concourse password or token, POOL_REPO_*) reaches a git process, except the repository
// password through the askpass variable.

import { writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { PoolBoyError } from "../../core/errors.js";
import type { RepoAuth } from "../../decide/config.js";
import { parseRepoUrl } from "../../decide/repo-url.js";
import { BUNDLED_KNOWN_HOSTS } from "./transport/known-hosts.js";
import { explainGitFailure } from "./transport/explain.js";
import { makePrivateDir } from "./transport/private-dir.js";
import { parsePrivateKey } from "./transport/ssh-key.js";

export { explainGitFailure, type GitFailureExplanation, type GitFailureCause } from "./transport/explain.js";
export { parseRepoUrl, type RepoLocation } from "../../decide/repo-url.js";
export { parsePrivateKey } from "./transport/ssh-key.js";
export { BUNDLED_KNOWN_HOSTS } from "./transport/known-hosts.js";
export { removeAbandonedDirs } from "./transport/private-dir.js";
export { REPO_ENV as TRANSPORT_ENV, DEFAULT_TOKEN_USERNAME } from "../../decide/config.js";

/** Set only in git's environment, read by the askpass script. */
export const ASKPASS_USERNAME_VAR = "POOL_BOY_GIT_USERNAME";
export const ASKPASS_PASSWORD_VAR = "POOL_BOY_GIT_PASSWORD";

export interface TransportInput {
  /** the repository URL, credentials removed (Config.repo) */
  url: string;
  /** the credentials (Config.repoAuth) */
  auth: RepoAuth;
  /** the environment pool-boy runs with (usually process.env): only the allowlist passes to git */
  env: Record<string, string | undefined>;
  /** where the private temp dir goes (default: the OS temp dir) */
  tmpRoot?: string;
}

export interface Transport {
  /**
   * The whole environment for every git process: the allowlist of the input environment, plus
   * what this transport needs. Pass it as the child's env as it is; do not merge it over
   * process.env (that would bring the secret variables back).
   */
  env: Record<string, string>;
  /** the URL to hand to git: no credentials in it */
  url: string;
  /** which transport the URL asked for */
  kind: "ssh" | "https" | "local" | "other";
  /** remove the private temp dir (key, known_hosts, askpass script); safe to call twice */
  cleanup(): Promise<void>;
}

/** Variables git (and ssh, curl, a credential helper the user configured) may need, by name. */
const ALLOWED = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "TMPDIR",
  "TZ",
  "LANG",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "all_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
  "GIT_SSL_CAINFO",
  "GIT_SSL_CAPATH",
  "GIT_SSL_NO_VERIFY",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "CURL_CA_BUNDLE",
  // which configuration files git reads (paths, never secrets)
  "XDG_CONFIG_HOME",
  "GIT_CONFIG_GLOBAL",
  "GIT_CONFIG_SYSTEM",
  "GIT_CONFIG_NOSYSTEM",
]);

/**
 * The allowlist of `env` that git runs with. SSH_AUTH_SOCK passes only when no deploy key is
 * given (ssh then uses the user's agent, as from a laptop).
 */
export function gitBaseEnv(env: Record<string, string | undefined>, auth: RepoAuth): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (ALLOWED.has(name) || name.startsWith("LC_")) out[name] = value;
  }
  if (auth.kind === "ssh" && auth.privateKey === null && env.SSH_AUTH_SOCK) out.SSH_AUTH_SOCK = env.SSH_AUTH_SOCK;
  // Never wait for someone to type at a terminal: a scheduled task has none.
  out.GIT_TERMINAL_PROMPT = "0";
  return out;
}

/** Quote one word for the POSIX shell git runs GIT_SSH_COMMAND with. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./=:@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A file name as the value of an ssh -o option: `%` escaped (ssh expands %-tokens in file options),
 * double-quoted when needed (ssh splits option values on spaces).
 */
function sshOptionPath(path: string): string {
  const escaped = path.replace(/%/g, "%%").replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  return /[\s"'\\]/.test(path) ? `"${escaped}"` : escaped;
}

/** Append one config entry through GIT_CONFIG_COUNT/KEY/VALUE (git ≥ 2.31), keeping any already there. */
function addGitConfig(env: Record<string, string>, key: string, value: string): void {
  const count = Number.parseInt(env.GIT_CONFIG_COUNT ?? "0", 10);
  const index = Number.isFinite(count) && count > 0 ? count : 0;
  env[`GIT_CONFIG_KEY_${index}`] = key;
  env[`GIT_CONFIG_VALUE_${index}`] = value;
  env.GIT_CONFIG_COUNT = String(index + 1);
}

const ASKPASS_SCRIPT = `#!/bin/sh
# pool-boy: answers git's credential prompts from git's environment. It holds no secret itself.
case "$1" in
  [Uu]sername*) printf '%s\\n' "\${${ASKPASS_USERNAME_VAR}-}" ;;
  *) printf '%s\\n' "\${${ASKPASS_PASSWORD_VAR}-}" ;;
esac
`;

/** Prepare the environment and URL git needs to reach `input.url`. Call cleanup() when done. */
export async function prepareTransport(input: TransportInput): Promise<Transport> {
  const location = parseRepoUrl(input.url.trim());
  const env = gitBaseEnv(input.env, input.auth);
  if (input.auth.kind === "ssh" && location.kind === "ssh") return prepareSsh(location.url, input.auth, input.tmpRoot, env);
  if (input.auth.kind === "https") return prepareHttp(location.url, input.auth, input.tmpRoot, env);
  const kind = location.kind === "http" ? "https" : location.kind;
  return { env, url: input.url.trim(), kind, cleanup: async () => {} };
}

async function prepareSsh(url: string, auth: Extract<RepoAuth, { kind: "ssh" }>, tmpRoot: string | undefined, env: Record<string, string>): Promise<Transport> {
  const key = auth.privateKey === null ? null : parsePrivateKey(auth.privateKey);
  const dir = makePrivateDir(tmpRoot);
  try {
    const knownHostsFile = join(dir.path, "known_hosts");
    await writeFile(knownHostsFile, knownHostsText(auth), { mode: 0o600, flag: "wx" });

    const command = ["ssh"];
    if (key !== null) {
      const keyFile = join(dir.path, "id_pool_boy");
      await writeFile(keyFile, key.text, { mode: 0o600, flag: "wx" });
      await chmod(keyFile, 0o600);
      // ssh checks an -i path as written but reads it after %-token expansion, so a path with a
      // % in it (from an odd tmpRoot) can only be given as an escaped IdentityFile option.
      if (keyFile.includes("%")) command.push("-o", shellQuote(`IdentityFile=${sshOptionPath(keyFile)}`));
      else command.push("-i", shellQuote(keyFile));
      command.push("-o", "IdentitiesOnly=yes");
    }
    command.push(
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      shellQuote(`UserKnownHostsFile=${sshOptionPath(knownHostsFile)}`),
      "-o",
      "BatchMode=yes",
      "-o",
      "UpdateHostKeys=no",
      "-o",
      "ConnectTimeout=30",
    );
    env.GIT_SSH_COMMAND = command.join(" ");
    // GIT_SSH_COMMAND wins over GIT_SSH and core.sshCommand; name the variant so git passes -p PORT.
    env.GIT_SSH_VARIANT = "ssh";
    return { env, url, kind: "ssh", cleanup: () => dir.remove() };
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

/** POOL_REPO_SSH_KNOWN_HOSTS, then the user's ~/.ssh/known_hosts, then the bundled keys. */
function knownHostsText(auth: Extract<RepoAuth, { kind: "ssh" }>): string {
  const parts: string[] = [];
  if (auth.knownHosts !== null) {
    let text = auth.knownHosts.replace(/\r\n?/g, "\n");
    if (!text.trim().includes("\n") && text.includes("\\n")) text = text.replace(/\\n/g, "\n");
    parts.push("# from POOL_REPO_SSH_KNOWN_HOSTS", text.trim());
  }
  if (auth.userKnownHosts !== null) parts.push("# from ~/.ssh/known_hosts", auth.userKnownHosts.replace(/\r\n?/g, "\n").trim());
  parts.push("# bundled with pool-boy: github.com, gitlab.com, bitbucket.org", ...BUNDLED_KNOWN_HOSTS);
  return `${parts.join("\n")}\n`;
}

async function prepareHttp(url: string, auth: Extract<RepoAuth, { kind: "https" }>, tmpRoot: string | undefined, env: Record<string, string>): Promise<Transport> {
  const dir = makePrivateDir(tmpRoot);
  try {
    const script = join(dir.path, "askpass.sh");
    await writeFile(script, ASKPASS_SCRIPT, { mode: 0o700, flag: "wx" });
    await chmod(script, 0o700);
    env.GIT_ASKPASS = script;
    env[ASKPASS_USERNAME_VAR] = auth.username;
    env[ASKPASS_PASSWORD_VAR] = auth.password;
    // No credential helper may answer instead of the askpass script, nor store what it answered
    // (`store` would write the token to ~/.git-credentials): an empty value clears the list.
    addGitConfig(env, "credential.helper", "");
    return { env, url, kind: "https", cleanup: () => dir.remove() };
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

/** The PoolBoyError for a failed git command that talked to `url`, from git's stderr. */
export function gitFailure(stderr: string, url: string, options?: { cause?: unknown }): PoolBoyError {
  const explained = explainGitFailure(stderr, url);
  return new PoolBoyError("git", explained.message, explained.hint, options);
}
