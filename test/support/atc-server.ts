// A fake Concourse ATC: a real HTTP server on 127.0.0.1 that answers like the ATC of a given
// version line (reference concourse-api.md §1 login, §3 builds, §4 order of checks, §7.3 hand-off
// endpoints). Tests, the demo and the benchmark build their scenarios with its data API:
//
//   const atc = await startFakeAtc({ version: "7.11.2", users: [{ username: "ci", password: "pw", teams: ["main"] }] });
//   atc.addPipeline({ team: "main", name: "app", public: false, jobs: [{ name: "deploy", outputs: [{ name: "env", resource: "pool" }] }] });
//   const b = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started", outputs: [{ name: "env", resource: "pool", ref: sha }] });
//   atc.setStatus(b.id, "succeeded");
//   atc.inject({ kind: "status", status: 500 }, { times: 2, path: "/builds/" });
//   atc.requests; atc.maxInFlight; await atc.close();
//
// Simplifications: one role ("owner") per team, no admin users, metadata visibility reduced to
// "public pipeline or team member", one-off build names equal their ids.

import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { BuildStatus, InstanceVars, JsonValue } from "../../src/core/model.js";

// ---- the data API ------------------------------------------------------------------------------

export interface FakeUser {
  username: string;
  password: string;
  teams: string[];
  /** an admin reads every team (is_admin in the user endpoint) */
  admin?: boolean;
}

export interface FakeJobSpec {
  name: string;
  paused?: boolean;
  inputs?: Array<{ name: string; resource: string; passed?: string[]; trigger?: boolean }>;
  outputs?: Array<{ name: string; resource: string }>;
}

export interface FakePipelineSpec {
  team: string;
  name: string;
  /** null or absent: not instanced */
  instanceVars?: InstanceVars | null;
  public?: boolean;
  paused?: boolean;
  jobs?: FakeJobSpec[];
  /** resources no job mentions (jobs' inputs and outputs declare theirs) */
  resources?: string[];
}

/** Names a pipeline: team, name and instance vars (matched by JSON value and type). */
export interface FakePipelineRef {
  team: string;
  pipeline: string;
  instanceVars?: InstanceVars | null;
}

export interface FakeVersionUse {
  /** the get or put step's name */
  name: string;
  resource: string;
  /** the pool-resource version's ref: a commit sha */
  ref: string;
  /** put metadata; shown by the versions endpoint */
  metadata?: Array<{ name: string; value: string }>;
}

export interface FakeBuildSpec {
  team: string;
  /** null: a one-off build */
  pipeline: string | null;
  instanceVars?: InstanceVars | null;
  job?: string | null;
  /** the job-scoped name; default the job's next number. "42.1" makes a rerun of "42". */
  name?: string;
  status?: BuildStatus;
  inputs?: FakeVersionUse[];
  outputs?: FakeVersionUse[];
  createdBy?: string;
  comment?: string;
}

export interface FakeBuild {
  id: number;
  team: string;
  pipeline: string | null;
  instanceVars: InstanceVars | null;
  job: string | null;
  name: string;
  status: BuildStatus;
  inputs: FakeVersionUse[];
  outputs: FakeVersionUse[];
  startTime: number | null;
  endTime: number | null;
  createdBy: string | null;
  comment: string | null;
}

export type FakeFault =
  /** answer with this status (and body, default empty) */
  | { kind: "status"; status: number; body?: string; contentType?: string }
  /** never answer: the client's timeout has to fire */
  | { kind: "hang" }
  /** destroy the connection without an answer */
  | { kind: "reset" }
  /**
   * what an ingress or reverse proxy in front of the ATC answers while the ATC restarts or a route
   * is missing: an HTML page (default status 404), a body Concourse never writes
   */
  | { kind: "proxy"; status?: number };

/** nginx's 404 page, as an ingress in front of a restarting ATC answers */
export const PROXY_404_PAGE =
  "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

export interface RecordedRequest {
  method: string;
  /** path and query as received */
  path: string;
  /** whether an Authorization header came along (its value is never recorded) */
  authorized: boolean;
  /** the answer's status; 0 for a hang or a reset */
  status: number;
}

export interface FakeAtcOptions {
  /** decides login endpoint, token kind and JSON shapes (default "8.2.5") */
  version?: string;
  users?: FakeUser[];
  /** teams besides the users', pipelines' and builds' */
  teams?: string[];
  /** default 86400 (the ATC's --auth-duration 24h) */
  tokenLifetimeSeconds?: number;
  /** added to every answer */
  latencyMs?: number;
  pipelines?: FakePipelineSpec[];
  builds?: FakeBuildSpec[];
  /** serve HTTPS with this key and certificate (PEM) */
  tls?: { key: string; cert: string };
  /** external_url from 5.3 (default the server's own URL) */
  externalUrl?: string;
}

