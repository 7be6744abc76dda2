// flags + environment + flyrc + the text of named files → Config, or every problem at once.
// Pure: the CLI reads the files and passes their text. Precedence: flag, env, flyrc, default.

import type { PoolPolicy } from "../core/model.js";
import { API_TIMEOUT_BOUNDS, POOL_TIMEOUT_BOUNDS, formatTimeout, parseDuration } from "../core/durations.js";
import type { Secret } from "../core/redact.js";
import { parseConfigFile, type ConfigLayer } from "./config-file.js";
import { parseRepoUrl } from "./repo-url.js";

export type Command = "status" | "clean";

/** Raw option values as commander parsed them (undefined when not given). */
export interface Flags {
  repo?: string;
  branch?: string;
  pools?: string;
  team?: string;
  concourseUrl?: string;
  username?: string;
  passwordFile?: string;
  tokenFile?: string;
  target?: string;
  caCert?: string;
  insecure?: boolean;
  concurrency?: string;
  apiTimeout?: string;
  retries?: string;
  cacheDir?: string;
  maxAttempts?: string;
  json?: boolean;
  verbose?: boolean;
  debug?: boolean;
  color?: boolean;
  pushgateway?: string;
  metricsFile?: string;
  /** --only, repeatable */
  only?: string[];
  exitCode?: boolean;
  config?: string;
  /** hidden options that exist only to be refused (by the CLI, before anything else): a secret on the command line */
  password?: string;
  token?: string;
}

/** What fly's ~/.flyrc says about one target (read by io/atc/flyrc.ts). */
export interface FlyTarget {
  /** the target's name, as in `fly -t NAME` */
  name: string;
  api: string;
  /** "main" when the file leaves it empty, as fly does */
  team: string;
  /** null when the target never logged in or logged out */
  token: string | null;
  insecure: boolean;
  /** the PEM text itself (fly stores the certificate, not a path) */
  caCert: string | null;
  /** the .flyrc file the target was read from, for messages */
  file?: string;
}

export type AtcAuthConfig =
  | { kind: "none" }
  | { kind: "password"; username: string; password: string }
  | { kind: "token"; token: string; source: string; flyTarget?: string };

/**
 * How git proves who it is to the pool repository. Resolved here from the URL and the environment;
 * the transport only writes the files git needs (the key, known_hosts, an askpass script).
 */
export type RepoAuth =
  | { kind: "none" }
  | {
      kind: "ssh";
      /** POOL_REPO_SSH_PRIVATE_KEY as given (the transport checks and normalises it); null: ssh's own keys or agent */
      privateKey: string | null;
      /** POOL_REPO_SSH_KNOWN_HOSTS as given */
      knownHosts: string | null;
      /** the user's ~/.ssh/known_hosts, read (never written) by the CLI */
      userKnownHosts: string | null;
    }
  | { kind: "https"; username: string; password: string };

/** The environment variables of the repository's credentials. */
export const REPO_ENV = {
  sshPrivateKey: "POOL_REPO_SSH_PRIVATE_KEY",
  sshKnownHosts: "POOL_REPO_SSH_KNOWN_HOSTS",
  username: "POOL_REPO_USERNAME",
  password: "POOL_REPO_PASSWORD",
} as const;

/** Used when a password/token is given without a user name; GitHub and GitLab accept any name with a token. */
export const DEFAULT_TOKEN_USERNAME = "x-access-token";

export interface AtcConfig {
  url: string;
  auth: AtcAuthConfig;
  insecure: boolean;
  caCert: string | null;
  concurrency: number;
  timeoutMs: number;
  retries: number;
  /** where the URL came from, as the user gave it, for messages */
  urlSource: string;
}

export interface PoolSelection {
  /** pools named explicitly, with their timeouts */
  named: PoolPolicy[];
  /** the `*` entry: every pool in the repo (undefined: no wildcard; null: never) */
  wildcard: number | null | undefined;
  /** true when no --pools was given: every pool, no timeout (only the API judges) */
  unset?: boolean;
}

/** One --only entry: a pool, or one lock of it. */
export interface OnlyEntry {
  pool: string;
  /** null: every lock of the pool */
  lock: string | null;
}

