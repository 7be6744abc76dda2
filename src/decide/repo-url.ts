// What kind of place a repository URL names, following git's own rules (connect.c, url.c):
// `scheme://…` URLs, `transport::address` remote helpers, scp-like `[user@]host:path`, and
// everything else is a local path. Nothing here does I/O.

export type RepoLocation =
  | {
      kind: "ssh";
      /** how the URL was written: ssh://… or scp-like user@host:path */
      form: "url" | "scp";
      /** the user name given in the URL, or null (ssh then uses its own default) */
      user: string | null;
      /** host name or address, without IPv6 brackets */
      host: string;
      port: number;
      /** the URL with any password removed (ssh never uses one: BatchMode) */
      url: string;
      /** a password found in an ssh:// URL: removed from `url`, only ever redacted */
      password: string | null;
    }
  | {
      kind: "http";
      scheme: "http" | "https";
      host: string;
      port: number;
      /** percent-decoded user name from the URL, or null */
      username: string | null;
      /** percent-decoded password or token from the URL, or null */
      password: string | null;
      /** the raw (still percent-encoded) password as written in the URL, or null */
      rawPassword: string | null;
      /** the URL with user name and password removed */
      url: string;
    }
  | { kind: "local"; url: string }
  /** git://, remote helpers (`foo::addr`), and other schemes: handed to git unchanged */
  | { kind: "other"; scheme: string; url: string };

const SCHEME_URL = /^([a-z][a-z0-9+.-]*):\/\//i;
const REMOTE_HELPER = /^([a-z][a-z0-9+.-]*)::/i;
const SSH_SCHEMES = new Set(["ssh", "git+ssh", "ssh+git"]);

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Classify a repository URL as git would and pull out what the transport needs. */
export function parseRepoUrl(url: string): RepoLocation {
  const scheme = SCHEME_URL.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme === "file") return { kind: "local", url };
    if (SSH_SCHEMES.has(scheme)) return parseSshUrl(url);
    if (scheme === "http" || scheme === "https") return parseHttpUrl(url, scheme);
    return { kind: "other", scheme, url };
  }
  const helper = REMOTE_HELPER.exec(url)?.[1];
  if (helper !== undefined) return { kind: "other", scheme: helper.toLowerCase(), url };
  return parseScpLike(url) ?? { kind: "local", url };
}

function parseSshUrl(url: string): RepoLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Something git may still understand; keep it whole and let git report on it.
    return { kind: "other", scheme: "ssh", url };
  }
  const password = parsed.password ? safeDecode(parsed.password) : null;
  let clean = url;
  if (parsed.password) {
    parsed.password = "";
    clean = parsed.href;
  }
  return {
    kind: "ssh",
    form: "url",
    user: parsed.username ? safeDecode(parsed.username) : null,
    host: stripBrackets(parsed.hostname),
    port: parsed.port ? Number(parsed.port) : 22,
    url: clean,
    password,
  };
}

function parseHttpUrl(url: string, scheme: "http" | "https"): RepoLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { kind: "other", scheme, url };
  }
  const username = parsed.username ? safeDecode(parsed.username) : null;
  const rawPassword = parsed.password || null;
  const password = rawPassword === null ? null : safeDecode(rawPassword);
  let clean = url;
  if (parsed.username || parsed.password) {
    parsed.username = "";
    parsed.password = "";
    clean = parsed.href;
  }
  return {
    kind: "http",
    scheme,
    host: stripBrackets(parsed.hostname),
    port: parsed.port ? Number(parsed.port) : scheme === "https" ? 443 : 80,
    username,
    password,
    rawPassword,
    url: clean,
  };
}

/**
 * git's scp-like syntax: `[user@]host:path`, `[user@host:port]:path`, `user@[v6addr]:path`.
 * It is a local path instead when there is no colon or a slash comes before the first colon.
 */
function parseScpLike(url: string): RepoLocation | null {
  let hostPart: string;
  if (url.startsWith("[")) {
    const close = url.indexOf("]");
    if (close < 0 || url[close + 1] !== ":") return null;
    hostPart = url.slice(1, close); // user@host:port or host
  } else {
    const at = url.indexOf("@");
    const bracket = url.indexOf("[");
    if (at >= 0 && bracket === at + 1) {
      const close = url.indexOf("]", bracket);
      if (close < 0 || url[close + 1] !== ":") return null;
      hostPart = url.slice(0, close + 1);
    } else {
      const colon = url.indexOf(":");
      if (colon < 0) return null;
      const slash = url.indexOf("/");
      if (slash >= 0 && slash < colon) return null;
      hostPart = url.slice(0, colon);
    }
  }
  if (hostPart === "") return null;
  const at = hostPart.lastIndexOf("@");
  const user = at >= 0 ? hostPart.slice(0, at) : null;
  let host = at >= 0 ? hostPart.slice(at + 1) : hostPart;
  let port = 22;
  if (url.startsWith("[")) {
    // [user@host:port]:path
    const portMatch = /^(.*):(\d+)$/.exec(host);
    if (portMatch?.[1] !== undefined && portMatch[2] !== undefined && !portMatch[1].includes(":")) {
      host = portMatch[1];
      port = Number(portMatch[2]);
    }
  }
  host = stripBrackets(host);
  if (host === "") return null;
  return { kind: "ssh", form: "scp", user: user || null, host, port, url, password: null };
}
