// The Concourse API client: connects (URL check, /api/v1/info, login or token check), then answers
// build and hand-off lookups as Lookup values. Every distinct URL is asked once per run; the
// transport (http.ts) bounds concurrency, times out and retries.
//
// How answers map (reference §3, §4, §7.3):
//   200 → found, after checking the JSON's shape; a wrong shape or a status outside the six is a
//         protocol problem and reads as transient (keep the lock this run) rather than a crash.
//   404 → not-found, but only Concourse's own 404, which is empty-bodied (reference §4). A 404
//         with a body Concourse never writes (a proxy's or ingress's HTML page while the ATC
//         restarts, another server's answer) is transient: the lock is kept this run.
//   400 → not-found with the reason: the ATC refused our query (instance vars it cannot parse, a
//         non-numeric id). The API cannot say anything about such an owner, so the timeout decides,
//         as for 404; "transient" would keep the lock for ever. Concourse's 400s are empty-bodied
//         too: one with a body is transient.
//   401 → one fresh login when a password is at hand (once per run, shared by every request that
//         saw the 401), then the request again; otherwise, or if that does not help, no-access.
//   403 → no-access (the token is valid but for another team).
//   no-access never leads to a release: the lock is kept and the run ends with exit 5.
//
// Names (team, pipeline, job, build) are sent as they are, percent-encoded as path segments: a
// pipeline named `p%41` is asked for as `p%2541`. Only the instance vars form a query.
//   timeouts, resets, refused connections, 5xx, 429 → retried with exponential backoff, then transient.

import { PoolBoyError } from "../../core/errors.js";
import type { AtcAuthConfig } from "../../decide/config.js";
import type { OwnerApi } from "./ask.js";
import type { BuildInfo, BuildRef, BuildResources, BuildVersionRef, InstanceVars, JobInfo, JobInput, JobOutput, JsonValue, Lookup, ResourceVersion, ApiStats } from "../../core/model.js";
import { BUILD_STATUSES } from "../../core/model.js";
import { redact } from "../../core/redact.js";
import { fail, ok, type Result } from "../../core/result.js";
import { HttpTransport, type HttpAnswer, type HttpResult } from "./http.js";
import { instanceVarsToQuery } from "../../core/instance-vars.js";
import { atLeast, checkToken, parseVersion, passwordLogin, type AtcUser, type AtcVersion } from "./login.js";
import { loginHint, unusableToken } from "./token.js";
import { hostOf } from "../../decide/owner.js";

export type AtcAuth = AtcAuthConfig;

export interface AtcOptions {
  url: string;
  auth: AtcAuth;
  /** skip TLS verification (fly's `insecure`) */
  insecure: boolean;
  /** PEM text of the CA that signed the server's certificate */
  caCert: string | null;
  /** requests in flight at most (default 16) */
  concurrency: number;
  /** per attempt, in milliseconds */
  timeoutMs: number;
  /** attempts after the first one for timeouts, resets, refused connections and 5xx */
  retries: number;
  /** first backoff delay in milliseconds, doubled for each retry (default 250) */
  retryDelayMs?: number;
  /** where the URL came from, as the user gave it (for messages): "--concourse-url", a fly target… */
  urlSource?: string;
  /** masks the run's secrets in API answers quoted in messages (the run's Redactor.outside) */
  mask?: (text: string) => string;
  log?: (line: string) => void;
}

type JobBuildRef = Extract<BuildRef, { kind: "job" }>;

/** The ask stage's `OwnerApi` (every lookup it needs) plus housekeeping. */
export interface AtcClient extends OwnerApi {
  /** the base URL, credentials removed */
  readonly url: string;
  /** what /api/v1/info said, or null when it could not be had */
  readonly version: string | null;
  /** /api/v1/info's external_url (5.3+), or null */
  readonly externalUrl: string | null;
  /** false when /api/v1/info did not answer, so the external_url is not known */
  readonly externalUrlKnown: boolean;
  /** who the credentials belong to and their teams, when the user endpoint said; null without credentials */
  readonly user: AtcUser | null;
  stats(): ApiStats;
  /** drop remembered answers: after a lost race the next judgement asks afresh */
  forget(): void;
  close(): Promise<void>;
}