export interface Config {
  command: Command;
  /** the repository URL or path, credentials removed (they are in repoAuth) */
  repo: string;
  repoAuth: RepoAuth;
  /** settings that were ignored, credentials over plain http */
  repoWarnings: string[];
  /** every credential resolved (used or not), for the one redactor of the run (makeRedactor) */
  secrets: Secret[];
  branch: string | null;
  pools: PoolSelection;
  team: string;
  atc: AtcConfig | null;
  cacheDir: string | null;
  maxAttempts: number;
  json: boolean;
  verbose: boolean;
  debug: boolean;
  color: boolean;
  pushgateway: string | null;
  metricsFile: string | null;
  /** --only: empty for every lock of the selected pools */
  only: OnlyEntry[];
  /** status --exit-code: exit 6 when something would be released */
  exitCode: boolean;
  /** the width the table fits: COLUMNS, else the terminal's, else 80 */
  columns: number;
  /** OSC 8 hyperlinks in the table: as colour, a terminal that is not dumb, no --no-color or NO_COLOR */
  hyperlinks: boolean;
  /** the fly target used, if any (for the report's header) */
  target: string | null;
  /** the --config file's settings (POOL_BOY_CONFIG), or null */
  configFile: ConfigLayer | null;
}

export interface ResolveInput {
  command: Command;
  flags: Flags;
  env: Record<string, string | undefined>;
  /** the target named by --target / POOL_BOY_TARGET, already read from ~/.flyrc; a string is why it could not be */
  flyTarget: FlyTarget | string | null;
  /** text of files named by --password-file, --token-file, --ca-cert (and their variables); null: unreadable */
  files: Record<string, string | null>;
  /** whether the terminal wants colour (stdout is a TTY) */
  isTTY: boolean;
  /** stdout's width when it is a terminal */
  terminalColumns?: number | undefined;
  /** the text of the user's ~/.ssh/known_hosts, or null */
  sshKnownHosts?: string | null;
}

/** Either way, the secrets found: an error message is masked too. */
export type ResolveResult = { ok: true; config: Config } | { ok: false; problems: string[]; secrets: Secret[] };

/** The environment variable behind each option, for --help, errors and the docs. */
export const ENV = {
  repo: "POOL_REPO",
  branch: "POOL_REPO_BRANCH",
  pools: "POOLS",
  team: "POOL_BOY_TEAM",
  concourseUrl: "CONCOURSE_BASE_URL",
  username: "CONCOURSE_USERNAME",
  password: "CONCOURSE_PASSWORD",
  passwordFile: "CONCOURSE_PASSWORD_FILE",
  token: "CONCOURSE_TOKEN",
  tokenFile: "CONCOURSE_TOKEN_FILE",
  target: "POOL_BOY_TARGET",
  caCert: "POOL_BOY_CA_CERT",
  insecure: "POOL_BOY_INSECURE",
  concurrency: "POOL_BOY_CONCURRENCY",
  apiTimeout: "POOL_BOY_API_TIMEOUT",
  retries: "POOL_BOY_API_RETRIES",
  cacheDir: "POOL_BOY_CACHE_DIR",
  maxAttempts: "POOL_BOY_MAX_ATTEMPTS",
  json: "POOL_BOY_JSON",
  verbose: "POOL_BOY_VERBOSE",
  debug: "POOL_BOY_DEBUG",
  pushgateway: "POOL_BOY_PUSHGATEWAY",
  metricsFile: "POOL_BOY_METRICS_FILE",
  only: "POOL_BOY_ONLY",
  exitCode: "POOL_BOY_EXIT_CODE",
  config: "POOL_BOY_CONFIG",
} as const;

/** The table's default width when stdout is not a terminal and COLUMNS is not set. */
export const DEFAULT_COLUMNS = 80;

const POOL_NAME = /^[^/\\\0]+$/;

