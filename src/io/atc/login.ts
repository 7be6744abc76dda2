// Logging in with a local user's username and password, the way fly does, for every API line
// (reference §1), and checking that the ATC accepts a token.
//
// | Concourse      | endpoint            | token sent as Bearer |
// | 5.0 – 6.0.x    | POST /sky/token     | access_token (ATC JWT) |
// | 6.1 – 6.4.x    | POST /sky/issuer/token | id_token (Dex JWT) |
// | 6.5 – newest   | POST /sky/issuer/token | access_token (opaque) |
//
// When /api/v1/info gives no usable version (unavailable, "0.0.0-dev", a proxy's answer), the
// endpoints are tried newest first: the issuer, then /sky/token, moving on when an endpoint does
// not exist (404) or does not know the fly client (5.x Dex answers 401 invalid_client). From the
// issuer's answer the token that looks like a 6.5+ opaque access token is tried first, otherwise the
// id_token (6.1–6.4 sends a Dex access_token the ATC would not accept); each candidate is checked
// with the user endpoint and the first one the ATC accepts wins. With a known version the same
// fallbacks apply, in the version's order, so a mislabelled server still works.

import { PoolBoyError } from "../../core/errors.js";
import { redact, registerSecret } from "../../core/redact.js";
import type { HttpAnswer, HttpTransport } from "./http.js";
import { isOpaqueAccessToken } from "./token.js";
import type { ConcourseUser } from "../../core/model.js";

export interface AtcVersion {
  major: number;
  minor: number;
  patch: number;
}

/** "7.11.2", "v6.3.0", "8.2.5+abc" → the numbers; "0.0.0-dev" and anything else → null (unknown). */
export function parseVersion(text: string | null): AtcVersion | null {
  if (!text) return null;
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!match) return null;
  const version = { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) };
  // dev builds report 0.0.0-dev whatever their code is
  if (version.major === 0) return null;
  return version;
}