const URL_SOURCE = "--concourse-url (or CONCOURSE_BASE_URL)";
const urlHint = (source = URL_SOURCE) => `set ${source} to the Concourse web URL, e.g. https://ci.example.com`;
const URL_HINT = urlHint();
const DEFAULT_RETRY_DELAY_MS = 250;
/** servers before 5.5 ignore `filter`: how many pages of 100 to read looking for the version */
const MAX_UNFILTERED_PAGES = 10;
/** one fresh login per run: a 401 that survives it is not an expired token (e.g. v5 one-off builds) */
const MAX_RENEWALS = 1;

/**
 * The base URL: scheme, host, port and path prefix, without credentials, query or trailing slash.
 * It is both what requests go to and what messages show. Credentials in the URL are dropped (the
 * ATC takes none there; resolveConfig refuses them and masks them).
 */
function checkAtcUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new PoolBoyError("config", redact(`CONCOURSE_BASE_URL/--concourse-url: "${url}" is not a URL`), URL_HINT);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new PoolBoyError("config", redact(`CONCOURSE_BASE_URL/--concourse-url: "${url}" is not an http(s) URL`), URL_HINT);
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
}

// ---- JSON shapes -------------------------------------------------------------------------------

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const optionalNumber = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const optionalString = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);

/** Go encodes an empty slice as null in some versions (5.x job inputs, input_to): both mean none. */
function list(value: unknown): unknown[] | null {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : null;
}

function isStatus(value: unknown): value is BuildInfo["status"] {
  return typeof value === "string" && (BUILD_STATUSES as readonly string[]).includes(value);
}

/** Build JSON (full Build of every version, or the 7.0+ BuildSummary) → BuildInfo, or why not. */
export function toBuildInfo(raw: unknown): Result<BuildInfo, string> {
  if (!isObject(raw)) return fail("a build is not a JSON object");
  const { id, name, status, team_name: team } = raw;
  if (typeof id !== "number" || !Number.isInteger(id)) return fail("a build has no numeric id");
  if (typeof name !== "string") return fail(`build ${id} has no name`);
  if (typeof team !== "string") return fail(`build ${id} has no team_name`);
  // a seventh status means an API we do not understand: never guess alive or dead
  if (!isStatus(status)) return fail(`build ${id} has status ${JSON.stringify(status)}, not one of ${BUILD_STATUSES.join(", ")}`);
  const vars = raw["pipeline_instance_vars"];
  return ok({
    id,
    name,
    status,
    team,
    pipeline: optionalString(raw["pipeline_name"]),
    job: optionalString(raw["job_name"]),
    instanceVars: isObject(vars) && Object.keys(vars).length > 0 ? (vars as InstanceVars) : null,
    startTime: optionalNumber(raw["start_time"]),
    endTime: optionalNumber(raw["end_time"]),
  });
}

function stringList(value: unknown): string[] | null {
  const items = list(value);
  if (items === null || !items.every((item): item is string => typeof item === "string")) return null;
  return items as string[];
}

/** A job of the jobs list: 5.x/6.x Job or 7.0+ JobSummary. Only names are kept, never anything else. */
export function toJobInfo(raw: unknown): Result<JobInfo, string> {
  if (!isObject(raw) || typeof raw["name"] !== "string") return fail("a job has no name");
  const name = raw["name"];
  const rawInputs = list(raw["inputs"]);
  const rawOutputs = list(raw["outputs"]);
  if (rawInputs === null || rawOutputs === null) return fail(`job ${name}: inputs and outputs must be lists`);
  const inputs: JobInput[] = [];
  for (const input of rawInputs) {
    if (!isObject(input) || typeof input["name"] !== "string" || typeof input["resource"] !== "string") return fail(`job ${name}: an input has no name or resource`);
    const passed = stringList(input["passed"]);
    if (passed === null) return fail(`job ${name}: input ${input["name"]} has a passed that is not a list of job names`);
    inputs.push({ name: input["name"], resource: input["resource"], passed });
  }
  const outputs: JobOutput[] = [];
  for (const output of rawOutputs) {
    if (!isObject(output) || typeof output["name"] !== "string" || typeof output["resource"] !== "string") return fail(`job ${name}: an output has no name or resource`);
    outputs.push({ name: output["name"], resource: output["resource"] });
  }
  return ok({ name, paused: raw["paused"] === true, inputs, outputs });
}

function versionRef(version: unknown): string | null {
  return isObject(version) && typeof version["ref"] === "string" ? version["ref"] : null;
}