/** Parse `pool:timeout,pool:timeout,*:timeout`. */
export function parsePools(spec: string, source: string): { selection: PoolSelection; problems: string[] } {
  const problems: string[] = [];
  const named: PoolPolicy[] = [];
  let wildcard: number | null | undefined;
  const entries = spec.split(",").map((e) => e.trim()).filter((e) => e.length > 0);
  if (entries.length === 0) problems.push(`${source}: no pool given (use e.g. "workers:2h,testers:90m" or "*:2h")`);
  for (const entry of entries) {
    const colon = entry.lastIndexOf(":");
    if (colon < 0) {
      problems.push(`${source}: "${entry}" has no timeout (write POOL:TIMEOUT, e.g. "${entry}:2h", or "${entry}:never")`);
      continue;
    }
    const pool = entry.slice(0, colon).trim();
    const timeoutText = entry.slice(colon + 1).trim();
    if (pool.length === 0) {
      const example = timeoutText.length > 0 ? timeoutText : "2h";
      problems.push(`${source}: "${entry}" names no pool before the ":" (write POOL:TIMEOUT, e.g. "workers:${example}", or "*:${example}" for every pool)`);
      continue;
    }
    if (timeoutText.length === 0) {
      problems.push(`${source}: "${entry}" has no timeout after the ":" (e.g. "${pool}:2h", or "${pool}:never")`);
      continue;
    }
    const parsed = parseDuration(timeoutText);
    if (parsed === undefined) {
      problems.push(`${source}: "${entry}": "${timeoutText}" is not a duration (use minutes like 90, or 90m, 2h, 1d, never)`);
      continue;
    }
    const bound = poolTimeoutProblem(parsed, timeoutText, pool);
    if (bound) {
      problems.push(`${source}: "${entry}": ${bound}`);
      continue;
    }
    const timeout = parsed === null ? null : Math.round(parsed);
    if (pool === "*") {
      if (wildcard !== undefined) problems.push(`${source}: "*" is given twice (keep one "*" entry)`);
      wildcard = timeout;
      continue;
    }
    if (!POOL_NAME.test(pool) || pool === "." || pool === ".." || pool.startsWith(".")) {
      problems.push(`${source}: "${pool}" is not a pool name (a pool is a top-level folder of the repo: no "/", no leading ".")`);
      continue;
    }
    if (named.some((p) => p.pool === pool)) {
      problems.push(`${source}: pool "${pool}" is given twice (keep one "${pool}:…" entry)`);
      continue;
    }
    named.push({ pool, timeoutSeconds: timeout });
  }
  return { selection: { named, wildcard }, problems };
}

/** Why a pool timeout is outside the sensible bounds, or null when it is inside (or never). */
function poolTimeoutProblem(seconds: number | null, text: string, pool: string): string | null {
  if (seconds === null) return null;
  const { min, max } = POOL_TIMEOUT_BOUNDS;
  if (seconds < min)
    return `"${text}" is shorter than the shortest timeout, ${formatTimeout(min)} (a lock nobody vouches for would be taken at once); give ${formatTimeout(min)} or more, or "${pool}:never" to never release by age`;
  if (seconds > max)
    return `"${text}" is longer than the longest timeout, ${formatTimeout(max)}; give ${formatTimeout(max)} or less, or "${pool}:never" to never release by age`;
  return null;
}

function parseBool(value: string, name: string, problems: string[]): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  problems.push(`${name}: "${value}" is not true or false (use true or false, 1 or 0)`);
  return undefined;
}

/** clean's judge-and-push rounds when others push meanwhile. */
export const DEFAULT_MAX_ATTEMPTS = 20;

/** The bounds of each count option: outside them a run is useless or floods the API. */
export const COUNT_BOUNDS = {
  concurrency: { min: 1, max: 256, fallback: 16 },
  retries: { min: 0, max: 10, fallback: 3 },
  maxAttempts: { min: 1, max: 50, fallback: DEFAULT_MAX_ATTEMPTS },
} as const;

function parseCount(value: string, name: string, bounds: { min: number; max: number }, problems: string[]): number | undefined {
  const { min, max } = bounds;
  if (!/^\d+$/.test(value.trim())) {
    problems.push(`${name}: "${value}" is not a whole number (give one from ${min} to ${max})`);
    return undefined;
  }
  const n = Number(value.trim());
  if (n < min || n > max) {
    problems.push(`${name}: "${value.trim()}" is out of range (give a whole number from ${min} to ${max})`);
    return undefined;
  }
  return n;
}

