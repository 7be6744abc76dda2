// How git reaches the lock repository: the environment and URL every git process runs with.
//
//   SSH (ssh://…, user@host:path): the deploy key from POOL_REPO_SSH_PRIVATE_KEY goes to a 0600
//     file in a private 0700 temp dir, used through GIT_SSH_COMMAND with strict host key checking
//     against a temp known_hosts built from POOL_REPO_SSH_KNOWN_HOSTS, the user's
//     ~/.ssh/known_hosts (read, never written) and the bundled keys of github.com, gitlab.com and
//     bitbucket.org. BatchMode: ssh never prompts.
//   HTTPS: POOL_REPO_USERNAME / POOL_REPO_PASSWORD, or credentials inside the URL, reach git
//     through GIT_ASKPASS: a script in the private dir that prints them from variables set only
//     in git's environment. The URL handed to git carries no credentials, the script holds no
//     secret, no secret is ever in a process's arguments, and no credential helper sees them.
//   file:// and local paths: nothing special.
//
// Every secret is registered with redact(). cleanup() removes the private dir.

import { readFile, writeFile, chmod } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { PoolBoyError } from "../../core/errors.js";
import { registerSecret } from "../../core/redact.js";
import { BUNDLED_KNOWN_HOSTS } from "./transport/known-hosts.js";
import { explainGitFailure, type GitFailureExplanation } from "./transport/explain.js";
import { makePrivateDir } from "./transport/private-dir.js";
import { parsePrivateKey, PRIVATE_KEY_VAR } from "./transport/ssh-key.js";
import { parseRepoUrl, type RepoLocation } from "./transport/url.js";

export { explainGitFailure, type GitFailureExplanation, type GitFailureCause } from "./transport/explain.js";
export { parseRepoUrl, type RepoLocation } from "./transport/url.js";
export { parsePrivateKey } from "./transport/ssh-key.js";
export { BUNDLED_KNOWN_HOSTS } from "./transport/known-hosts.js";

/** The environment variables the transport reads. */
export const TRANSPORT_ENV = {
  sshPrivateKey: PRIVATE_KEY_VAR,
  sshKnownHosts: "POOL_REPO_SSH_KNOWN_HOSTS",
  username: "POOL_REPO_USERNAME",
  password: "POOL_REPO_PASSWORD",
} as const;

/** Set only in git's environment, read by the askpass script. */
export const ASKPASS_USERNAME_VAR = "POOL_BOY_GIT_USERNAME";
export const ASKPASS_PASSWORD_VAR = "POOL_BOY_GIT_PASSWORD";

/** Used when a password/token is given without a user name; GitHub and GitLab accept any name with a token. */
export const DEFAULT_TOKEN_USERNAME = "x-access-token";

export interface TransportInput {
  /** the repository URL as configured (may carry credentials) */
  url: string;
  /** the environment pool-boy runs with (usually process.env) */
  env: Record<string, string | undefined>;
  /** where the private temp dir goes (default: the OS temp dir) */
  tmpRoot?: string;
}

export interface Transport {
  /**
   * The whole environment for every git process: the input environment without pool-boy's secret
   * variables, plus what this transport needs. Pass it as the child's env as it is; do not merge
   * it over process.env (that would bring the secret variables back).
   */
  env: Record<string, string>;
  /** the URL to hand to git: no credentials in it */
  url: string;
  /** which transport the URL asked for */
  kind: "ssh" | "https" | "local" | "other";
  /** things worth telling the user (settings that were ignored, credentials over plain http) */
  warnings: string[];
  /** remove the private temp dir (key, known_hosts, askpass script); safe to call twice */
  cleanup(): Promise<void>;
}

/** pool-boy's own variables that hold secrets: never passed on to git. */
const SECRET_VAR = /^POOL_.*(PASSWORD|TOKEN|SECRET|PRIVATE_KEY|CREDENTIAL)/i;

function baseEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (SECRET_VAR.test(name)) continue;
    if (name === ASKPASS_USERNAME_VAR || name === ASKPASS_PASSWORD_VAR) continue;
    out[name] = value;
  }
  // Never wait for someone to type at a terminal: a scheduled task has none.
  out.GIT_TERMINAL_PROMPT = "0";
  return out;
}

function nonEmpty(value: string | undefined): string | null {
  return value === undefined || value.trim() === "" ? null : value;
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
  const env = baseEnv(input.env);
  switch (location.kind) {
    case "ssh":
      return prepareSsh(location, input, env);
    case "http":
      return prepareHttp(location, input, env);
    case "local":
      return { env, url: location.url, kind: "local", warnings: [], cleanup: async () => {} };
    case "other":
      return { env, url: location.url, kind: "other", warnings: [], cleanup: async () => {} };
  }
}

