// Secrets never reach output, logs, errors or process arguments.
//
// Two tools, no shared state:
// - redact(text) hides what a secret looks like, whatever its value: credentials inside a URL, a
//   private key block, the value of a Bearer or Basic header, a JSON Web Token. It knows no value,
//   so it can never reveal one; adapters apply it to text from outside (git's stderr, API bodies).
// - makeRedactor(config) knows the values: every credential resolveConfig resolved, in every form
//   it takes on its way through URLs, forms, JSON and headers. `outside` masks them all, for text
//   that came from outside pool-boy; `output` is the last net the output writers apply to
//   everything they write, and leaves out secrets that read like a name (a password "deploy"):
//   masking those in pool-boy's own data (a job "deploy") would tell every reader the password.

/** One credential, and the user name it goes with (for the Basic header form). */
export interface Secret {
  value: string;
  user?: string;
}

export interface Redactor {
  /** text from outside pool-boy (git's stderr, an API body, an error's message): every form of every secret */
  outside(text: string): string;
  /** the last net over everything written: the patterns, and every form of secrets that cannot be mistaken for a name */
  output(text: string): string;
}

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::[^\s/@]*)?@/gi;
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const AUTH_HEADER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

/** Hide credentials inside URLs, private keys, authorization header values and JSON Web Tokens. */
export function redact(text: string): string {
  let out = text.replace(PRIVATE_KEY, "-----BEGIN PRIVATE KEY----- *** (redacted)");
  // An ssh:// user ("git") is a login name, not a secret; in http(s) URLs the user part is
  // often the token itself (https://TOKEN@host), so all of it goes.
  out = out.replace(URL_CREDENTIALS, (_m, scheme: string, user: string) =>
    /^(ssh|git\+ssh|ssh\+git):\/\/$/i.test(scheme) && user ? `${scheme}${user}@` : `${scheme}${user ? "***" : ""}@`,
  );
  out = out.replace(AUTH_HEADER, (_m, scheme: string) => `${scheme} ***`);
  return out.replace(JWT, "***");
}

/** A URL fit to show: credentials removed. */
export function safeUrl(url: string): string {
  return redact(url);
}

/** Shorter values would blank out ordinary text; no real secret is this short. */
const MIN_LENGTH = 4;

/** A secret that could be a lock, pool, team, pipeline, job or branch name. */
export function readsLikeName(value: string): boolean {
  return value.length < 16 && /^[A-Za-z0-9._-]+$/.test(value);
}

const hex = (c: string) =>
  [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");

/** Percent-encoding of everything but letters, digits and `-._~` (what encodeURIComponent leaves as `!'()*` too). */
function percentAll(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, hex);
}

/** Every form a value takes on its way through URLs, forms, JSON and logs. */
function formsOf(secret: Secret): string[] {
  const value = secret.value;
  const trimmed = value.trim();
  const forms = new Set<string>([value, trimmed]);
  const v = trimmed;
  forms.add(encodeURIComponent(v));
  forms.add(percentAll(v));
  forms.add(percentAll(v).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  // application/x-www-form-urlencoded: a space is "+", in both encoders' alphabets
  forms.add(new URLSearchParams({ v }).toString().slice(2));
  forms.add(encodeURIComponent(v).replace(/%20/g, "+"));
  forms.add(percentAll(v).replace(/%20/g, "+"));
  // JSON: as JSON.stringify writes it, with every non-ASCII character as \u…, and with "\/"
  const json = JSON.stringify(v).slice(1, -1);
  const ascii = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  for (const form of [json, ascii, ascii.replace(/\//g, "\\/"), json.replace(/\//g, "\\/")]) forms.add(form);
  forms.add(Buffer.from(v, "utf8").toString("base64"));
  if (secret.user !== undefined) {
    const basic = Buffer.from(`${secret.user}:${v}`, "utf8").toString("base64");
    forms.add(basic);
    forms.add(basic.replace(/=+$/, ""));
  }
  // A key's lines as given, and its base64 as the transport refolds it (64 columns).
  for (const line of v.split(/\r?\n|\\n/)) if (line.trim().length >= 16) forms.add(line.trim());
  const block = /-----BEGIN [A-Z0-9 ]*-----([\s\S]*?)-----END /.exec(v.replace(/\\n/g, "\n"));
  if (block?.[1] !== undefined) {
    const body = block[1]
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => !/^[A-Za-z-]+:/.test(line))
      .join("");
    for (const line of body.match(/.{1,64}/g) ?? []) if (line.length >= 16) forms.add(line);
  }
  return [...forms].filter((f) => f.length >= MIN_LENGTH);
}

function masker(values: string[]): (text: string) => string {
  const sorted = [...new Set(values)].sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return redact;
  const pattern = new RegExp(sorted.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return (text) => redact(text.replace(pattern, "***"));
}

/** The one redactor of a run, from the secrets resolveConfig found (whether or not it used them). */
export function makeRedactor(config: { secrets: readonly Secret[] }): Redactor {
  const usable = config.secrets.filter((s) => s.value.trim().length >= MIN_LENGTH);
  const outside = masker(usable.flatMap(formsOf));
  // A form that reads like a name (the raw "deploy"; never its Basic header) is left to `outside`.
  const output = masker(usable.flatMap(formsOf).filter((form) => !readsLikeName(form)));
  return { outside, output };
}
