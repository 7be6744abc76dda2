// The resource's `source` (and `params`) → the CLI's own inputs: flags, environment and file
// texts for resolveConfig(), so the resource runs exactly the configuration the CLI would build.
// Pure: checks the shape of what Concourse passed, names every problem by its `source.` key, and
// renames the CLI's flag and variable names in messages to the keys a pipeline author wrote.

import { stringify } from "yaml";
import { ENV, parsePools, type Flags, type OnlyEntry, type PoolSelection } from "../decide/config.js";
import type { ConfigLayer } from "../decide/config-file.js";
import { fail, ok, type Result } from "../core/result.js";

/**
 * Whether this pool-boy reads a config file (`--config FILE` / POOL_BOY_CONFIG, with per-pool
 * settings beyond the timeout). When it does, `source.config` and the richer `source.pools` maps
 * reach the CLI through that same mechanism, as a file text; until then they are refused.
 */
export const CONFIG_FILE_SUPPORTED: boolean = "config" in ENV;

/** The pseudo file names under which source.config, or a richer source.pools map, reach resolveConfig. */
export const CONFIG_FILE = "source.config";
export const POOLS_CONFIG_FILE = "source.pools";

export interface TranslateOptions {
  /** pass `config` and richer `pools` maps on as a config file (default: whether pool-boy reads one) */
  configFile: boolean;
}

/** The environment variables the transport reads (src/io/git/transport.ts's TRANSPORT_ENV). */
const GIT_ENV = {
  privateKey: "POOL_REPO_SSH_PRIVATE_KEY",
  knownHosts: "POOL_REPO_SSH_KNOWN_HOSTS",
  username: "POOL_REPO_USERNAME",
  password: "POOL_REPO_PASSWORD",
} as const;

/** The pseudo file name under which source.ca_cert's text reaches resolveConfig. */
export const CA_CERT_FILE = "source.ca_cert";

export const SOURCE_KEYS = [
  "uri",
  "branch",
  "private_key",
  "username",
  "password",
  "known_hosts",
  "pools",
  "config",
  "concourse_url",
  "concourse_username",
  "concourse_password",
  "concourse_token",
  "team",
  "ca_cert",
  "insecure",
  "verbose",
] as const;

/** The keys whose values are secrets: never shown. */
export const SECRET_KEYS = ["private_key", "password", "concourse_password", "concourse_token"] as const;

export interface Translated {
  flags: Flags;
  /** the variables the CLI would read from its environment (secrets among them) */
  env: Record<string, string>;
  /** file texts by the names used in flags */
  files: Record<string, string>;
  /** source.verbose */
  verbose: boolean;
}

export type TranslateResult = Result<Translated, string[]>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The secret values in a source, whatever its shape, to register before anything is printed. */
export function sourceSecrets(source: unknown): string[] {
  if (!isObj(source)) return [];
  return SECRET_KEYS.map((k) => source[k]).filter((v): v is string => typeof v === "string" && v.length > 0);
}

/** A timeout in a `pools` map: "2h", "90m", "never", or a number of minutes (as in POOLS). */
function timeoutText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/** The pools: a spec for --pools, or (richer settings, with config-file support) a config file's text. */
function poolsSetting(value: unknown, problems: string[], options: TranslateOptions, hasConfig: boolean): { spec?: string; configText?: string } {
  if (isObj(value) && Object.values(value).some((v) => isObj(v) && Object.keys(v).some((k) => k !== "timeout"))) {
    if (!options.configFile) return { spec: poolsSpec(value, problems) };
    if (hasConfig) {
      problems.push("source.pools has settings beyond the timeout and source.config is set too: give the per-pool settings in one of them");
      return {};
    }
    // The same settings the config file takes, as its text: checked and applied by the CLI's parser.
    const pools: Record<string, unknown> = {};
    for (const [pool, setting] of Object.entries(value)) pools[pool] = typeof setting === "number" ? String(setting) : setting;
    return { configText: stringify({ pools }) };
  }
  const spec = poolsSpec(value, problems);
  return spec === undefined ? {} : { spec };
}