async function prepareSsh(
  location: Extract<RepoLocation, { kind: "ssh" }>,
  input: TransportInput,
  env: Record<string, string>,
): Promise<Transport> {
  const warnings: string[] = [];
  if (location.password !== null) {
    registerSecret(location.password);
    warnings.push("the repository URL holds a password, which ssh does not use: it was removed; use POOL_REPO_SSH_PRIVATE_KEY");
  }
  if (nonEmpty(input.env[TRANSPORT_ENV.password]) !== null) {
    registerSecret(input.env[TRANSPORT_ENV.password]);
    warnings.push(`${TRANSPORT_ENV.password} is ignored for an ssh repository URL`);
  }

  const rawKey = nonEmpty(input.env[TRANSPORT_ENV.sshPrivateKey]);
  // Register before parsing, so that even an error about a malformed key cannot show it.
  if (rawKey !== null) registerSecret(rawKey);
  const key = rawKey === null ? null : parsePrivateKey(rawKey);
  if (key !== null) registerSecret(key.text);

  const dir = makePrivateDir(input.tmpRoot);
  try {
    const knownHostsFile = join(dir.path, "known_hosts");
    await writeFile(knownHostsFile, await knownHostsText(input.env), { mode: 0o600, flag: "wx" });

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
    delete env.GIT_SSH;
    return { env, url: location.url, kind: "ssh", warnings, cleanup: () => dir.remove() };
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

/** POOL_REPO_SSH_KNOWN_HOSTS, then the user's ~/.ssh/known_hosts if readable, then the bundled keys. */
async function knownHostsText(env: Record<string, string | undefined>): Promise<string> {
  const parts: string[] = [];
  const given = nonEmpty(env[TRANSPORT_ENV.sshKnownHosts]);
  if (given !== null) {
    let text = given.replace(/\r\n?/g, "\n");
    if (!text.trim().includes("\n") && text.includes("\\n")) text = text.replace(/\\n/g, "\n");
    parts.push(`# from ${TRANSPORT_ENV.sshKnownHosts}`, text.trim());
  }
  const home = nonEmpty(env.HOME) ?? homedir();
  try {
    const own = await readFile(join(home, ".ssh", "known_hosts"), "utf8");
    parts.push("# from ~/.ssh/known_hosts", own.replace(/\r\n?/g, "\n").trim());
  } catch {
    // none, or not readable: fine
  }
  parts.push("# bundled with pool-boy: github.com, gitlab.com, bitbucket.org", ...BUNDLED_KNOWN_HOSTS);
  return `${parts.join("\n")}\n`;
}

async function prepareHttp(
  location: Extract<RepoLocation, { kind: "http" }>,
  input: TransportInput,
  env: Record<string, string>,
): Promise<Transport> {
  const warnings: string[] = [];
  const envUser = nonEmpty(input.env[TRANSPORT_ENV.username]);
  const envPassword = nonEmpty(input.env[TRANSPORT_ENV.password]);
  if (location.password !== null) {
    registerSecret(location.password);
    registerSecret(location.rawPassword);
  }
  if (envPassword !== null) registerSecret(envPassword);
  if (nonEmpty(input.env[TRANSPORT_ENV.sshPrivateKey]) !== null) {
    registerSecret(input.env[TRANSPORT_ENV.sshPrivateKey]);
    warnings.push(`${TRANSPORT_ENV.sshPrivateKey} is ignored for an ${location.scheme} repository URL`);
  }

  // https://TOKEN@host is how GitHub and GitLab tokens are often put in a URL: a user name with no
  // password. Left in the URL it would reach git-remote-https's arguments, so, unless a password
  // comes from the environment for that user, it is handed over by askpass like a password.
  const tokenAsUser = location.password === null && envPassword === null && envUser === null && location.username !== null;
  if (tokenAsUser && location.username !== null) registerSecret(location.username);
  const password = envPassword ?? location.password ?? (tokenAsUser ? "" : null);
  if (envPassword !== null && location.password !== null) {
    warnings.push(`the repository URL holds credentials and so does ${TRANSPORT_ENV.password}: ${TRANSPORT_ENV.password} is used`);
  }
  if (password === null) {
    // Nothing secret to hand over: leave the URL (and any user name in it) as it is, and let the
    // user's own credential helpers, if any, answer.
    return { env, url: input.url.trim(), kind: "https", warnings, cleanup: async () => {} };
  }
  const username = envUser ?? location.username ?? DEFAULT_TOKEN_USERNAME;
  if (location.scheme === "http") {
    warnings.push(`the repository URL is plain http: the credentials travel unencrypted; use https`);
  }

  const dir = makePrivateDir(input.tmpRoot);
  try {
    const script = join(dir.path, "askpass.sh");
    await writeFile(script, ASKPASS_SCRIPT, { mode: 0o700, flag: "wx" });
    await chmod(script, 0o700);
    env.GIT_ASKPASS = script;
    env[ASKPASS_USERNAME_VAR] = username;
    env[ASKPASS_PASSWORD_VAR] = password;
    // No credential helper may answer instead of the askpass script, nor store what it answered
    // (`store` would write the token to ~/.git-credentials): an empty value clears the list.
    addGitConfig(env, "credential.helper", "");
    return { env, url: location.url, kind: "https", warnings, cleanup: () => dir.remove() };
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
