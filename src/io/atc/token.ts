// Reads the expiry out of the tokens Concourse hands out, so that a dead token is refused
// before anything is sent (reference §1 "Token format and expiry"). Pure: the clock is an argument.

import { PoolBoyError } from "../../core/errors.js";

/** Where a bearer token came from, for messages: "CONCOURSE_TOKEN", "flyrc target ci", … */
export interface TokenOrigin {
  source: string;
  /** the fly target the token belongs to, for the `fly -t NAME login` hint */
  flyTarget?: string;
}

// Before 2000-01-01 no Concourse existed; a smaller "expiry" means the text only happens to
// have the opaque token's length and is not one.
const PLAUSIBLE_EXP_MIN = 946_684_800;
const OPAQUE = /^[A-Za-z0-9+/]{38}$/;
const JWT = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;

/** Unix seconds at which the token expires, or null when the token's format does not say. */
export function tokenExpiry(token: string): number | null {
  const jwt = JWT.exec(token);
  if (jwt) {
    try {
      const claims: unknown = JSON.parse(Buffer.from(jwt[1] ?? "", "base64url").toString("utf8"));
      if (claims && typeof claims === "object" && "exp" in claims && typeof claims.exp === "number") return claims.exp;
    } catch {
      // not JSON: a token we cannot read, the server decides
    }
    return null;
  }
  return opaqueTokenExpiry(token);
}

/**
 * The 6.5+ access token: base64 (std alphabet, no padding) of 20 random bytes followed by the
 * expiry as a little-endian uint64 (skymarshal/token/access_token.go `ParseExpiry`).
 */
export function opaqueTokenExpiry(token: string): number | null {
  if (!OPAQUE.test(token)) return null;
  const bytes = Buffer.from(token, "base64");
  if (bytes.length !== 28) return null;
  const exp = bytes.readBigUInt64LE(20);
  if (exp > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const seconds = Number(exp);
  return seconds >= PLAUSIBLE_EXP_MIN ? seconds : null;
}

/** Whether the text has the shape of a 6.5+ opaque access token with a readable expiry. */
export function isOpaqueAccessToken(token: string): boolean {
  return opaqueTokenExpiry(token) !== null;
}

export function loginHint(origin: TokenOrigin, apiUrl: string): string {
  if (origin.flyTarget) return `log in again: fly -t ${origin.flyTarget} login`;
  return `get a fresh token (fly -t TARGET login -c ${apiUrl}, then use the token fly stored) or log in with a username and password`;
}

/**
 * Why this token must not be sent, or null when it may be. An empty token is a logged-out fly
 * target; an expired one would only earn 401s (and on public pipelines, silently less access).
 */
export function unusableToken(token: string, origin: TokenOrigin, nowSeconds: number, apiUrl: string): PoolBoyError | null {
  if (token.trim() === "") {
    const what = origin.flyTarget ? `fly target "${origin.flyTarget}" is logged out` : `the token from ${origin.source} is empty`;
    return new PoolBoyError("atc", `${what}: no token to send to ${apiUrl}`, loginHint(origin, apiUrl));
  }
  const exp = tokenExpiry(token);
  if (exp !== null && exp <= nowSeconds) {
    const when = new Date(exp * 1000).toISOString();
    return new PoolBoyError("atc", `the token from ${origin.source} expired at ${when}: not sending it to ${apiUrl}`, loginHint(origin, apiUrl));
  }
  return null;
}