export function toBuildResources(raw: unknown): Result<BuildResources, string> {
  if (!isObject(raw)) return fail("build resources are not a JSON object");
  const pick = (value: unknown, what: string): Result<BuildVersionRef[], string> => {
    const items = list(value);
    if (items === null) return fail(`${what} is not a list`);
    const out: BuildVersionRef[] = [];
    for (const item of items) {
      if (!isObject(item) || typeof item["name"] !== "string") return fail(`an entry of ${what} has no name`);
      out.push({ name: item["name"], ref: versionRef(item["version"]) });
    }
    return ok(out);
  };
  const inputs = pick(raw["inputs"], "inputs");
  if (!inputs.ok) return inputs;
  const outputs = pick(raw["outputs"], "outputs");
  if (!outputs.ok) return outputs;
  return ok({ inputs: inputs.value, outputs: outputs.value });
}

export function toResourceVersion(raw: unknown): Result<ResourceVersion, string> {
  if (!isObject(raw) || typeof raw["id"] !== "number" || !Number.isInteger(raw["id"])) return fail("a resource version has no numeric id");
  const enabled = raw["enabled"];
  if (enabled !== undefined && typeof enabled !== "boolean") return fail(`resource version ${raw["id"]}: enabled is not true or false`);
  return ok({ id: raw["id"], ref: versionRef(raw["version"]), enabled: enabled !== false });
}

function eachOf<T>(raw: unknown, convert: (item: unknown) => Result<T, string>, what: string): Result<T[], string> {
  const items = list(raw);
  if (items === null) return fail(`${what} is not a JSON list`);
  const out: T[] = [];
  for (const item of items) {
    const value = convert(item);
    if (!value.ok) return value;
    out.push(value.value);
  }
  return ok(out);
}

// ---- paths ---------------------------------------------------------------------------------------

const seg = (text: string) => encodeURIComponent(text);

function withQuery(path: string, params: Array<[string, string]>): string {
  if (params.length === 0) return path;
  return `${path}?${new URLSearchParams(params).toString()}`;
}

function varsParams(vars: InstanceVars | null): Array<[string, string]> {
  return vars && Object.keys(vars).length > 0 ? instanceVarsToQuery(vars) : [];
}

function pipelinePath(team: string, pipeline: string): string {
  return `/api/v1/teams/${seg(team)}/pipelines/${seg(pipeline)}`;
}

function describeVars(vars: InstanceVars | null): string {
  return vars && Object.keys(vars).length > 0 ? ` ${JSON.stringify(vars as JsonValue)}` : "";
}

/** The path and query of a Link header's rel="next", when it stays under /api/v1/. */
function nextPage(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (!match?.[1]) continue;
    try {
      const url = new URL(match[1], "http://relative.invalid");
      return url.pathname.startsWith("/api/v1/") ? url.pathname + url.search : null;
    } catch {
      return null;
    }
  }
  return null;
}

// ---- the client ------------------------------------------------------------------------------------

class AtcApiClient implements AtcClient {
  private readonly memo = new Map<string, Promise<Lookup<unknown>>>();
  private token: string | null;
  /** bumped at each fresh login, so that a 401 to an old token does not log in again */
  private generation = 0;
  private renewals = 0;
  private renewal: Promise<boolean> | null = null;
  private renewalError: string | null = null;

  readonly hosts: readonly string[];

  constructor(
    readonly url: string,
    readonly version: string | null,
    readonly externalUrl: string | null,
    readonly externalUrlKnown: boolean,
    readonly user: AtcUser | null,
    private readonly parsedVersion: AtcVersion | null,
    private readonly http: HttpTransport,
    private readonly auth: AtcAuth,
    token: string | null,
    private readonly log: ((line: string) => void) | undefined,
    private readonly mask: (text: string) => string = redact,
  ) {
    this.token = token;
    this.hosts = [...new Set([url, externalUrl ?? ""].map(hostOf).filter((h): h is string => h !== null))];
  }