export function atLeast(version: AtcVersion, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

/** golang oauth2's client auth for fly: `fly:Zmx5`, hard-coded in every ATC. */
export const FLY_CLIENT_BASIC = "Basic Zmx5OlpteDU=";
export const PASSWORD_SCOPE = "openid profile email federated:id groups";

/** The form fly posts (x/oauth2 PasswordCredentialsToken: url.Values, keys sorted). */
export function passwordGrantBody(username: string, password: string): string {
  return new URLSearchParams([
    ["grant_type", "password"],
    ["password", password],
    ["scope", PASSWORD_SCOPE],
    ["username", username],
  ]).toString();
}

export type TokenEndpoint = "/sky/token" | "/sky/issuer/token";

export function loginEndpoints(version: AtcVersion | null): TokenEndpoint[] {
  if (version && !atLeast(version, 6, 1)) return ["/sky/token", "/sky/issuer/token"];
  return ["/sky/issuer/token", "/sky/token"];
}

/** Where to check a token: /api/v1/user from 6.1, /sky/userinfo before. */
export function userEndpoints(version: AtcVersion | null): string[] {
  if (!version) return ["/api/v1/user", "/sky/userinfo"];
  return atLeast(version, 6, 1) ? ["/api/v1/user"] : ["/sky/userinfo"];
}

/** The tokens of a successful token answer, in the order to try them. */
export function tokenCandidates(endpoint: TokenEndpoint, body: Record<string, unknown>, version: AtcVersion | null): string[] {
  const access = typeof body["access_token"] === "string" && body["access_token"] ? body["access_token"] : null;
  const id = typeof body["id_token"] === "string" && body["id_token"] ? body["id_token"] : null;
  let order: Array<string | null>;
  if (endpoint === "/sky/token") order = [access];
  else if (version && atLeast(version, 6, 5)) order = [access, id];
  else if (version && atLeast(version, 6, 1)) order = [id, access];
  else order = access && isOpaqueAccessToken(access) ? [access, id] : [id, access];
  return [...new Set(order.filter((token): token is string => token !== null))];
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text.trim());
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Dex's `{"error","error_description"}`, which 5.x relays as text/plain with a newline. */
function dexError(answer: HttpAnswer): { error: string; description: string } | null {
  const body = parseJsonObject(answer.body);
  if (!body || typeof body["error"] !== "string") return null;
  const description = typeof body["error_description"] === "string" ? body["error_description"] : "";
  return { error: body["error"], description };
}

export type AtcUser = ConcourseUser;

/** `/api/v1/user` (6.1+) or `/sky/userinfo` (5.x – 6.0) → AtcUser; teams as `{"main":["owner"]}` (or a list). */
export function readUser(text: string): AtcUser | null {
  const body = parseJsonObject(text);
  if (!body) return null;
  const raw = body["teams"];
  let teams: string[] = [];
  if (Array.isArray(raw)) teams = raw.filter((t): t is string => typeof t === "string");
  else if (raw && typeof raw === "object") teams = Object.keys(raw);
  const name = [body["user_name"], body["name"], body["sub"]].find((v): v is string => typeof v === "string" && v !== "") ?? null;
  return { name, teams: teams.sort(), isAdmin: body["is_admin"] === true };
}

export type TokenCheck =
  | { kind: "accepted"; endpoint: string; user: AtcUser | null }
  | { kind: "refused"; status: number }
  | { kind: "unavailable"; detail: string; unreachable: boolean };

/** Ask the ATC whether it accepts the token. 404 on one user endpoint moves to the next. */
export async function checkToken(http: HttpTransport, token: string, version: AtcVersion | null): Promise<TokenCheck> {
  let last: TokenCheck = { kind: "unavailable", detail: "no user endpoint answered", unreachable: false };
  for (const endpoint of userEndpoints(version)) {
    const result = await http.send({ method: "GET", path: endpoint, headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
    if (result.kind === "failure") return { kind: "unavailable", detail: result.detail, unreachable: result.unreachable };
    if (result.status === 200) return { kind: "accepted", endpoint, user: readUser(result.body) };
    if (result.status === 401 || result.status === 403) return { kind: "refused", status: result.status };
    last = { kind: "unavailable", detail: redact(`GET ${endpoint} answered HTTP ${result.status}`), unreachable: false };
  }
  return last;
}

export interface LoginResult {
  token: string;
  endpoint: TokenEndpoint;
  /** who logged in and their teams, when the user endpoint said */
  user: AtcUser | null;
}

/**
 * Log in with username and password. Throws PoolBoyError("atc") for refused credentials or a server
 * that will not hand out a token; the password never appears in any message.
 */
export async function passwordLogin(
  http: HttpTransport,
  displayUrl: string,
  version: AtcVersion | null,
  username: string,
  password: string,
  log?: (line: string) => void,
): Promise<LoginResult> {
  registerSecret(password);
  const credentialsHint = `check the Concourse username and password (a local user of the team): fly -t TARGET login -c ${displayUrl} -u ${username} must accept them too`;
  const tried: string[] = [];
  for (const endpoint of loginEndpoints(version)) {
    const result = await http.send({
      method: "POST",
      path: endpoint,
      headers: { authorization: FLY_CLIENT_BASIC, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: passwordGrantBody(username, password),
    });
    if (result.kind === "failure") {
      throw new PoolBoyError("atc", redact(`cannot log in to Concourse at ${displayUrl}: ${result.detail}`), "check that the server is up and the URL is right (CONCOURSE_BASE_URL/--concourse-url)");
    }
    const dex = dexError(result);
    if (result.status === 200) {
      const body = parseJsonObject(result.body);
      const candidates = body ? tokenCandidates(endpoint, body, version) : [];
      candidates.forEach(registerSecret);
      if (candidates.length === 0) {
        tried.push(`${endpoint}: 200 without a token`);
        continue;
      }
      for (const token of candidates) {
        const check = await checkToken(http, token, version);
        if (check.kind === "accepted") {
          log?.(`logged in to ${displayUrl} as ${username} via ${endpoint}`);
          return { token, endpoint, user: check.user };
        }
        if (check.kind === "unavailable" && check.unreachable) {
          throw new PoolBoyError("atc", redact(`cannot reach Concourse at ${displayUrl} after logging in: ${check.detail}`), "check that the server is up");
        }
        // an "unavailable" check (404 on both user endpoints) leaves no way to tell: take the token
        if (check.kind === "unavailable") {
          log?.(redact(`logged in to ${displayUrl} via ${endpoint}, but could not check the token: ${check.detail}`));
          return { token, endpoint, user: null };
        }
      }
      throw new PoolBoyError("atc", `Concourse at ${displayUrl} logged in ${username} via ${endpoint} but refused the token it gave`, "report this with the Concourse version (pool-boy --debug shows it)");
    }
    if (result.status === 401 && dex && dex.error === "access_denied") {
      throw new PoolBoyError("atc", redact(`Concourse at ${displayUrl} refused the login of "${username}": ${dex.description || "invalid username or password"}`), credentialsHint);
    }
    if (result.status === 400) {
      const why = dex ? dex.description || dex.error : endpoint === "/sky/token" ? "the user may belong to no team" : "bad request";
      throw new PoolBoyError("atc", redact(`Concourse at ${displayUrl} refused the login of "${username}" (HTTP 400): ${why}`), credentialsHint);
    }
    // 404 (no such endpoint on this line), 401 invalid_client or an empty 401 (the endpoint does
    // not know fly), anything else: the other endpoint may be the right one
    tried.push(`${endpoint}: HTTP ${result.status}${dex ? ` ${dex.error}` : ""}`);
    log?.(redact(`login via ${endpoint} answered HTTP ${result.status}; trying the next endpoint`));
  }
  throw new PoolBoyError("atc", redact(`cannot log in to Concourse at ${displayUrl}: no token endpoint accepted fly's login (${tried.join("; ")})`), "check that the URL is a Concourse (5.0 or newer) with local users");
}