function poolsSpec(value: unknown, problems: string[]): string | undefined {
  if (typeof value === "string") {
    if (value.trim() === "") problems.push(`source.pools is empty: e.g. "aws:2h,gcp:90m", or "*:2h" for every pool`);
    return value;
  }
  if (!isObj(value)) {
    problems.push(`source.pools must be the pools spec ("aws:2h,gcp:90m") or a map of pool to timeout ({aws: 2h, "*": 90m})`);
    return undefined;
  }
  const entries: string[] = [];
  const keys = Object.keys(value);
  if (keys.length === 0) problems.push(`source.pools is an empty map: name at least one pool, or "*" for every pool`);
  for (const pool of keys) {
    if (pool.includes(",")) {
      problems.push(`source.pools: "${pool}" is not a pool name (no ",")`);
      continue;
    }
    let setting = value[pool];
    if (isObj(setting)) {
      const other = Object.keys(setting).filter((k) => k !== "timeout");
      if (other.length > 0) {
        problems.push(
          `source.pools.${pool}: ${other.map((k) => `"${k}"`).join(", ")} needs the config file, which this version of pool-boy does not read yet: give only a timeout (e.g. {timeout: 2h})`,
        );
        continue;
      }
      setting = setting["timeout"];
    }
    const text = timeoutText(setting);
    if (text === null) {
      problems.push(`source.pools.${pool}: the timeout must be a duration like 2h, 90m, 1d, never, or a number of minutes`);
      continue;
    }
    entries.push(`${pool}:${text}`);
  }
  return entries.join(",");
}