  stats(): ApiStats {
    return this.http.stats();
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  forget(): void {
    this.memo.clear();
  }

  jobBuild(ref: JobBuildRef): Promise<Lookup<BuildInfo>> {
    const path = withQuery(`${pipelinePath(ref.team, ref.pipeline)}/jobs/${seg(ref.job)}/builds/${seg(ref.name)}`, varsParams(ref.instanceVars));
    const what = `build ${ref.team}/${ref.pipeline}${describeVars(ref.instanceVars)}/${ref.job} #${ref.name}`;
    return this.once(path, () => this.getOne(path, what, toBuildInfo));
  }

  build(id: string): Promise<Lookup<BuildInfo>> {
    const what = `build ${id}`;
    // the ATC would answer 400; no need to ask
    if (!/^\d+$/.test(id)) return Promise.resolve(this.counted({ kind: "not-found", detail: redact(`${what}: not a build id`) }));
    const path = `/api/v1/builds/${id}`;
    return this.once(path, () => this.getOne(path, what, toBuildInfo));
  }

  jobs(team: string, pipeline: string, vars: InstanceVars | null): Promise<Lookup<JobInfo[]>> {
    const path = withQuery(`${pipelinePath(team, pipeline)}/jobs`, varsParams(vars));
    const what = `jobs of ${team}/${pipeline}${describeVars(vars)}`;
    return this.once(path, () => this.getOne(path, what, (raw) => eachOf(raw, toJobInfo, "the jobs list")));
  }

  buildResources(id: number): Promise<Lookup<BuildResources>> {
    const path = `/api/v1/builds/${id}/resources`;
    return this.once(path, () => this.getOne(path, `resources of build ${id}`, toBuildResources));
  }

  versions(team: string, pipeline: string, vars: InstanceVars | null, resource: string, ref: string): Promise<Lookup<ResourceVersion[]>> {
    // With a server known to filter, one version is all we need; otherwise read pages of 100
    // and filter here (5.0–5.4 ignore `filter` but honour `limit`).
    const filters = this.parsedVersion !== null && atLeast(this.parsedVersion, 5, 5);
    const params: Array<[string, string]> = [...varsParams(vars), ["filter", `ref:${ref}`], ["limit", filters ? "1" : "100"]];
    const path = withQuery(`${pipelinePath(team, pipeline)}/resources/${seg(resource)}/versions`, params);
    const what = `versions of ${team}/${pipeline}${describeVars(vars)}/${resource}`;
    return this.once(path, async () => {
      const found: ResourceVersion[] = [];
      let page: string | null = path;
      for (let pages = 0; page !== null && pages < MAX_UNFILTERED_PAGES; pages++) {
        const answer: Lookup<ResourceVersion[]> & { link?: string | null } = await this.getOne(page, what, (raw) => eachOf(raw, toResourceVersion, "the versions list"), true);
        if (answer.kind !== "found") return answer;
        const matching = answer.value.filter((version) => version.ref === ref);
        found.push(...matching);
        // a filtering server sends only matches: a non-match means the filter was ignored
        const ignoredFilter = matching.length < answer.value.length;
        if (matching.length > 0 || !ignoredFilter) break;
        page = nextPage(answer.link ?? null);
      }
      return { kind: "found", value: found };
    });
  }

  inputTo(team: string, pipeline: string, vars: InstanceVars | null, resource: string, versionId: number): Promise<Lookup<BuildInfo[]>> {
    const path = withQuery(`${pipelinePath(team, pipeline)}/resources/${seg(resource)}/versions/${versionId}/input_to`, varsParams(vars));
    const what = `builds that took version ${versionId} of ${team}/${pipeline}${describeVars(vars)}/${resource}`;
    return this.once(path, () => this.getOne(path, what, (raw) => eachOf(raw, toBuildInfo, "input_to")));
  }

  // ---- plumbing ----

  private counted<T>(lookup: Lookup<T>): Lookup<T> {
    this.http.count(lookup.kind === "found" ? "ok" : lookup.kind);
    return lookup;
  }

  /** One promise per URL and run: every caller asking the same thing shares the answer. */
  private once<T>(key: string, ask: () => Promise<Lookup<T>>): Promise<Lookup<T>> {
    const known = this.memo.get(key);
    if (known) return known as Promise<Lookup<T>>;
    const made = ask().then(
      (lookup) => this.counted(lookup),
      (error: unknown) => this.counted<T>({ kind: "transient", detail: redact(`${key}: ${error instanceof Error ? error.message : String(error)}`) }),
    );
    this.memo.set(key, made as Promise<Lookup<unknown>>);
    return made;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers["authorization"] = `Bearer ${this.token}`;
    return headers;
  }

  /** GET with the current token; one fresh login and a second try on 401 when a password is at hand. */
  private async get(path: string): Promise<HttpResult> {
    const generation = this.generation;
    const first = await this.http.send({ method: "GET", path, headers: this.headers() });
    if (first.kind === "answer" && first.status === 401 && (await this.renew(generation))) {
      return this.http.send({ method: "GET", path, headers: this.headers() });
    }
    return first;
  }

  private async renew(seenGeneration: number): Promise<boolean> {
    if (this.auth.kind !== "password") return false;
    // someone logged in again after this request left: just try with the new token
    if (this.generation !== seenGeneration) return true;
    if (!this.renewal) {
      if (this.renewals >= MAX_RENEWALS) return false;
      this.renewals++;
      const { username, password } = this.auth;
      this.log?.(`HTTP 401 from ${this.url}: logging in again as ${username}`);
      this.renewal = passwordLogin(this.http, this.url, this.parsedVersion, username, password, this.log)
        .then((result) => {
          this.token = result.token;
          this.generation++;
          return true;
        })
        .catch((error: unknown) => {
          this.renewalError = redact(error instanceof Error ? error.message : String(error));
          this.log?.(`logging in again failed: ${this.renewalError}`);
          return false;
        })
        .finally(() => {
          this.renewal = null;
        });
    }
    return this.renewal;
  }

  private noAccess(status: 401 | 403, what: string, body: string): Lookup<never> {
    // a page from a proxy in front of the ATC is not echoed
    const first = body.trim().split("\n")[0] ?? "";
    const text = this.mask(first.startsWith("<") ? "" : first.slice(0, 100)) || (status === 401 ? "not authorized" : "forbidden");
    let why: string;
    if (status === 403) why = "the credentials are not for this team";
    else if (this.auth.kind === "none") why = "not public, and no credentials were given";
    else if (this.auth.kind === "token") why = `the token from ${this.auth.source} was refused (${loginHint(this.auth, this.url)})`;
    else why = this.renewalError ? `logging in again failed: ${this.renewalError}` : "refused even after logging in again";
    return { kind: "no-access", status, detail: redact(`${what}: HTTP ${status} ${text}: ${why}`) };
  }

  private async getOne<T>(path: string, what: string, convert: (raw: unknown) => Result<T, string>, withLink = false): Promise<Lookup<T> & { link?: string | null }> {
    const result = await this.get(path);
    if (result.kind === "failure") return { kind: "transient", detail: redact(`${what}: ${result.detail}`) };
    return this.interpret(result, what, convert, withLink);
  }

  private interpret<T>(answer: HttpAnswer, what: string, convert: (raw: unknown) => Result<T, string>, withLink: boolean): Lookup<T> & { link?: string | null } {
    const { status } = answer;
    if (status === 200) {
      let raw: unknown;
      try {
        raw = JSON.parse(answer.body);
      } catch {
        return { kind: "transient", detail: redact(`${what}: HTTP 200 but the body is not JSON (is ${this.url} a Concourse API?)`) };
      }
      const converted = convert(raw);
      if (!converted.ok) return { kind: "transient", detail: redact(`${what}: unexpected answer: ${converted.problems}`) };
      const value = converted.value;
      return withLink ? { kind: "found", value, link: answer.link } : { kind: "found", value };
    }
    if ((status === 404 || status === 400) && answer.body.trim() !== "") {
      // Concourse's own 404s and 400s have no body: this one came from something else
      return { kind: "transient", detail: redact(`${what}: HTTP ${status} with ${bodyKind(answer)}, which Concourse never sends: a proxy or another server answered, not Concourse; kept this run`) };
    }
    if (status === 404) return { kind: "not-found", detail: redact(`${what}: not found (HTTP 404)`) };
    if (status === 400) {
      return { kind: "not-found", detail: redact(`${what}: the ATC refused the query (HTTP 400: instance vars it cannot read, or a bad id), so it cannot say`) };
    }
    if (status === 401 || status === 403) return this.noAccess(status, what, answer.body);
    const text = this.mask(answer.body.trim().split("\n")[0]?.slice(0, 100) ?? "");
    return { kind: "transient", detail: redact(`${what}: unexpected HTTP ${status}${text && !text.startsWith("<") ? ` ${text}` : ""}`) };
  }
}

/** "an HTML page" or "a text/plain body", for messages; never the body itself. */
function bodyKind(answer: HttpAnswer): string {
  const type = answer.contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "text/html" || /^\s*</.test(answer.body)) return "an HTML page";
  return type ? `a ${type} body` : "a body";
}