/** --api-timeout: a unit is required; a bare number would be minutes in --pools and seconds here. */
function parseApiTimeout(value: string, name: string, problems: string[]): number | undefined {
  const text = value.trim().toLowerCase();
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    problems.push(`${name}: "${value}" has no unit (write e.g. "${text}s"; --pools reads bare numbers as minutes, so a unit is required here)`);
    return undefined;
  }
  const seconds = parseDuration(text);
  const { min, max } = API_TIMEOUT_BOUNDS;
  const fix = `give ${formatTimeout(min)} to ${formatTimeout(max)}, e.g. 10s or 2m`;
  if (seconds === undefined) problems.push(`${name}: "${value}" is not a duration (${fix})`);
  else if (seconds === null) problems.push(`${name}: "${value}": a request must time out (${fix})`);
  else if (seconds < min) problems.push(`${name}: "${value}" is shorter than the shortest request timeout, ${formatTimeout(min)} (${fix})`);
  else if (seconds > max) problems.push(`${name}: "${value}" is longer than the longest request timeout, ${formatTimeout(max)} (${fix})`);
  else return Math.round(seconds * 1000);
  return undefined;
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0;
  } catch {
    return false;
  }
}

function sameApi(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().replace(/\/+$/, "").toLowerCase();
  return norm(a) === norm(b);
}

const nonEmpty = (value: string | undefined): string | null => (value === undefined || value.trim() === "" ? null : value);

/**
 * The repository's URL and credentials: from the URL (only when it comes from the environment:
 * a flag's value shows in process lists) and POOL_REPO_USERNAME/PASSWORD, POOL_REPO_SSH_*.
 */
export function resolveRepo(
  repo: string,
  source: string,
  env: Record<string, string | undefined>,
  userKnownHosts: string | null,
): { url: string; auth: RepoAuth; warnings: string[]; problems: string[]; secrets: Secret[] } {
  const warnings: string[] = [];
  const problems: string[] = [];
  const secrets: Secret[] = [];
  const envUser = nonEmpty(env[REPO_ENV.username]);
  const envPassword = nonEmpty(env[REPO_ENV.password]);
  const key = nonEmpty(env[REPO_ENV.sshPrivateKey]);
  if (envPassword !== null) secrets.push({ value: envPassword, ...(envUser !== null ? { user: envUser } : {}) });
  if (key !== null) secrets.push({ value: key });
  const location = parseRepoUrl(repo.trim());
  const refuse = () =>
    problems.push(
      `${source}: credentials inside the repository URL are not accepted on the command line (they show in process lists and shell history); ` +
        `give the URL in ${ENV.repo} in the environment, or the credentials in ${REPO_ENV.username}/${REPO_ENV.password}`,
    );
  const fromFlag = source.startsWith("--");

  if (location.kind === "ssh") {
    if (location.password !== null) {
      secrets.push({ value: location.password });
      if (fromFlag) refuse();
      else warnings.push(`the repository URL holds a password, which ssh does not use: it was removed; use ${REPO_ENV.sshPrivateKey}`);
    }
    if (envPassword !== null) warnings.push(`${REPO_ENV.password} is ignored for an ssh repository URL`);
    return { url: location.url, auth: { kind: "ssh", privateKey: key, knownHosts: nonEmpty(env[REPO_ENV.sshKnownHosts]), userKnownHosts }, warnings, problems, secrets };
  }
  if (location.kind !== "http") return { url: location.url, auth: { kind: "none" }, warnings, problems, secrets };

  if (location.password !== null) {
    secrets.push({ value: location.password, ...(location.username !== null ? { user: location.username } : {}) });
    if (location.rawPassword !== null) secrets.push({ value: location.rawPassword });
  }
  if (key !== null) warnings.push(`${REPO_ENV.sshPrivateKey} is ignored for an ${location.scheme} repository URL`);
  // https://TOKEN@host is how GitHub and GitLab tokens are often put in a URL: a user name with no
  // password. Unless a password comes from the environment for that user, it is handed over by
  // askpass like a password (left in the URL it would reach git-remote-https's arguments).
  const tokenAsUser = location.password === null && envPassword === null && envUser === null && location.username !== null;
  if (tokenAsUser && location.username !== null) secrets.push({ value: location.username });
  if (fromFlag && (location.password !== null || tokenAsUser)) refuse();
  const password = envPassword ?? location.password ?? (tokenAsUser ? "" : null);
  if (envPassword !== null && location.password !== null) {
    warnings.push(`the repository URL holds credentials and so does ${REPO_ENV.password}: ${REPO_ENV.password} is used`);
  }
  // Nothing secret to hand over: the URL (and any user name in it) stays as it is, and the user's
  // own credential helpers, if any, answer.
  if (password === null) return { url: repo.trim(), auth: { kind: "none" }, warnings, problems, secrets };
  if (location.scheme === "http") warnings.push(`the repository URL is plain http: the credentials travel unencrypted; use https`);
  const username = envUser ?? location.username ?? DEFAULT_TOKEN_USERNAME;
  return { url: location.url, auth: { kind: "https", username, password }, warnings, problems, secrets };
}

