// Secrets never reach output, logs, errors or process arguments. Every message that may carry
// text from outside (git's stderr, an API body, a URL) passes redact() before it is shown.

const secrets = new Set<string>();

/** Remember a secret value (password, token, key text) so that redact() hides it wherever it appears. */
export function registerSecret(value: string | null | undefined): void {
  if (!value) return;
  const trimmed = value.trim();
  // Very short values would blank out ordinary words; a real secret is never this short.
  if (trimmed.length < 4) return;
  secrets.add(trimmed);
  if (trimmed !== value && value.length >= 4) secrets.add(value);
  // The forms a secret takes on its way through URLs and headers.
  secrets.add(encodeURIComponent(trimmed));
  for (const line of trimmed.split(/\r?\n/)) if (line.trim().length >= 16) secrets.add(line.trim());
}

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::[^\s/@]*)?@/gi;
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;

/** Hide every known secret, credentials inside URLs, private keys and bearer tokens. */
export function redact(text: string): string {
  let out = text;
  const known = [...secrets].sort((a, b) => b.length - a.length);
  for (const secret of known) out = out.split(secret).join("***");
  out = out.replace(PRIVATE_KEY, "-----BEGIN PRIVATE KEY----- *** (redacted)");
  // An ssh:// user ("git") is a login name, not a secret; in http(s) URLs the user part is
  // often the token itself (https://TOKEN@host), so all of it goes.
  out = out.replace(URL_CREDENTIALS, (_m, scheme: string, user: string) =>
    /^(ssh|git\+ssh|ssh\+git):\/\/$/i.test(scheme) && user ? `${scheme}${user}@` : `${scheme}${user ? "***" : ""}@`,
  );
  out = out.replace(BEARER, (_m, scheme: string) => `${scheme} ***`);
  return out;
}

/** A URL fit to show: credentials removed. */
export function safeUrl(url: string): string {
  return redact(url);
}
