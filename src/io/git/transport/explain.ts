// Turn git's stderr from a failed remote operation into a message for people: what went wrong,
// in words, and how to fix it. Everything returned has passed redact(): no password, token, key
// text or URL credentials, whatever git printed.

import { redact, safeUrl } from "../../../core/redact.js";
import { parseRepoUrl, type RepoLocation } from "../../../decide/repo-url.js";

export type GitFailureCause =
  | "host-key-unknown"
  | "host-key-changed"
  | "key-unusable"
  | "publickey-denied"
  | "read-only"
  | "tls"
  | "auth-failed"
  | "auth-missing"
  | "forbidden"
  | "not-found"
  | "dns"
  | "refused"
  | "unreachable"
  | "other";

export interface GitFailureExplanation {
  /** what went wrong, one line */
  message: string;
  /** what to do about it */
  hint: string;
  /** the kind of failure, for callers and tests */
  cause: GitFailureCause;
  /** git's own lines that matter (fatal:, error:, ssh:, remote:), redacted */
  detail: string;
}

interface Target {
  host: string | null;
  port: number | null;
  /** "host", "host port N", or the URL when there is no host */
  shown: string;
  ssh: boolean;
}

function targetOf(location: RepoLocation): Target {
  switch (location.kind) {
    case "ssh":
      return {
        host: location.host,
        port: location.port,
        shown: location.port === 22 ? location.host : `${location.host} port ${location.port}`,
        ssh: true,
      };
    case "http": {
      const defaultPort = location.scheme === "https" ? 443 : 80;
      return {
        host: location.host,
        port: location.port,
        shown: location.port === defaultPort ? location.host : `${location.host} port ${location.port}`,
        ssh: false,
      };
    }
    default:
      return { host: null, port: null, shown: safeUrl(location.url), ssh: false };
  }
}

/** The lines of git's stderr that say something: fatal/error/ssh/remote lines and ssh's own. */
function relevantLines(stderr: string): string[] {
  const lines = stderr
    .replace(/\r/g, "\n")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const boring = /^(Please make sure you have the correct access rights|and the repository exists\.?|fatal: Could not read from remote repository\.?)$/;
  const keep = lines.filter((line) => !boring.test(line) && !/^@+$/.test(line));
  return keep.slice(-6);
}

function knownHostsHowTo(target: Target): string {
  const host = target.host ?? "HOST";
  const port = target.port ?? 22;
  return `set POOL_REPO_SSH_KNOWN_HOSTS to the output of: ssh-keyscan -p ${port} ${host}`;
}

function fingerprintCheck(target: Target): string {
  const host = target.host ?? "HOST";
  const port = target.port ?? 22;
  return (
    `check the fingerprint before trusting it: \`ssh-keyscan -p ${port} ${host} | ssh-keygen -lf -\` ` +
    `must show the fingerprint the git host publishes (or the one its administrator gives you)`
  );
}