export interface FakeAtc {
  readonly url: string;
  readonly version: string;
  /** every request seen, in order of arrival */
  readonly requests: RecordedRequest[];
  /** the most requests being handled at once */
  readonly maxInFlight: number;
  /** TCP connections accepted: with keep-alive, far fewer than requests */
  readonly connections: number;
  latencyMs: number;
  /**
   * Awaited before each request is answered, with its path: lets a test change the world (push to
   * the pool repo, finish a build) at an exact point of a run, instead of racing a timer.
   */
  beforeAnswer: ((path: string) => Promise<void> | void) | null;
  addTeam(name: string): void;
  addPipeline(spec: FakePipelineSpec): void;
  addBuild(spec: FakeBuildSpec): FakeBuild;
  getBuild(id: number): FakeBuild | undefined;
  setStatus(id: number, status: BuildStatus): void;
  /** a version checked without any build (e.g. by `check`); returns its id */
  addVersion(pipeline: FakePipelineRef, resource: string, ref: string): number;
  versionId(pipeline: FakePipelineRef, resource: string, ref: string): number | undefined;
  setVersionEnabled(pipeline: FakePipelineRef, resource: string, ref: string, enabled: boolean): void;
  /** a token as the version's login hands out (negative lifetime: already expired) */
  issueToken(username: string, options?: { lifetimeSeconds?: number }): string;
  /** every token issued so far stops working (as after the ATC's --auth-duration) */
  expireAllTokens(): void;
  /** the next `times` (default 1) requests whose path contains `path` (or matches it) get the fault */
  inject(fault: FakeFault, options?: { times?: number; path?: string | RegExp }): void;
  clearRecords(): void;
  close(): Promise<void>;
}

// ---- helpers -------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface Version3 {
  major: number;
  minor: number;
  patch: number;
}

function parseVersion(text: string): Version3 {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) throw new Error(`fake ATC: version "${text}" is not x.y.z`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) };
}