/** Check the shape of `source` and translate it into the CLI's inputs. Every problem at once. */
export function translateSource(source: unknown, options: TranslateOptions = { configFile: CONFIG_FILE_SUPPORTED }): TranslateResult {
  const problems: string[] = [];
  if (!isObj(source)) return fail(["source is missing or not a map: give at least uri and pools"]);
  const known = new Set<string>(SOURCE_KEYS);
  for (const key of Object.keys(source)) {
    if (known.has(key)) continue;
    const hint = key === "pool" ? `: pool-boy takes "pools", the pools and their timeouts (e.g. "${String(source[key])}:2h")` : `; known keys: ${SOURCE_KEYS.join(", ")}`;
    problems.push(`source.${key} is not a pool-boy setting${hint}`);
  }

  const str = (key: (typeof SOURCE_KEYS)[number]): string | undefined => {
    const v = source[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") {
      problems.push(`source.${key} must be a string`);
      return undefined;
    }
    return v;
  };
  const bool = (key: (typeof SOURCE_KEYS)[number]): boolean | undefined => {
    const v = source[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") {
      problems.push(`source.${key} must be true or false`);
      return undefined;
    }
    return v;
  };

  const uri = str("uri");
  if (source["uri"] === undefined || source["uri"] === null || uri?.trim() === "") problems.push("source.uri is required: the pool repository's git URL (as in the pool-resource's source)");
  const branch = str("branch");
  const privateKey = str("private_key");
  const username = str("username");
  const password = str("password");
  const knownHosts = str("known_hosts");
  if (username && !password) problems.push("source.username is set but no source.password (the password or access token for an HTTPS repository)");
  if (privateKey && password) problems.push("source.private_key and source.password are both set: give the key for an SSH repository, the password for an HTTPS one");

  let pools: string | undefined;
  let poolsConfig: string | undefined;
  const configText = str("config");
  if (configText !== undefined && !options.configFile)
    problems.push("source.config needs the config file, which this version of pool-boy does not read yet: give the pools and their timeouts in source.pools");
  if (source["pools"] === undefined || source["pools"] === null) {
    if (!(options.configFile && configText !== undefined))
      problems.push(`source.pools is required${options.configFile ? " (or source.config)" : ""}: e.g. "aws:2h,gcp:90m", or "*:2h" for every pool`);
  } else {
    const setting = poolsSetting(source["pools"], problems, options, configText !== undefined);
    pools = setting.spec;
    poolsConfig = setting.configText;
  }
  // The spec is checked here too (the same parser the CLI uses), so that its problems come with
  // the others, all at once.
  if (pools) {
    const parsed = parsePools(pools, "source.pools");
    if (!parsed.ok) problems.push(...parsed.problems);
  }

  const concourseUrl = str("concourse_url");
  const concourseUsername = str("concourse_username");
  const concoursePassword = str("concourse_password");
  const concourseToken = str("concourse_token");
  if (concourseUsername && !concoursePassword) problems.push("source.concourse_username is set but no source.concourse_password");
  if (concoursePassword && !concourseUsername) problems.push("source.concourse_password is set but no source.concourse_username");
  if (concoursePassword && concourseToken) problems.push("source.concourse_password and source.concourse_token are both set: give one");
  if (!concourseUrl && (concourseUsername || concoursePassword || concourseToken))
    problems.push("Concourse credentials are set but no source.concourse_url (the URL given to fly -c)");
  const team = str("team");
  const caCert = str("ca_cert");
  if (caCert !== undefined && !caCert.includes("-----BEGIN CERTIFICATE-----"))
    problems.push("source.ca_cert holds no PEM certificate (the text of the CA certificate, -----BEGIN CERTIFICATE----- …)");
  const insecure = bool("insecure");
  const verbose = bool("verbose");

  if (problems.length > 0) return fail(problems);

  const flags: Flags = {
    ...(branch ? { branch } : {}),
    ...(pools !== undefined ? { pools } : {}),
    ...(team ? { team } : {}),
    ...(concourseUrl ? { concourseUrl } : {}),
    ...(concourseUsername ? { username: concourseUsername } : {}),
    ...(caCert ? { caCert: CA_CERT_FILE } : {}),
    ...(insecure !== undefined ? { insecure } : {}),
  };
  const files: Record<string, string> = caCert ? { [CA_CERT_FILE]: caCert } : {};
  // --config FILE, with the file's text (the flag exists only where pool-boy reads a config file).
  const configFile = options.configFile && configText !== undefined ? { name: CONFIG_FILE, text: configText } : poolsConfig !== undefined ? { name: POOLS_CONFIG_FILE, text: poolsConfig } : null;
  if (configFile) {
    Object.assign(flags, { config: configFile.name });
    files[configFile.name] = configFile.text;
  }
  // The URL goes in as POOL_REPO, not --repo: it comes on stdin, not on a command line, so
  // credentials inside it are accepted (as the pool-resource accepts them).
  const env: Record<string, string> = { [ENV.repo]: uri ?? "" };
  if (privateKey) env[GIT_ENV.privateKey] = privateKey;
  if (knownHosts) env[GIT_ENV.knownHosts] = knownHosts;
  if (username) env[GIT_ENV.username] = username;
  if (password) env[GIT_ENV.password] = password;
  if (concoursePassword) env[ENV.password] = concoursePassword;
  if (concourseToken) env[ENV.token] = concourseToken;
  return ok({ flags, env, files, verbose: verbose ?? false });
}