/** Explain why a git command that talked to `url` failed, from its stderr. */
export function explainGitFailure(stderr: string, url: string): GitFailureExplanation {
  const target = targetOf(parseRepoUrl(url));
  const shownUrl = safeUrl(url);
  // patterns over the whole text: a key block cut in half by the line choice is still a key
  const lines = relevantLines(redact(stderr));
  const detail = redact(lines.join("\n"));
  const text = stderr;
  const result = (cause: GitFailureCause, message: string, hint: string): GitFailureExplanation => ({
    cause,
    message: redact(message),
    hint: redact(hint),
    detail,
  });

  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(text)) {
    return result(
      "host-key-changed",
      `the SSH host key of ${target.shown} is not the one pool-boy was told to trust, so git refused to connect (possible man-in-the-middle, or the host changed its key)`,
      `if the host really changed its key, ${knownHostsHowTo(target)} and ${fingerprintCheck(target)}`,
    );
  }
  if (/Host key verification failed|No [A-Z0-9-]+ host key is known for|host key is not known|authenticity of host .* can't be established/i.test(text)) {
    return result(
      "host-key-unknown",
      `the SSH host key of ${target.shown} is unknown, so git refused to connect (Host key verification failed): ${knownHostsHowTo(target)}`,
      fingerprintCheck(target),
    );
  }
  if (/Load key .*:|incorrect passphrase supplied|invalid format|error in libcrypto|bad permissions/i.test(text) && target.ssh) {
    return result(
      "key-unusable",
      `ssh could not use the private key from POOL_REPO_SSH_PRIVATE_KEY`,
      `give the whole private key file without a passphrase, from its -----BEGIN line to its -----END line`,
    );
  }
  if (/Permission denied \((?:[a-z-]+,)*publickey/i.test(text)) {
    return result(
      "publickey-denied",
      `the SSH server ${target.shown} refused the key (Permission denied (publickey))`,
      `check that POOL_REPO_SSH_PRIVATE_KEY holds the private half of a key the repository accepts ` +
        `(a deploy key, with write access for clean) and that the user in the URL is right (usually git@)`,
    );
  }
  if (/marked as read only|not allowed to push|Permission to \S+ denied|write access to repository not granted|pre-receive hook declined|DENIED by/i.test(text)) {
    return result(
      "read-only",
      `${target.shown} let pool-boy read ${shownUrl} but not push to it`,
      `give the deploy key or token write access to the repository (clean pushes the released locks)`,
    );
  }
  if (/SSL certificate problem|server certificate verification failed|unable to get local issuer certificate|certificate verify failed|self.signed certificate/i.test(text)) {
    return result(
      "tls",
      `the TLS certificate of ${target.shown} is not trusted`,
      `if the git server uses a private CA, set GIT_SSL_CAINFO to a file holding that CA's certificate`,
    );
  }
  if (/could not read (Username|Password)|terminal prompts disabled|No such device or address/i.test(text)) {
    return result(
      "auth-missing",
      `${target.shown} asked for credentials and none were given`,
      `set POOL_REPO_USERNAME and POOL_REPO_PASSWORD (a token that may read and push the repository)`,
    );
  }
  if (/Authentication failed|HTTP Basic: Access denied|Invalid username or password|Invalid credentials|returned error: 401|Unauthorized/i.test(text)) {
    return result(
      "auth-failed",
      `${target.shown} refused the credentials (authentication failed)`,
      `check POOL_REPO_USERNAME and POOL_REPO_PASSWORD: the token may be wrong, expired or revoked`,
    );
  }
  if (/returned error: 403|403 Forbidden/i.test(text)) {
    return result(
      "forbidden",
      `${target.shown} refused access to ${shownUrl} (403 Forbidden)`,
      `check that the credentials may read and push this repository`,
    );
  }
  if (/Could not resolve host|Could not resolve hostname|Name or service not known|Temporary failure in name resolution|nodename nor servname/i.test(text)) {
    return result(
      "dns",
      `cannot resolve the host name ${target.host ?? shownUrl}`,
      `check the host in the repository URL, and that the task can resolve names (DNS)`,
    );
  }
  if (/Connection refused|Failed to connect to .*: Couldn't connect/i.test(text)) {
    return result(
      "refused",
      `${target.shown} refused the connection`,
      `check the host and port in the repository URL, and that the git server is up`,
    );
  }
  if (/timed out|Network is unreachable|No route to host|Connection reset|Connection closed by remote host|kex_exchange_identification/i.test(text)) {
    return result(
      "unreachable",
      `cannot reach ${target.shown}`,
      `check the network between the task and the git server (firewall, proxy, VPN); git said: ${detail || "nothing"}`,
    );
  }
  if (/Repository not found|repository '.*' not found|does not appear to be a git repository|returned error: 404|not a git repository|The project you were looking for could not be found|No such file or directory/i.test(text)) {
    if (parseRepoUrl(url).kind === "local")
      return result(
        "not-found",
        `${shownUrl} is not a git repository`,
        `check the path given as --repo (or POOL_REPO): a bare clone (git clone --bare …) or a working clone of the pool repository`,
      );
    return result(
      "not-found",
      `repository ${shownUrl} not found`,
      `check the repository path in the URL; a host such as GitHub or GitLab also says "not found" when the credentials may not see a private repository`,
    );
  }
  const said = lines.length > 0 ? lines.join("; ") : "nothing on stderr";
  return result("other", `git failed talking to ${shownUrl}: ${said}`, `git's own message above says why`);
}
