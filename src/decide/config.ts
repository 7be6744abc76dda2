// flags + environment + flyrc + the text of named files → Config, or every problem at once.
// Pure: the CLI reads the files and passes their text. Precedence: flag, env, flyrc, default.

import type { PoolPolicy } from "../core/model.js";
import { parseDuration } from "../core/durations.js";

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
}

/** What fly's ~/.flyrc says about one target. */
export interface FlyTargetInput {
  name: string;
  api: string;
  team: string;
  token: string | null;
  insecure: boolean;
  caCert: string | null;
}

export type AtcAuthConfig =
  | { kind: "none" }
  | { kind: "password"; username: string; password: string }
  | { kind: "token"; token: string; source: string; flyTarget?: string };

export interface AtcConfig {
  url: string;
  auth: AtcAuthConfig;
  insecure: boolean;
  caCert: string | null;
  concurrency: number;
  timeoutMs: number;
  retries: number;
}

export interface PoolSelection {
  /** pools named explicitly, with their timeouts */
  named: PoolPolicy[];
  /** the `*` entry: every pool in the repo (undefined: no wildcard; null: never) */
  wildcard: number | null | undefined;
}

export interface Config {
  command: Command;
  repo: string;
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
}

export interface ResolveInput {
  command: Command;
  flags: Flags;
  env: Record<string, string | undefined>;
  /** the target named by --target / POOL_BOY_TARGET, already read from ~/.flyrc; a string is why it could not be */
  flyTarget: FlyTargetInput | string | null;
  /** text of files named by --password-file, --token-file, --ca-cert (and their variables); null: unreadable */
  files: Record<string, string | null>;
  /** whether the terminal wants colour (stdout is a TTY) */
  isTTY: boolean;
}

export type ResolveResult = { ok: true; config: Config } | { ok: false; problems: string[] };

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
} as const;

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
    if (colon <= 0) {
      problems.push(`${source}: "${entry}" has no timeout (write POOL:TIMEOUT, e.g. "${entry}:2h", or "${entry}:never")`);
      continue;
    }
    const pool = entry.slice(0, colon).trim();
    const timeoutText = entry.slice(colon + 1).trim();
    const timeout = parseDuration(timeoutText);
    if (timeout === undefined) {
      problems.push(`${source}: "${entry}": "${timeoutText}" is not a duration (use minutes like 90, or 90m, 2h, 1d, never)`);
      continue;
    }
    if (pool === "*") {
      if (wildcard !== undefined) problems.push(`${source}: "*" is given twice`);
      wildcard = timeout;
      continue;
    }
    if (!POOL_NAME.test(pool) || pool === "." || pool === ".." || pool.startsWith(".")) {
      problems.push(`${source}: "${pool}" is not a pool name (a pool is a top-level folder of the repo: no "/", no leading ".")`);
      continue;
    }
    if (named.some((p) => p.pool === pool)) {
      problems.push(`${source}: pool "${pool}" is given twice`);
      continue;
    }
    named.push({ pool, timeoutSeconds: timeout });
  }
  return { selection: { named, wildcard }, problems };
}

function parseBool(value: string, name: string, problems: string[]): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  problems.push(`${name}: "${value}" is not true or false`);
  return undefined;
}