/** The names the CLI's messages use → the keys of `source`, longest first. */
const RENAMES: Array<[RegExp, string]> = [
  [/--config (source\.\w+)/g, "$1"],
  [/--config|POOL_BOY_CONFIG/g, "source.config"],
  [/--concourse-url \(or CONCOURSE_BASE_URL\)|--concourse-url|CONCOURSE_BASE_URL/g, "source.concourse_url"],
  [/--username|CONCOURSE_USERNAME/g, "source.concourse_username"],
  [/ or --password-file/g, ""],
  [/ or --token-file/g, ""],
  [/ \(or use --target\)/g, ""],
  [/CONCOURSE_PASSWORD/g, "source.concourse_password"],
  [/CONCOURSE_TOKEN/g, "source.concourse_token"],
  [/--ca-cert|POOL_BOY_CA_CERT/g, "source.ca_cert"],
  [/--insecure|POOL_BOY_INSECURE/g, "source.insecure"],
  [/--pools \(or POOLS\)|--pools|\bPOOLS\b/g, "source.pools"],
  [/--team|POOL_BOY_TEAM/g, "source.team"],
  [/--only|POOL_BOY_ONLY/g, "params.pools"],
  [/POOL_REPO_SSH_PRIVATE_KEY/g, "source.private_key"],
  [/POOL_REPO_SSH_KNOWN_HOSTS/g, "source.known_hosts"],
  [/POOL_REPO_USERNAME/g, "source.username"],
  [/POOL_REPO_PASSWORD/g, "source.password"],
  [/POOL_REPO_BRANCH|--branch/g, "source.branch"],
  [/--repo \(or POOL_REPO\)|--repo|\bPOOL_REPO\b/g, "source.uri"],
  [/--max-attempts|POOL_BOY_MAX_ATTEMPTS/g, "the number of attempts"],
  [/see pool-boy --help for every option and its environment variable/g, "see pool-boy's README for the resource's source"],
];

/** A CLI message with the resource's names for the settings it mentions. */
export function inSourceTerms(message: string): string {
  let out = message;
  for (const [re, name] of RENAMES) out = out.replace(re, name);
  return out;
}

export interface OutParams {
  /** only these pools (they must be among source.pools, or source.pools has "*") */
  pools: string[] | null;
  dryRun: boolean;
}

/** `put` params: {pools: "aws,gcp" | [aws, gcp], dry_run: bool}. Every problem at once. */
export function parseOutParams(params: unknown): Result<OutParams, string[]> {
  if (params === undefined || params === null) return ok({ pools: null, dryRun: false });
  if (!isObj(params)) return fail(["params must be a map: {pools: [aws], dry_run: true}"]);
  const problems: string[] = [];
  for (const key of Object.keys(params)) if (key !== "pools" && key !== "dry_run") problems.push(`params.${key} is not a pool-boy put parameter; known: pools, dry_run`);
  let pools: string[] | null = null;
  const p = params["pools"];
  if (typeof p === "string") pools = p.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  else if (Array.isArray(p) && p.every((x) => typeof x === "string")) pools = (p as string[]).map((s) => s.trim()).filter((s) => s.length > 0);
  else if (p !== undefined && p !== null) problems.push(`params.pools must be a list of pool names or "aws,gcp"`);
  if (pools !== null && pools.length === 0) problems.push("params.pools names no pool");
  const d = params["dry_run"];
  if (d !== undefined && d !== null && typeof d !== "boolean") problems.push("params.dry_run must be true or false");
  if (problems.length > 0) return fail(problems);
  return ok({ pools, dryRun: d === true });
}

/**
 * `params.pools` → the CLI's `--only POOL` entries: the run keeps the source's settings (timeouts,
 * keep-failed, release-to) and judges only these pools. Each must be covered by the source: by the
 * pools it names (source.pools) or, when it names none there, by its config file (source.config,
 * or a source.pools map with settings), a "*" covering every pool.
 */
export function narrowPools(selection: PoolSelection, file: ConfigLayer | null, names: string[]): Result<OnlyEntry[], string[]> {
  const bySpec = selection.named.length > 0 || selection.wildcard !== undefined;
  const where = bySpec || !file ? "source.pools" : file.source.replace(/^--config /, "");
  const named = bySpec ? selection.named.map((p) => p.pool) : [...(file?.pools.keys() ?? [])].filter((p) => p !== "*");
  const every = bySpec ? selection.wildcard !== undefined : (file?.pools.has("*") ?? false);
  const problems: string[] = [];
  const only: OnlyEntry[] = [];
  for (const name of [...new Set(names)]) {
    if (every || named.includes(name)) only.push({ pool: name, lock: null });
    else problems.push(`params.pools: "${name}" is not in ${where} (${named.join(", ")}); a put may narrow the pools, not add to them`);
  }
  return problems.length > 0 ? fail(problems) : ok(only);
}