/** JSON with object keys sorted: equal values, equal text (the jsonb comparison of instance vars). */
function canonical(value: JsonValue | undefined): string {
  if (value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

function varsKey(vars: InstanceVars | null | undefined): string {
  return vars && Object.keys(vars).length > 0 ? canonical(vars) : "null";
}

function isObject(value: unknown): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `vars.<ref>=<json>` and `vars=<json object>` → instance vars, as atc.InstanceVarsFromQueryParams.
 * Ref segments are split on "." unless quoted ("a.b"). Undefined: no vars given; Error: a 400.
 * Written apart from src/core/instance-vars.ts on purpose: the same module on both ends of the
 * wire would agree with itself even where it disagrees with the ATC.
 */
function readInstanceVars(params: URLSearchParams): InstanceVars | undefined | Error {
  let vars: InstanceVars | undefined;
  try {
    for (const [key, raw] of params) {
      if (key === "vars") {
        const value: unknown = JSON.parse(raw);
        if (!isObject(value)) return new Error("vars is not an object");
        vars = { ...(vars ?? {}), ...value };
      } else if (key.startsWith("vars.")) {
        const path = parseRef(key.slice(5));
        if (path instanceof Error) return path;
        const value = JSON.parse(raw) as JsonValue;
        vars ??= {};
        let node: { [key: string]: JsonValue } = vars;
        for (const [i, segment] of path.entries()) {
          if (i === path.length - 1) node[segment] = value;
          else {
            const next = node[segment];
            if (!isObject(next)) node[segment] = {};
            node = node[segment] as { [key: string]: JsonValue };
          }
        }
      }
    }
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  return vars;
}

function parseRef(ref: string): string[] | Error {
  const out: string[] = [];
  let i = 0;
  while (i < ref.length) {
    if (ref[i] === '"') {
      const end = ref.indexOf('"', i + 1);
      if (end < 0) return new Error(`unterminated quote in ${ref}`);
      out.push(ref.slice(i + 1, end));
      i = end + 1;
      if (i < ref.length && ref[i] !== ".") return new Error(`bad ref ${ref}`);
      i++;
    } else {
      const end = ref.indexOf(".", i);
      const segment = end < 0 ? ref.slice(i) : ref.slice(i, end);
      if (segment === "") return new Error(`empty segment in ${ref}`);
      out.push(segment);
      i = end < 0 ? ref.length : end + 1;
    }
  }
  return out.length ? out : new Error("empty ref");
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

// ---- the server ------------------------------------------------------------------------------------

interface Pipeline {
  id: number;
  team: string;
  name: string;
  instanceVars: InstanceVars | null;
  public: boolean;
  paused: boolean;
  jobs: Array<FakeJobSpec & { id: number }>;
  resources: Set<string>;
}

interface Version {
  id: number;
  pipelineId: number;
  resource: string;
  ref: string;
  enabled: boolean;
  metadata: Array<{ name: string; value: string }>;
}

interface Session {
  username: string;
  teams: string[];
  admin: boolean;
  exp: number;
}

interface FaultRule {
  fault: FakeFault;
  times: number;
  path: string | RegExp | undefined;
}

interface Answer {
  status: number;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

const json = (status: number, value: unknown, headers?: Record<string, string>): Answer => ({
  status,
  body: JSON.stringify(value),
  contentType: "application/json",
  ...(headers ? { headers } : {}),
});
const text = (status: number, body: string): Answer => ({ status, body, contentType: "text/plain; charset=utf-8" });
const empty = (status: number): Answer => ({ status, body: "" });
/** Go's http.NotFound, which answers every unknown route */
const PAGE_NOT_FOUND = text(404, "404 page not found\n");
const DEX_ACCESS_DENIED = { error: "access_denied", error_description: "Invalid username or password" };
const DEX_INVALID_CLIENT = { error: "invalid_client", error_description: "Invalid client credentials." };

class FakeAtcServer implements FakeAtc {
  url = "";
  readonly version: string;
  readonly requests: RecordedRequest[] = [];
  maxInFlight = 0;
  connections = 0;
  latencyMs: number;
  beforeAnswer: ((path: string) => Promise<void> | void) | null = null;

  private readonly v: Version3;
  private readonly users: FakeUser[];
  private readonly teams = new Set<string>();
  private readonly pipelines: Pipeline[] = [];
  private readonly builds = new Map<number, FakeBuild>();
  /** build id → pipeline id (null for one-off builds), and pipeline/job/name → build, so big scenarios stay fast */
  private readonly buildPipeline = new Map<number, number | null>();
  private readonly jobBuilds = new Map<string, FakeBuild>();
  private readonly jobCounters = new Map<string, number>();
  private readonly versions: Version[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly faults: FaultRule[] = [];
  private readonly tokenLifetime: number;
  private inFlight = 0;
  private nextId = { pipeline: 1, job: 1, build: 1, version: 1 };
  private readonly server: Server;

  constructor(private readonly options: FakeAtcOptions) {
    this.version = options.version ?? "8.2.5";
    this.v = parseVersion(this.version);
    this.users = options.users ?? [];
    this.latencyMs = options.latencyMs ?? 0;
    this.tokenLifetime = options.tokenLifetimeSeconds ?? 86_400;
    for (const team of options.teams ?? []) this.teams.add(team);
    for (const user of this.users) for (const team of user.teams) this.teams.add(team);
    for (const spec of options.pipelines ?? []) this.addPipeline(spec);
    for (const spec of options.builds ?? []) this.addBuild(spec);
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
    this.server.on(options.tls ? "secureConnection" : "connection", () => this.connections++);
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.url = `${this.options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  }

  private atLeast(major: number, minor: number): boolean {
    return this.v.major > major || (this.v.major === major && this.v.minor >= minor);
  }

  // ---- data ----

  addTeam(name: string): void {
    this.teams.add(name);
  }

  addPipeline(spec: FakePipelineSpec): void {
    this.teams.add(spec.team);
    const key = varsKey(spec.instanceVars);
    if (this.pipelines.some((p) => p.team === spec.team && p.name === spec.name && varsKey(p.instanceVars) === key)) {
      throw new Error(`fake ATC: pipeline ${spec.team}/${spec.name} ${key} exists already`);
    }
    const jobs = (spec.jobs ?? []).map((job) => ({ ...job, id: this.nextId.job++ }));
    const resources = new Set(spec.resources ?? []);
    for (const job of jobs) {
      for (const input of job.inputs ?? []) resources.add(input.resource);
      for (const output of job.outputs ?? []) resources.add(output.resource);
    }
    this.pipelines.push({
      id: this.nextId.pipeline++,
      team: spec.team,
      name: spec.name,
      instanceVars: spec.instanceVars && Object.keys(spec.instanceVars).length > 0 ? spec.instanceVars : null,
      public: spec.public ?? false,
      paused: spec.paused ?? false,
      jobs,
      resources,
    });
  }

  private findPipeline(team: string, name: string, vars: InstanceVars | null | undefined): Pipeline | undefined {
    const key = varsKey(vars);
    return this.pipelines.find((p) => p.team === team && p.name === name && varsKey(p.instanceVars) === key);
  }

  private pipelineOf(ref: FakePipelineRef): Pipeline {
    const pipeline = this.findPipeline(ref.team, ref.pipeline, ref.instanceVars);
    if (!pipeline) throw new Error(`fake ATC: no pipeline ${ref.team}/${ref.pipeline} ${varsKey(ref.instanceVars)}`);
    return pipeline;
  }

  private ensureVersion(pipeline: Pipeline, resource: string, ref: string, metadata?: FakeVersionUse["metadata"]): Version {
    pipeline.resources.add(resource);
    let version = this.versions.find((v) => v.pipelineId === pipeline.id && v.resource === resource && v.ref === ref);
    if (!version) {
      version = { id: this.nextId.version++, pipelineId: pipeline.id, resource, ref, enabled: true, metadata: metadata ?? [] };
      this.versions.push(version);
    }
    return version;
  }

  /** Pipelines and jobs a build names are created when missing (private, no inputs or outputs). */
  addBuild(spec: FakeBuildSpec): FakeBuild {
    this.teams.add(spec.team);
    const id = this.nextId.build++;
    let name = spec.name ?? String(id);
    let job: string | null = null;
    let instanceVars: InstanceVars | null = null;
    if (spec.pipeline !== null) {
      if (!spec.job) throw new Error("fake ATC: a pipeline build needs a job");
      job = spec.job;
      if (!this.findPipeline(spec.team, spec.pipeline, spec.instanceVars)) {
        this.addPipeline({ team: spec.team, name: spec.pipeline, instanceVars: spec.instanceVars ?? null, jobs: [] });
      }
      const pipeline = this.pipelineOf({ team: spec.team, pipeline: spec.pipeline, instanceVars: spec.instanceVars ?? null });
      instanceVars = pipeline.instanceVars;
      if (!pipeline.jobs.some((j) => j.name === spec.job)) pipeline.jobs.push({ name: spec.job, id: this.nextId.job++ });
      // job build names count up per job, after any number given explicitly
      const counter = `${pipeline.id}\u0000${job}`;
      const last = this.jobCounters.get(counter) ?? 0;
      if (spec.name === undefined) name = String(last + 1);
      const number = /^\d+$/.test(name) ? Number(name) : 0;
      this.jobCounters.set(counter, Math.max(last, number));
      // a put's version is saved when the step ends, before the build does; inputs were checked earlier
      for (const input of spec.inputs ?? []) this.ensureVersion(pipeline, input.resource, input.ref);
      for (const output of spec.outputs ?? []) this.ensureVersion(pipeline, output.resource, output.ref, output.metadata);
    }
    const status = spec.status ?? "started";
    const t = now();
    const build: FakeBuild = {
      id,
      team: spec.team,
      pipeline: spec.pipeline,
      instanceVars,
      job,
      name,
      status,
      inputs: spec.inputs ?? [],
      outputs: spec.outputs ?? [],
      startTime: status === "pending" ? null : t,
      endTime: status === "pending" || status === "started" ? null : t,
      createdBy: spec.createdBy ?? null,
      comment: spec.comment ?? null,
    };
    this.builds.set(id, build);
    const pipelineId = spec.pipeline === null ? null : (this.findPipeline(spec.team, spec.pipeline, instanceVars)?.id ?? null);
    this.buildPipeline.set(id, pipelineId);
    if (pipelineId !== null) this.jobBuilds.set(`${pipelineId}\u0000${job}\u0000${name}`, build);
    return build;
  }

  getBuild(id: number): FakeBuild | undefined {
    return this.builds.get(id);
  }

  setStatus(id: number, status: BuildStatus): void {
    const build = this.builds.get(id);
    if (!build) throw new Error(`fake ATC: no build ${id}`);
    build.status = status;
    if (status !== "pending") build.startTime ??= now();
    build.endTime = status === "pending" || status === "started" ? null : now();
  }

  addVersion(pipeline: FakePipelineRef, resource: string, ref: string): number {
    return this.ensureVersion(this.pipelineOf(pipeline), resource, ref).id;
  }

  versionId(pipeline: FakePipelineRef, resource: string, ref: string): number | undefined {
    const p = this.pipelineOf(pipeline);
    return this.versions.find((v) => v.pipelineId === p.id && v.resource === resource && v.ref === ref)?.id;
  }

  setVersionEnabled(pipeline: FakePipelineRef, resource: string, ref: string, enabled: boolean): void {
    const p = this.pipelineOf(pipeline);
    const version = this.versions.find((v) => v.pipelineId === p.id && v.resource === resource && v.ref === ref);
    if (!version) throw new Error(`fake ATC: no version ${ref} of ${resource}`);
    version.enabled = enabled;
  }

  // ---- tokens ----

  private user(username: string): FakeUser {
    const user = this.users.find((u) => u.username === username);
    if (!user) throw new Error(`fake ATC: no user ${username}`);
    return user;
  }

  private jwt(claims: Record<string, JsonValue>): string {
    // Nobody checks the signature but this server, which knows its tokens by heart.
    return `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.${b64url(randomBytes(32))}`;
  }

  private teamRoles(user: FakeUser): Record<string, JsonValue> {
    return Object.fromEntries(user.teams.map((team) => [team, ["owner"]]));
  }

  /** Issue tokens as the version line does; returns the token body fields. */
  private login(user: FakeUser, lifetime: number): { accessToken: string; idToken: string | null; exp: number } {
    const exp = now() + lifetime;
    const session: Session = { username: user.username, teams: user.teams, admin: user.admin === true, exp };
    if (!this.atLeast(6, 1)) {
      const token = this.jwt({
        sub: `local:${user.username}`,
        email: user.username,
        name: user.username,
        user_id: user.username,
        user_name: user.username,
        teams: this.teamRoles(user),
        is_admin: user.admin === true,
        exp,
        csrf: randomBytes(16).toString("hex"),
      });
      this.sessions.set(token, session);
      return { accessToken: token, idToken: null, exp };
    }
    const idToken = this.jwt({
      iss: `${this.url}/sky/issuer`,
      sub: b64url(`local:${user.username}`),
      aud: "fly",
      exp,
      iat: now(),
      email: user.username,
      email_verified: true,
      groups: user.teams,
      name: user.username,
      federated_claims: { connector_id: "local", user_id: user.username },
    });
    if (!this.atLeast(6, 5)) {
      // 6.1–6.4 accept Dex's id_token; Dex's own access_token means nothing to the ATC
      this.sessions.set(idToken, session);
      return { accessToken: b64url(randomBytes(24)), idToken, exp };
    }
    const raw = Buffer.alloc(28);
    randomBytes(20).copy(raw);
    raw.writeBigUInt64LE(BigInt(exp), 20);
    const accessToken = raw.toString("base64").replace(/=+$/, "");
    this.sessions.set(accessToken, session);
    return { accessToken, idToken, exp };
  }

  issueToken(username: string, options: { lifetimeSeconds?: number } = {}): string {
    const { accessToken, idToken } = this.login(this.user(username), options.lifetimeSeconds ?? this.tokenLifetime);
    return this.atLeast(6, 1) && !this.atLeast(6, 5) && idToken ? idToken : accessToken;
  }

  expireAllTokens(): void {
    for (const session of this.sessions.values()) session.exp = now() - 1;
  }

  // ---- faults and records ----

  inject(fault: FakeFault, options: { times?: number; path?: string | RegExp } = {}): void {
    this.faults.push({ fault, times: options.times ?? 1, path: options.path });
  }

  private takeFault(path: string): FakeFault | null {
    for (const rule of this.faults) {
      if (rule.times <= 0) continue;
      const matches = rule.path === undefined || (typeof rule.path === "string" ? path.includes(rule.path) : rule.path.test(path));
      if (!matches) continue;
      rule.times--;
      return rule.fault;
    }
    return null;
  }

  clearRecords(): void {
    this.requests.length = 0;
    this.maxInFlight = 0;
    this.connections = 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: RecordedRequest = { method: req.method ?? "GET", path: req.url ?? "/", authorized: req.headers.authorization !== undefined, status: 0 };
    this.requests.push(record);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        this.inFlight--;
      }
    };
    res.on("close", finish);
    const body = await readBody(req);
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (this.beforeAnswer) await this.beforeAnswer(record.path);
    const fault = this.takeFault(record.path);
    if (fault?.kind === "hang") return;
    if (fault?.kind === "reset") {
      req.socket.destroy();
      finish();
      return;
    }
    let answer: Answer;
    if (fault?.kind === "status") answer = { status: fault.status, body: fault.body ?? "", ...(fault.contentType ? { contentType: fault.contentType } : {}) };
    else if (fault?.kind === "proxy") answer = { status: fault.status ?? 404, body: PROXY_404_PAGE, contentType: "text/html" };
    else {
      try {
        answer = this.route(req, body);
      } catch (error) {
        answer = text(500, `fake ATC: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    record.status = answer.status;
    if (res.destroyed) return;
    const headers: Record<string, string> = { ...(answer.headers ?? {}) };
    if (answer.contentType) headers["content-type"] = answer.contentType;
    res.writeHead(answer.status, headers);
    res.end(answer.body ?? "");
  }

  private route(req: IncomingMessage, body: string): Answer {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const parts = url.pathname.split("/").slice(1).map((part) => decodeURIComponent(part));
    const session = this.session(req);
    const sentToken = req.headers.authorization !== undefined;
    const p = url.pathname;

    if (p === "/sky/token" && method === "POST") return this.skyToken(req, body);
    if (p === "/sky/issuer/token" && method === "POST") return this.issuerToken(req, body);
    if (p === "/sky/userinfo" && method === "GET") return this.atLeast(6, 1) ? PAGE_NOT_FOUND : this.userinfo(session);
    if (parts[0] !== "api" || parts[1] !== "v1" || method !== "GET") return PAGE_NOT_FOUND;
    const rest = parts.slice(2);

    if (rest.length === 1 && rest[0] === "info") {
      // since 5.2 a token that is sent must be valid
      if (sentToken && !session && this.atLeast(5, 2)) return text(401, "not authorized");
      return json(200, this.info());
    }
    if (rest.length === 1 && rest[0] === "user") {
      if (!this.atLeast(6, 1)) return PAGE_NOT_FOUND;
      return session ? json(200, this.userJson(session)) : text(401, "not authorized");
    }
    if (rest[0] === "builds" && rest.length >= 2 && rest.length <= 3) {
      if (rest.length === 3 && rest[2] !== "resources") return PAGE_NOT_FOUND;
      return this.buildById(rest[1] ?? "", session, rest.length === 3);
    }
    if (rest[0] === "teams" && rest[2] === "pipelines" && rest.length >= 5) {
      const [, team = "", , pipelineName = "", kind, ...tail] = rest;
      const access = this.pipelineAccess(team, pipelineName, url.searchParams, session);
      if ("status" in access) return access;
      const pipeline = access.pipeline;
      const member = session !== null && (session.admin || session.teams.includes(pipeline.team));
      if (kind === "jobs") {
        if (tail.length === 0) return json(200, pipeline.jobs.map((job) => this.jobJson(pipeline, job, true)));
        const job = pipeline.jobs.find((j) => j.name === tail[0]);
        if (!job) return empty(404);
        if (tail.length === 1) return json(200, this.jobJson(pipeline, job, false));
        if (tail.length === 3 && tail[1] === "builds") {
          const build = this.jobBuild(pipeline, job.name, tail[2] ?? "");
          return build ? json(200, this.buildJson(build)) : empty(404);
        }
        return PAGE_NOT_FOUND;
      }
      if (kind === "resources" && tail.length >= 2 && tail[1] === "versions") {
        const resource = tail[0] ?? "";
        if (!pipeline.resources.has(resource)) return empty(404);
        if (tail.length === 2) return this.listVersions(pipeline, resource, url.searchParams, member || pipeline.public);
        if (tail.length === 4 && tail[3] === "input_to") {
          // a non-numeric id reads as 0, which no version has
          const id = /^\d+$/.test(tail[2] ?? "") ? Number(tail[2]) : 0;
          const version = this.versions.find((v) => v.id === id && v.pipelineId === pipeline.id && v.resource === resource);
          if (!version) return json(200, []);
          const builds = [...this.builds.values()].filter(
            (b) => b.status !== "pending" && this.pipelineIdOf(b) === pipeline.id && b.inputs.some((i) => i.resource === resource && i.ref === version.ref),
          );
          return json(200, builds.map((b) => this.buildJson(b)));
        }
      }
      return PAGE_NOT_FOUND;
    }
    return PAGE_NOT_FOUND;
  }

  private session(req: IncomingMessage): Session | null {
    const header = req.headers.authorization;
    if (!header) return null;
    const [scheme, token] = header.split(" ", 2);
    if (!scheme || scheme.toLowerCase() !== "bearer" || !token) return null;
    const session = this.sessions.get(token);
    // an expired token counts as no token at all
    return session && session.exp > now() ? session : null;
  }

  private info(): Json {
    const out: Json = { version: this.version, worker_version: "2.5" };
    if (this.atLeast(5, 3)) out["external_url"] = this.options.externalUrl ?? this.url;
    if (this.atLeast(7, 4)) out["feature_flags"] = { global_resources: false, build_rerun: true, cache_streamed_volumes: false, resource_causality: false };
    return out;
  }

  private userJson(session: Session): Json {
    const teams = Object.fromEntries(session.teams.map((team) => [team, ["owner"]]));
    const out: Json = { sub: b64url(`local:${session.username}`), name: session.username, user_id: session.username, user_name: session.username, email: session.username, is_admin: session.admin, is_system: false, teams };
    if (this.atLeast(7, 0)) Object.assign(out, { connector: "local", display_user_id: session.username });
    return out;
  }

  private userinfo(session: Session | null): Answer {
    if (!session) return text(401, "not authorized");
    const teams = Object.fromEntries(session.teams.map((team) => [team, ["owner"]]));
    return json(200, { exp: session.exp, sub: `local:${session.username}`, user_id: session.username, user_name: session.username, name: session.username, email: session.username, csrf: "x", is_admin: session.admin, teams });
  }

  // ---- login ----

  private checkPassword(form: URLSearchParams): FakeUser | null {
    const user = this.users.find((u) => u.username === form.get("username"));
    return user && user.password === form.get("password") ? user : null;
  }

  /** Dex's scope rules: openid required, only known scopes. Null when fine. */
  private scopeError(scope: string): string | null {
    const scopes = scope.split(/[+ ]/).filter(Boolean);
    const known = new Set(["openid", "offline_access", "email", "profile", "groups", "federated:id"]);
    const unknown = scopes.filter((s) => !known.has(s) && !s.startsWith("audience:server:client_id:"));
    if (unknown.length) return `Unrecognized scope(s) ${JSON.stringify(unknown)}`;
    if (!scopes.includes("openid")) return `Missing required scope(s) ["openid"].`;
    return null;
  }

  /** 5.0–6.0: the skyserver in front of Dex (Basic auth only; Dex errors relayed as text). */
  private skyToken(req: IncomingMessage, body: string): Answer {
    if (this.atLeast(6, 1)) return PAGE_NOT_FOUND;
    if (req.headers.authorization !== "Basic Zmx5OlpteDU=") return empty(401);
    const form = new URLSearchParams(body);
    if (form.get("grant_type") !== "password") return empty(400);
    const scopeError = this.scopeError(form.get("scope") ?? "");
    if (scopeError) return text(400, `${JSON.stringify({ error: "invalid_request", error_description: scopeError })}\n`);
    const user = this.checkPassword(form);
    if (!user) return text(401, `${JSON.stringify(DEX_ACCESS_DENIED)}\n`);
    if (user.teams.length === 0) return empty(400);
    const { accessToken, exp } = this.login(user, this.tokenLifetime);
    return json(200, { access_token: accessToken, token_type: "Bearer", expiry: new Date(exp * 1000).toISOString() });
  }

  /** Dex's token endpoint; the fly client exists from 6.1. */
  private issuerToken(req: IncomingMessage, body: string): Answer {
    const form = new URLSearchParams(body);
    if (!this.atLeast(6, 1)) return json(401, DEX_INVALID_CLIENT);
    const basic = req.headers.authorization?.startsWith("Basic ") ? Buffer.from(req.headers.authorization.slice(6), "base64").toString() : null;
    const client = basic ?? `${form.get("client_id") ?? ""}:${form.get("client_secret") ?? ""}`;
    if (client !== "fly:Zmx5") return json(401, DEX_INVALID_CLIENT);
    if (form.get("grant_type") !== "password") return json(400, { error: "unsupported_grant_type" });
    const scopeError = this.scopeError(form.get("scope") ?? "");
    if (scopeError) return json(400, { error: "invalid_request", error_description: scopeError });
    const user = this.checkPassword(form);
    if (!user) return json(401, DEX_ACCESS_DENIED);
    const { accessToken, idToken } = this.login(user, this.tokenLifetime);
    return json(200, { access_token: accessToken, token_type: "bearer", expires_in: this.tokenLifetime - 1, id_token: idToken });
  }

  // ---- access ----

  /** Reference §4 steps 1–4: bad vars 400, team 404, pipeline 404, then public or member, else 401/403. */
  private pipelineAccess(team: string, name: string, query: URLSearchParams, session: Session | null): { pipeline: Pipeline } | Answer {
    let vars: InstanceVars | undefined;
    if (this.atLeast(7, 0)) {
      const parsed = readInstanceVars(query);
      if (parsed instanceof Error) return empty(400);
      vars = parsed;
    }
    if (!this.teams.has(team)) return empty(404);
    const pipeline = this.findPipeline(team, name, vars ?? null);
    if (!pipeline) return empty(404);
    if (pipeline.public || session?.admin || session?.teams.includes(team)) return { pipeline };
    return session ? text(403, "forbidden") : text(401, "not authorized");
  }

  private pipelineIdOf(build: FakeBuild): number | null {
    return this.buildPipeline.get(build.id) ?? null;
  }

  /** GetBuild and build resources: the team, or anyone when the build's pipeline is public. */
  private buildById(rawId: string, session: Session | null, resources: boolean): Answer {
    if (!/^\d+$/.test(rawId)) return empty(400);
    const build = this.builds.get(Number(rawId));
    if (!build) return empty(404);
    const pipelineId = this.pipelineIdOf(build);
    const pipeline = this.pipelines.find((p) => p.id === pipelineId);
    const allowed = session?.admin || session?.teams.includes(build.team) || pipeline?.public === true;
    if (!allowed) {
      // v5 answers 401 to anyone outside the team for a one-off build
      if (!session || (build.pipeline === null && !this.atLeast(6, 0))) return text(401, "not authorized");
      return text(403, "forbidden");
    }
    return json(200, resources ? this.resourcesJson(build) : this.buildJson(build));
  }

  private jobBuild(pipeline: Pipeline, job: string, name: string): FakeBuild | undefined {
    if (name === "latest") return [...this.builds.values()].filter((b) => this.pipelineIdOf(b) === pipeline.id && b.job === job).at(-1);
    return this.jobBuilds.get(`${pipeline.id}\u0000${job}\u0000${name}`);
  }

  // ---- JSON of each version line ----

  private buildJson(build: FakeBuild): Json {
    const pipelineId = this.pipelineIdOf(build);
    const out: Json = { id: build.id, team_name: build.team, name: build.name, status: build.status, api_url: `/api/v1/builds/${build.id}` };
    if (this.atLeast(7, 4) && build.comment) out["comment"] = build.comment;
    if (build.job) out["job_name"] = build.job;
    if (this.atLeast(7, 0) && pipelineId !== null) out["pipeline_id"] = pipelineId;
    if (build.pipeline) out["pipeline_name"] = build.pipeline;
    if (this.atLeast(7, 0) && build.instanceVars) out["pipeline_instance_vars"] = build.instanceVars;
    if (build.startTime !== null) out["start_time"] = build.startTime;
    if (build.endTime !== null) out["end_time"] = build.endTime;
    const rerun = /^(\d+)\.(\d+)$/.exec(build.name);
    if (this.atLeast(6, 0) && rerun) {
      out["rerun_number"] = Number(rerun[2]);
      const original = [...this.builds.values()].find((b) => b.team === build.team && b.pipeline === build.pipeline && b.job === build.job && b.name === rerun[1] && varsKey(b.instanceVars) === varsKey(build.instanceVars));
      if (original) out["rerun_of"] = { id: original.id, name: original.name };
    }
    if (this.atLeast(7, 0) && build.createdBy) out["created_by"] = build.createdBy;
    return out;
  }

  /** 7.0+ BuildSummary, in the jobs list */
  private buildSummary(build: FakeBuild): Json {
    const out: Json = { id: build.id, name: build.name, status: build.status };
    if (build.startTime !== null) out["start_time"] = build.startTime;
    if (build.endTime !== null) out["end_time"] = build.endTime;
    out["team_name"] = build.team;
    const pipelineId = this.pipelineIdOf(build);
    if (pipelineId !== null) out["pipeline_id"] = pipelineId;
    if (build.pipeline) out["pipeline_name"] = build.pipeline;
    if (build.instanceVars) out["pipeline_instance_vars"] = build.instanceVars;
    if (build.job) out["job_name"] = build.job;
    return out;
  }

  /** 5.x: Job with inputs/outputs always; 6.x: Job, empty ones omitted; 7.0+: JobSummary in the list. */
  private jobJson(pipeline: Pipeline, job: FakeJobSpec & { id: number }, inList: boolean): Json {
    const builds = [...this.builds.values()].filter((b) => this.pipelineIdOf(b) === pipeline.id && b.job === job.name);
    const next = builds.find((b) => b.status === "pending" || b.status === "started") ?? null;
    const finished = builds.filter((b) => b.status !== "pending" && b.status !== "started").at(-1) ?? null;
    const summary = inList && this.atLeast(7, 0);
    const inputs = (job.inputs ?? []).map((input) => {
      const out: Json = { name: input.name, resource: input.resource };
      if (input.passed && input.passed.length > 0) out["passed"] = input.passed;
      if (!this.atLeast(7, 0) || input.trigger) out["trigger"] = input.trigger ?? false;
      return out;
    });
    const outputs = (job.outputs ?? []).map((output) => ({ name: output.name, resource: output.resource }));
    const out: Json = { id: job.id, name: job.name };
    if (summary) {
      Object.assign(out, { team_name: pipeline.team, pipeline_id: pipeline.id, pipeline_name: pipeline.name });
      if (pipeline.instanceVars) out["pipeline_instance_vars"] = pipeline.instanceVars;
      if (job.paused) out["paused"] = true;
      if (inputs.length) out["inputs"] = inputs;
      if (outputs.length) out["outputs"] = outputs;
      if (next) out["next_build"] = this.buildSummary(next);
      if (finished) out["finished_build"] = this.buildSummary(finished);
      return out;
    }
    Object.assign(out, { pipeline_name: pipeline.name, team_name: pipeline.team });
    if (this.atLeast(7, 0)) {
      out["pipeline_id"] = pipeline.id;
      if (pipeline.instanceVars) out["pipeline_instance_vars"] = pipeline.instanceVars;
    }
    if (job.paused) out["paused"] = true;
    out["next_build"] = next ? this.buildJson(next) : null;
    out["finished_build"] = finished ? this.buildJson(finished) : null;
    if (!this.atLeast(6, 0) || inputs.length) out["inputs"] = inputs;
    if (!this.atLeast(6, 0) || outputs.length) out["outputs"] = outputs;
    out["groups"] = [];
    return out;
  }

  private resourcesJson(build: FakeBuild): Json {
    const pipelineId = this.pipelineIdOf(build);
    const put = new Set(build.outputs.map((o) => `${o.resource}\u0000${o.ref}`));
    // inputs are recorded when the build starts; one the build also put is left out
    const inputs = build.status === "pending" ? [] : build.inputs.filter((i) => !put.has(`${i.resource}\u0000${i.ref}`));
    return {
      inputs: inputs.map((input) => ({ name: input.name, version: { ref: input.ref }, pipeline_id: pipelineId ?? 0, first_occurrence: false })),
      outputs: build.outputs.map((output) => ({ name: output.name, version: { ref: output.ref } })),
    };
  }

  private listVersions(pipeline: Pipeline, resource: string, query: URLSearchParams, showMetadata: boolean): Answer {
    let list = this.versions.filter((v) => v.pipelineId === pipeline.id && v.resource === resource).sort((a, b) => b.id - a.id);
    if (this.atLeast(5, 5)) {
      for (const filter of query.getAll("filter")) {
        const at = filter.indexOf(":");
        const key = filter.slice(0, at);
        const value = filter.slice(at + 1);
        // the only version field pool-resource has is `ref`
        list = list.filter((v) => key === "ref" && v.ref === value);
      }
    }
    // 5.x pages with since (exclusive), 6.0+ with to (inclusive); both count towards older versions
    const since = Number(query.get("since") ?? NaN);
    const to = Number(query.get("to") ?? NaN);
    if (Number.isFinite(since)) list = list.filter((v) => v.id < since);
    if (Number.isFinite(to)) list = list.filter((v) => v.id <= to);
    const limit = Math.max(1, Number(query.get("limit") ?? 100) || 100);
    const page = list.slice(0, limit);
    const headers: Record<string, string> = {};
    const more = list[limit];
    if (more) {
      const last = page.at(-1);
      const params = new URLSearchParams();
      if (this.atLeast(6, 0)) params.set("to", String(more.id));
      else params.set("since", String(last?.id ?? more.id + 1));
      params.set("limit", String(limit));
      if (this.atLeast(7, 0) && pipeline.instanceVars) for (const [key, value] of Object.entries(pipeline.instanceVars)) params.set(`vars.${key}`, JSON.stringify(value));
      const base = this.options.externalUrl ?? this.url;
      headers["link"] = `<${base}/api/v1/teams/${encodeURIComponent(pipeline.team)}/pipelines/${encodeURIComponent(pipeline.name)}/resources/${encodeURIComponent(resource)}/versions?${params.toString()}>; rel="next"`;
    }
    const body = page.map((v) => {
      const out: Json = { id: v.id, version: { ref: v.ref }, enabled: v.enabled };
      const alwaysMetadata = this.v.major === 5 && this.v.minor === 0;
      if (alwaysMetadata || (showMetadata && v.metadata.length > 0)) out["metadata"] = showMetadata ? v.metadata : [];
      return out;
    });
    return json(200, body, headers);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(""));
  });
}

export async function startFakeAtc(options: FakeAtcOptions = {}): Promise<FakeAtc> {
  const server = new FakeAtcServer(options);
  await server.listen();
  return server;
}