function parseCount(value: string, name: string, min: number, max: number, problems: string[]): number | undefined {
  if (!/^\d+$/.test(value.trim())) {
    problems.push(`${name}: "${value}" is not a whole number (${min} to ${max})`);
    return undefined;
  }
  const n = Number(value);
  if (n < min || n > max) {
    problems.push(`${name}: ${n} is out of range (${min} to ${max})`);
    return undefined;
  }
  return n;
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

  const [repo] = pick(flags.repo, ENV.repo, "--repo");
  if (!repo) problems.push(`--repo (or ${ENV.repo}) is required: the pool repository's git URL or local path`);

  const [branch] = pick(flags.branch, ENV.branch, "--branch");

  const [poolSpec, poolSource] = pick(flags.pools, ENV.pools, "--pools");
  let pools: PoolSelection = { named: [], wildcard: undefined };
  if (!poolSpec) problems.push(`--pools (or ${ENV.pools}) is required: e.g. "workers:2h,testers:90m", or "*:2h" for every pool`);
  else {
    const parsed = parsePools(poolSpec, poolSource);
    pools = parsed.selection;
    problems.push(...parsed.problems);
  }

  // --- Concourse API ---
  const [targetName] = pick(flags.target, ENV.target, "--target");
  let target: FlyTargetInput | null = null;
  if (targetName) {
    if (typeof input.flyTarget === "string") problems.push(`--target ${targetName}: ${input.flyTarget}`);
    else if (input.flyTarget === null) problems.push(`--target ${targetName}: no such target in ~/.flyrc (log in first: fly -t ${targetName} login -c URL)`);
    else target = input.flyTarget;
  }

  const [urlText, urlSource] = pick(flags.concourseUrl, ENV.concourseUrl, "--concourse-url");
  let apiUrl: string | null = null;
  if (urlText !== undefined) {
    if (!isHttpUrl(urlText)) problems.push(`${urlSource}: "${urlText.replace(/\/\/[^@/]*@/, "//***@")}" is not an http(s) URL (e.g. https://ci.example.com)`);
    else if (new URL(urlText).username || new URL(urlText).password)
      problems.push(`${urlSource}: credentials inside the URL are not accepted; use ${ENV.username}/${ENV.password} or ${ENV.token}`);
    else apiUrl = urlText.replace(/\/+$/, "");
  }
  if (target) {
    if (apiUrl && !sameApi(apiUrl, target.api))
      problems.push(`${urlSource} (${apiUrl}) and --target ${target.name} (${target.api}) name different Concourses; give one`);
    apiUrl = apiUrl ?? target.api.replace(/\/+$/, "");
  }

  const [username] = pick(flags.username, ENV.username, "--username");
  const [passwordFile, passwordFileSource] = pick(flags.passwordFile, ENV.passwordFile, "--password-file");
  const [tokenFile, tokenFileSource] = pick(flags.tokenFile, ENV.tokenFile, "--token-file");
  const readSecretFile = (path: string, source: string): string | undefined => {
    const text = input.files[path];
    if (text === undefined || text === null) {
      problems.push(`${source}: cannot read "${path}" (check the path and its permissions)`);
      return undefined;
    }
    const trimmed = text.replace(/\r?\n$/, "");
    if (trimmed.length === 0) problems.push(`${source}: "${path}" is empty`);
    return trimmed;
  };
  let password = env[ENV.password] || undefined;
  if (passwordFile) password = readSecretFile(passwordFile, passwordFileSource) ?? password;
  let token = env[ENV.token] || undefined;
  let tokenSource = ENV.token as string;
  if (tokenFile) {
    token = readSecretFile(tokenFile, tokenFileSource) ?? token;
    tokenSource = `${tokenFileSource} ${tokenFile}`;
  }

  let auth: AtcAuthConfig = { kind: "none" };
  if (username && !password) problems.push(`${ENV.username} is set but no password: set ${ENV.password} or --password-file`);
  if (password && !username) problems.push(`a Concourse password is set but no user: set ${ENV.username} or --username`);
  if (username && password && token) problems.push(`both a password and a token (${ENV.token}) are set: give one`);
  if (username && password) auth = { kind: "password", username, password };
  else if (token) auth = { kind: "token", token, source: tokenSource };
  else if (target?.token) auth = { kind: "token", token: target.token, source: `~/.flyrc target ${target.name}`, flyTarget: target.name };
  else if (target) problems.push(`--target ${target.name}: the target has no token (log in first: fly -t ${target.name} login)`);

  if (!apiUrl && (auth.kind !== "none" || username || password || token))
    problems.push(`Concourse credentials are set but no API: set ${ENV.concourseUrl} or --concourse-url (or use --target)`);

  const [caPath, caSource] = pick(flags.caCert, ENV.caCert, "--ca-cert");
  let caCert: string | null = target?.caCert ?? null;
  if (caPath) {
    const text = input.files[caPath];
    if (text === undefined || text === null) problems.push(`${caSource}: cannot read "${caPath}"`);
    else if (!text.includes("-----BEGIN CERTIFICATE-----")) problems.push(`${caSource}: "${caPath}" holds no PEM certificate`);
    else caCert = text;
  }
  const insecure = pickBool(flags.insecure, ENV.insecure) || (target?.insecure ?? false);

  const [concText, concSource] = pick(flags.concurrency, ENV.concurrency, "--concurrency");
  const concurrency = concText === undefined ? 16 : parseCount(concText, concSource, 1, 256, problems) ?? 16;
  const [retriesText, retriesSource] = pick(flags.retries, ENV.retries, "--retries");
  const retries = retriesText === undefined ? 3 : parseCount(retriesText, retriesSource, 0, 10, problems) ?? 3;
  const [timeoutText, timeoutSource] = pick(flags.apiTimeout, ENV.apiTimeout, "--api-timeout");
  let timeoutMs = 10_000;
  if (timeoutText !== undefined) {
    const t = /^\d+$/.test(timeoutText.trim()) ? Number(timeoutText) : parseDuration(timeoutText);
    if (typeof t !== "number" || t <= 0) problems.push(`${timeoutSource}: "${timeoutText}" is not a duration in seconds (e.g. 10 or 30s)`);
    else timeoutMs = t * 1000;
  }

  const atc: AtcConfig | null = apiUrl ? { url: apiUrl, auth, insecure, caCert, concurrency, timeoutMs, retries } : null;

  const [teamFlag] = pick(flags.team, ENV.team, "--team");
  const team = teamFlag ?? (target?.team || "main");

  const [cacheDir] = pick(flags.cacheDir, ENV.cacheDir, "--cache-dir");
  // A retry round judges only what changed (decide/rejudge.ts), so rounds are short and cheap.
  const [attemptsText, attemptsSource] = pick(flags.maxAttempts, ENV.maxAttempts, "--max-attempts");
  const maxAttempts = attemptsText === undefined ? DEFAULT_MAX_ATTEMPTS : parseCount(attemptsText, attemptsSource, 1, 50, problems) ?? DEFAULT_MAX_ATTEMPTS;

  const [pushgateway, pushSource] = pick(flags.pushgateway, ENV.pushgateway, "--pushgateway");
  if (pushgateway !== undefined && !isHttpUrl(pushgateway))
    problems.push(`${pushSource}: "${pushgateway.replace(/\/\/[^@/]*@/, "//***@")}" is not an http(s) URL (e.g. http://pushgateway:9091)`);
  const [metricsFile] = pick(flags.metricsFile, ENV.metricsFile, "--metrics-file");

  const json = pickBool(flags.json, ENV.json);
  const verbose = pickBool(flags.verbose, ENV.verbose);
  const debug = pickBool(flags.debug, ENV.debug);
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  // commander sets color=true unless --no-color is given, so only `false` is a choice.
  const color = flags.color !== false && input.isTTY && !noColor && env.TERM !== "dumb";

  if (problems.length > 0 || !repo) return { ok: false, problems };
  return {
    ok: true,
    config: {
      command: input.command,
      repo,
      branch: branch ?? null,
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
    },
  };
}

/** The policy for each pool the scan found, from the named entries and the `*` entry. */
export function policiesFor(existing: string[], selection: PoolSelection): PoolPolicy[] {
  const byName = new Map(selection.named.map((p) => [p.pool, p]));
  if (selection.wildcard === undefined) return selection.named;
  const wildcard = selection.wildcard;
  return [...new Set([...existing, ...byName.keys()])]
    .sort()
    .map((pool) => byName.get(pool) ?? { pool, timeoutSeconds: wildcard });
}

/** clean's judge-and-push rounds when others push meanwhile. */
export const DEFAULT_MAX_ATTEMPTS = 20;