// ---- connecting ----------------------------------------------------------------------------------

/** The version and external_url /api/v1/info reports, or undefined when the answer is not a Concourse's. */
function infoVersion(answer: HttpAnswer): { version: string; externalUrl: string | null } | undefined {
  try {
    const body: unknown = JSON.parse(answer.body);
    if (!isObject(body)) return undefined;
    if (typeof body["version"] !== "string") return undefined;
    const external = body["external_url"];
    return { version: body["version"], externalUrl: typeof external === "string" && external !== "" ? external : null };
  } catch {
    return undefined;
  }
}

/**
 * Connect to the ATC: check the URL, learn the version from /api/v1/info, log in or check the token.
 * Throws PoolBoyError ("config" for a bad URL, "atc" for everything the server said or did not say);
 * no message carries a password or token.
 */
export async function connectAtc(options: AtcOptions): Promise<AtcClient> {
  const baseUrl = checkAtcUrl(options.url);
  const displayUrl = baseUrl;
  const { auth, log } = options;
  if (auth.kind === "token") {
    // refused before sending: an expired token would only earn 401s
    const problem = unusableToken(auth.token, auth, Math.floor(Date.now() / 1000), displayUrl);
    if (problem) throw problem;
  }
  const http = new HttpTransport({
    baseUrl,
    insecure: options.insecure,
    caCert: options.caCert,
    concurrency: options.concurrency > 0 ? options.concurrency : 16,
    timeoutMs: options.timeoutMs,
    retries: Math.max(0, options.retries),
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    log,
    mask: options.mask,
  });
  try {
    const info = await http.send({ method: "GET", path: "/api/v1/info", headers: { accept: "application/json" } });
    let version: string | null = null;
    let externalUrl: string | null = null;
    let externalUrlKnown = false;
    if (info.kind === "failure") {
      if (info.tls) {
        throw new PoolBoyError("atc", redact(`cannot connect to Concourse at ${displayUrl}: ${info.detail}`), "give the CA certificate that signed the server's certificate (PEM), or turn TLS verification off only on a network you trust");
      }
      if (info.unreachable) {
        throw new PoolBoyError("atc", redact(`cannot reach Concourse at ${displayUrl}: ${info.detail}`), `check that the server is up and that ${options.urlSource ?? URL_SOURCE} is its web URL, e.g. https://ci.example.com`);
      }
      // slow or failing but there: go on without the version and let login find the way
      log?.(redact(`GET /api/v1/info failed (${info.detail}); going on without the Concourse version`));
    } else if (info.status >= 300 && info.status < 400) {
      throw new PoolBoyError("atc", `${displayUrl} redirects /api/v1/info (HTTP ${info.status}): not the Concourse API URL`, urlHint(options.urlSource));
    } else {
      const found = info.status === 200 ? infoVersion(info) : undefined;
      if (found === undefined) {
        throw new PoolBoyError("atc", `${displayUrl} is not a Concourse: GET /api/v1/info answered HTTP ${info.status}${info.status === 200 ? " without a version" : ""}`, urlHint(options.urlSource));
      }
      version = found.version;
      externalUrl = found.externalUrl;
      externalUrlKnown = true;
    }
    const parsed = parseVersion(version);
    log?.(`Concourse ${version ?? "(version unknown)"} at ${displayUrl}`);

    let token: string | null = null;
    let user: AtcUser | null = null;
    if (auth.kind === "password") {
      ({ token, user } = await passwordLogin(http, displayUrl, parsed, auth.username, auth.password, log));
    } else if (auth.kind === "token") {
      const check = await checkToken(http, auth.token, parsed);
      if (check.kind === "refused") {
        throw new PoolBoyError("atc", `Concourse at ${displayUrl} refused the token from ${auth.source} (HTTP ${check.status}): expired or revoked`, loginHint(auth, displayUrl));
      }
      if (check.kind === "unavailable" && check.unreachable) {
        throw new PoolBoyError("atc", redact(`cannot reach Concourse at ${displayUrl}: ${check.detail}`), "check that the server is up");
      }
      if (check.kind === "unavailable") log?.(redact(`could not check the token (${check.detail}); going on`));
      if (check.kind === "accepted") user = check.user;
      token = auth.token;
    }
    if (user) log?.(`the credentials are ${user.name ?? "a user"}'s, of team${user.teams.length === 1 ? "" : "s"} ${user.teams.join(", ") || "(none)"}${user.isAdmin ? " (admin)" : ""}`);
    return new AtcApiClient(displayUrl, version, externalUrl, externalUrlKnown, user, parsed, http, auth, token, log, options.mask);
  } catch (error) {
    await http.close();
    throw error;
  }
}