/** The password inside an http(s) URL, as a secret (decoded and as written). */
function urlSecrets(text: string | undefined): Secret[] {
  if (!text) return [];
  try {
    const u = new URL(text);
    if (!u.password) return u.username ? [{ value: decodeURIComponentSafe(u.username) }] : [];
    const user = decodeURIComponentSafe(u.username);
    return [{ value: decodeURIComponentSafe(u.password), user }, { value: u.password }];
  } catch {
    return [];
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function resolveConfig(input: ResolveInput): ResolveResult {
  const { flags, env } = input;
  const problems: string[] = [];
  const pick = (flag: string | undefined, envName: string, flagName: string): [string | undefined, string] => {
    if (flag !== undefined) return [flag, flagName];
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== "") return [fromEnv, envName];
    return [undefined, flagName];
  };
  const pickBool = (flag: boolean | undefined, envName: string): boolean => {
    if (flag !== undefined) return flag;
    const v = env[envName];
    return v === undefined ? false : (parseBool(v, envName, problems) ?? false);
  };

  const secrets: Secret[] = [];

  const [repoGiven, repoSource] = pick(flags.repo, ENV.repo, "--repo");
  if (!repoGiven) problems.push(`--repo (or ${ENV.repo}) is required: the pool repository's git URL or local path`);
  let repo: string | undefined;
  let repoAuth: RepoAuth = { kind: "none" };
  let repoWarnings: string[] = [];
  if (repoGiven) {
    const resolved = resolveRepo(repoGiven, repoSource, env, input.sshKnownHosts ?? null);
    secrets.push(...resolved.secrets);
    problems.push(...resolved.problems);
    repo = resolved.url;
    repoAuth = resolved.auth;
    repoWarnings = resolved.warnings;
  } else {
    // not used, but masked all the same
    for (const name of [REPO_ENV.password, REPO_ENV.sshPrivateKey]) if (nonEmpty(env[name]) !== null) secrets.push({ value: env[name]! });
  }

  const [branch] = pick(flags.branch, ENV.branch, "--branch");

  const [configPath, configSource] = pick(flags.config, ENV.config, "--config");
  let configFile: ConfigLayer | null = null;
  if (configPath !== undefined) {
    const text = input.files[configPath];
    if (text === undefined || text === null) problems.push(`${configSource}: cannot read "${configPath}" (check the path and its permissions)`);
    else {
      const parsed = parseConfigFile(text, configPath);
      if (parsed.ok) configFile = { ...parsed.layer, source: `--config ${configPath}` };
      else problems.push(...parsed.problems);
    }
  }

  const [poolSpec, poolSource] = pick(flags.pools, ENV.pools, "--pools");
  let pools: PoolSelection = { named: [], wildcard: undefined };
  // Without --pools, the pools come from --config or the repository's .pool-boy/config.yaml
  // (checked once the repository is read); the commands on one lock need none.
  if (poolSpec === "") {
    problems.push(`${poolSource} is empty: give pools, e.g. "workers:2h,testers:90m", or "*:2h" for every pool`);
  } else if (poolSpec !== undefined) {
    const parsed = parsePools(poolSpec, poolSource);
    pools = parsed.selection;
    problems.push(...parsed.problems);
  }

  // --- Concourse API ---
  const [targetName, targetSource] = pick(flags.target, ENV.target, "--target");
  // How the messages name the target: the way the user gave it.
  const targetLabel = targetSource === "--target" ? `--target ${targetName}` : `${ENV.target}=${targetName}`;
  let target: FlyTarget | null = null;
  if (targetName) {
    if (typeof input.flyTarget === "string") problems.push(`${targetLabel}: ${input.flyTarget}`);
    else if (input.flyTarget === null) problems.push(`${targetLabel}: no such target in ~/.flyrc (log in first: fly -t ${targetName} login -c URL)`);
    else if (!isHttpUrl(input.flyTarget.api.trim()))
      problems.push(
        `${targetLabel}: the target's api "${input.flyTarget.api.replace(/\/\/[^@/]*@/, "//***@")}" in ${input.flyTarget.file ?? "~/.flyrc"} is not an http(s) URL ` +
          `(log in again: fly -t ${targetName} login -c https://ci.example.com, or fix the api line of that file)`,
      );
    else target = input.flyTarget;
  }

  const [urlText, urlSource] = pick(flags.concourseUrl, ENV.concourseUrl, "--concourse-url");
  secrets.push(...urlSecrets(urlText));
  let apiUrl: string | null = null;
  if (urlText !== undefined) {
    if (!isHttpUrl(urlText)) problems.push(`${urlSource}: "${urlText.replace(/\/\/[^@/]*@/, "//***@")}" is not an http(s) URL (e.g. https://ci.example.com)`);
    else if (new URL(urlText).username || new URL(urlText).password)
      problems.push(`${urlSource}: credentials inside the URL are not accepted; use ${ENV.username}/${ENV.password} or ${ENV.token}`);
    else apiUrl = urlText.replace(/\/+$/, "");
  }
  if (target) {
    if (apiUrl && !sameApi(apiUrl, target.api))
      problems.push(`${urlSource} (${apiUrl}) and ${targetLabel} (${target.api}) name different Concourses; give one of them`);
    apiUrl = apiUrl ?? target.api.replace(/\/+$/, "");
  }

  const [username, usernameSource] = pick(flags.username, ENV.username, "--username");
  const [passwordFile, passwordFileSource] = pick(flags.passwordFile, ENV.passwordFile, "--password-file");
  const [tokenFile, tokenFileSource] = pick(flags.tokenFile, ENV.tokenFile, "--token-file");
  const readSecretFile = (path: string, source: string): string | undefined => {
    const text = input.files[path];
    if (text === undefined || text === null) {
      problems.push(`${source}: cannot read "${path}" (check the path and its permissions)`);
      return undefined;
    }
    const trimmed = text.replace(/\r?\n$/, "");
    if (trimmed.length === 0) problems.push(`${source}: "${path}" is empty (it must hold the secret itself, on its first line)`);
    return trimmed;
  };
  const secretFrom = (value: string | undefined, user?: string) => {
    if (value) secrets.push({ value, ...(user ? { user } : {}) });
  };
  let password = env[ENV.password] || undefined;
  secretFrom(password, username);
  if (passwordFile) password = readSecretFile(passwordFile, passwordFileSource) ?? password;
  secretFrom(password, username);
  let token = env[ENV.token] || undefined;
  secretFrom(token);
  let tokenSource = ENV.token as string;
  if (tokenFile) {
    token = readSecretFile(tokenFile, tokenFileSource) ?? token;
    secretFrom(token);
    tokenSource = `${tokenFileSource} ${tokenFile}`;
  }

  secretFrom(target?.token ?? undefined);
  let auth: AtcAuthConfig = { kind: "none" };
  const passwordLabel = passwordFile ? `${passwordFileSource} ${passwordFile}` : ENV.password;
  if (username && !password) problems.push(`${usernameSource} is set but no password: set ${ENV.password} or --password-file (or ${ENV.passwordFile})`);
  if (password && !username) problems.push(`a Concourse password is set (${passwordLabel}) but no user: set --username (or ${ENV.username})`);
  if (username && password && token) problems.push(`both a password (${passwordLabel}) and a token (${tokenSource}) are set: give one of them`);
  if (username && password) auth = { kind: "password", username, password };
  else if (token) auth = { kind: "token", token, source: tokenSource };
  else if (target?.token) auth = { kind: "token", token: target.token, source: `~/.flyrc target ${target.name}`, flyTarget: target.name };
  else if (target) problems.push(`${targetLabel}: the target has no token in ${target.file ?? "~/.flyrc"} (log in first: fly -t ${target.name} login)`);

  if (!apiUrl && (auth.kind !== "none" || username || password || token))
    problems.push(
      `Concourse credentials are set (${[username ? usernameSource : null, password ? passwordLabel : null, token ? tokenSource : null].filter(Boolean).join(", ")}) but no API: set --concourse-url (or ${ENV.concourseUrl}), or use --target`,
    );

  const [caPath, caSource] = pick(flags.caCert, ENV.caCert, "--ca-cert");
  let caCert: string | null = target?.caCert ?? null;
  if (caPath) {
    const text = input.files[caPath];
    if (text === undefined || text === null) problems.push(`${caSource}: cannot read "${caPath}" (check the path and its permissions)`);
    else if (!text.includes("-----BEGIN CERTIFICATE-----")) problems.push(`${caSource}: "${caPath}" holds no PEM certificate (give the CA's certificate, "-----BEGIN CERTIFICATE-----…")`);
    else caCert = text;
  }
  const insecure = pickBool(flags.insecure, ENV.insecure) || (target?.insecure ?? false);

  const counted = (text: string | undefined, source: string, bounds: { min: number; max: number; fallback: number }): number =>
    text === undefined ? bounds.fallback : (parseCount(text, source, bounds, problems) ?? bounds.fallback);
  const [concText, concSource] = pick(flags.concurrency, ENV.concurrency, "--concurrency");
  const concurrency = counted(concText, concSource, COUNT_BOUNDS.concurrency);
  const [retriesText, retriesSource] = pick(flags.retries, ENV.retries, "--retries");
  const retries = counted(retriesText, retriesSource, COUNT_BOUNDS.retries);
  const [timeoutText, timeoutSource] = pick(flags.apiTimeout, ENV.apiTimeout, "--api-timeout");
  const timeoutMs = timeoutText === undefined ? 10_000 : (parseApiTimeout(timeoutText, timeoutSource, problems) ?? 10_000);

  const apiSource = urlText !== undefined ? urlSource : target ? `the api of ${targetLabel} in ${target.file ?? "~/.flyrc"}` : urlSource;
  const atc: AtcConfig | null = apiUrl ? { url: apiUrl, auth, insecure, caCert, concurrency, timeoutMs, retries, urlSource: apiSource } : null;

  const [teamFlag] = pick(flags.team, ENV.team, "--team");
  const team = teamFlag ?? (target?.team || "main");

  const [cacheDir] = pick(flags.cacheDir, ENV.cacheDir, "--cache-dir");
  // A retry round judges only what changed (decide/rejudge.ts), so rounds are short and cheap.
  const [attemptsText, attemptsSource] = pick(flags.maxAttempts, ENV.maxAttempts, "--max-attempts");
  const maxAttempts = counted(attemptsText, attemptsSource, COUNT_BOUNDS.maxAttempts);

  const [pushgateway, pushSource] = pick(flags.pushgateway, ENV.pushgateway, "--pushgateway");
  secrets.push(...urlSecrets(pushgateway));
  // as for --repo: a URL with credentials typed as a flag shows in process lists and shell history
  if (pushgateway !== undefined && pushSource.startsWith("--") && urlSecrets(pushgateway).length > 0)
    problems.push(`${pushSource}: credentials inside the URL are not accepted on the command line (they show in process lists and shell history); give the URL in ${ENV.pushgateway} in the environment`);
  else if (pushgateway !== undefined && !isHttpUrl(pushgateway))
    problems.push(`${pushSource}: "${pushgateway.replace(/\/\/[^@/]*@/, "//***@")}" is not an http(s) URL (e.g. http://pushgateway:9091)`);
  const [metricsFile] = pick(flags.metricsFile, ENV.metricsFile, "--metrics-file");

  const only: OnlyEntry[] = [];
  const onlyTexts = flags.only && flags.only.length > 0 ? flags.only.map((t) => [t, "--only"] as const) : (env[ENV.only] ?? "").split(",").map((t) => [t, ENV.only] as const);
  for (const [raw, source] of onlyTexts) {
    const text = raw.trim();
    if (text === "" && source === ENV.only) continue;
    const parsed = parseOnly(text);
    if (typeof parsed === "string") {
      problems.push(`${source}: "${text}" ${parsed}`);
      continue;
    }
    if (!only.some((o) => o.pool === parsed.pool && o.lock === parsed.lock)) only.push(parsed);
  }
  // status only: clean's exit code says whether it worked (the option is not offered there).
  const exitCode = input.command === "status" && pickBool(flags.exitCode, ENV.exitCode);

  const columnsText = env.COLUMNS;
  const columnsEnv = columnsText !== undefined && /^\d+$/.test(columnsText.trim()) && Number(columnsText) > 0 ? Number(columnsText) : undefined;
  const columns = columnsEnv ?? (input.isTTY && input.terminalColumns && input.terminalColumns > 0 ? input.terminalColumns : DEFAULT_COLUMNS);

  const json = pickBool(flags.json, ENV.json);
  const verbose = pickBool(flags.verbose, ENV.verbose);
  const debug = pickBool(flags.debug, ENV.debug);
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  // commander sets color=true unless --no-color is given, so only `false` is a choice.
  const color = flags.color !== false && input.isTTY && !noColor && env.TERM !== "dumb";
  // Links go where colour goes: a terminal that is not dumb; --no-color and NO_COLOR turn both off.
  const hyperlinks = color;

  if (problems.length > 0 || !repo) return { ok: false, problems, secrets };
  return {
    ok: true,
    config: {
      command: input.command,
      repo,
      repoAuth,
      repoWarnings,
      secrets,      branch: branch ?? null,
      pools,
      team,
      atc,
      cacheDir: cacheDir ?? null,
      maxAttempts,
      json,
      verbose,
      debug,
      color,
      pushgateway: pushgateway ?? null,
      metricsFile: metricsFile ?? null,
      only,
      exitCode,
      columns,
      hyperlinks,
      target: target?.name ?? null,
      configFile,
    },
  };
}

/** `POOL` or `POOL/LOCK`, or why not. */
export function parseOnly(text: string): OnlyEntry | string {
  const slash = text.indexOf("/");
  const pool = slash < 0 ? text : text.slice(0, slash);
  const lock = slash < 0 ? null : text.slice(slash + 1);
  if (pool === "" || !POOL_NAME.test(pool) || pool.startsWith(".")) return `is not POOL or POOL/LOCK (e.g. "aws" or "aws/env-1")`;
  if (lock !== null && (lock === "" || !POOL_NAME.test(lock) || lock === "." || lock === ".."))
    return `is not POOL or POOL/LOCK (e.g. "aws" or "aws/env-1"): the lock is a file name`;
  return { pool, lock };
}

/** Whether --only lets this lock through. */
export function onlyAllows(only: readonly OnlyEntry[], pool: string, lock: string): boolean {
  return only.length === 0 || only.some((o) => o.pool === pool && (o.lock === null || o.lock === lock));
}

/** The policy for each pool the scan found, from the named entries and the `*` entry. */
export function policiesFor(existing: string[], selection: PoolSelection): PoolPolicy[] {
  const byName = new Map(selection.named.map((p) => [p.pool, p]));
  if (selection.wildcard === undefined) return selection.named;
  const wildcard = selection.wildcard;
  return [...new Set([...existing, ...byName.keys()])]
    .sort()
    .map((pool) => byName.get(pool) ?? (selection.unset ? { pool, timeoutSeconds: null, unset: true } : { pool, timeoutSeconds: wildcard }));
}

