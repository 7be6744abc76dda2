// Instance vars in a query string, the way Concourse writes and reads them (v7.0.0+).
//
// Writing follows `atc.PipelineRef.QueryParams` (atc/pipeline.go): one `vars.<ref>=<json>` per
// flattened key, refs quoted as `vars/reference.go` `refSegmentString` does, JSON as Go's
// `json.Marshal` prints it. Reading follows `atc.InstanceVarsFromQueryParams`: `vars.<ref>=<json>`
// and `vars=<whole object>`, together, applied in ref order. The ATC answers 400 to a value that
// is not JSON, so reading reports that instead of guessing.
//
// Pure: no I/O. The pairs are not percent-encoded; `new URLSearchParams(pairs)` does that.

import type { InstanceVars, JsonValue } from "./model.js";
import { fail, ok, type Result } from "./result.js";

type JsonObject = { [key: string]: JsonValue };

/** Segments Concourse puts in quotes (`vars/reference.go` `refSegmentString`). */
const NEEDS_QUOTES = /[,.:/ ]/u;
/** What Go's `%q` leaves alone (strconv.IsPrint): anything else it escapes, and the ATC would not unescape it. */
const GO_PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;
/** Go's unicode.IsSpace, which `strings.TrimSpace` strips from every ref segment. */
const GO_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const GO_TRIM = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, "gu");

/**
 * The query parameters that select a pipeline instance, sorted as Go's `url.Values.Encode` sorts them.
 *
 * Matches Concourse's own `QueryParams` for every key it can express. Where Concourse's form loses
 * information, the key's whole value goes into a single `vars=<object>` parameter instead, which the
 * ATC reads back exactly (and which sorts before every `vars.` patch):
 *  - key segments the ATC's ref parser would change: containing `"` (stripped), `\` or unprintable
 *    characters inside quotes (left escaped), surrounding whitespace (trimmed), empty, or
 *    `.`/`..`/`//` (path.Clean since v8);
 *  - an empty nested object, which Concourse's flattening drops and then cannot match.
 * An empty `vars` gives no parameters (a pipeline that is not instanced).
 */
export function instanceVarsToQuery(vars: InstanceVars): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  const whole: JsonObject = {};
  let wholeUsed = false;
  for (const key of Object.keys(vars)) {
    const value = own(vars, key);
    if (value === undefined) continue;
    const leaves: Array<{ path: string[]; value: JsonValue }> = [];
    flatten([key], value, leaves);
    if (leaves.every((leaf) => leaf.path.every(segmentSurvivesAtc))) {
      for (const leaf of leaves) params.push([`vars.${refString(leaf.path)}`, goJson(leaf.value)]);
    } else {
      setOwn(whole, key, value);
      wholeUsed = true;
    }
  }
  if (wholeUsed) params.push(["vars", goJson(whole)]);
  return params.sort((a, b) => compareCodePoints(a[0], b[0]));
}


/**
 * The instance vars a query selects, read as the ATC reads them. A null value when the query has no
 * `vars`/`vars.` parameter (or they add up to an empty object): a pipeline that is not instanced.
 * `ok: false` where the ATC would answer 400: a value that is not JSON (Concourse 8.0.0 – 8.0.2 put
 * unquoted strings in BUILD_URL), a malformed ref, or a `vars=` that is not an object. Never throws.
 */
export function instanceVarsFromQuery(params: URLSearchParams): Result<InstanceVars | null, string> {
  const pairs: Array<{ path: string[]; sortKey: string; value: JsonValue }> = [];
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (seen.has(key)) continue;
    seen.add(key);
    if (key !== "vars" && !key.startsWith("vars.")) continue;
    const path = parseRef(key);
    if (!path.ok) return fail(`query parameter ${show(key)}: ${path.problems}`);
    // Like Go's url.Values.Get: the first value of a repeated parameter.
    const raw = params.get(key) ?? "";
    let value: JsonValue;
    try {
      value = JSON.parse(raw) as JsonValue;
    } catch {
      const hint = /^\s*["{[\-0-9]|^\s*(?:true|false|null)\s*$/u.test(raw) ? "" : `; a string needs its quotes: ${key}=${show(JSON.stringify(raw))}`;
      return fail(`${key}=${show(raw)} is not JSON${hint}`);
    }
    // Go's json.Unmarshal refuses what does not fit a float64; JSON.parse makes it Infinity.
    if (!allFinite(value)) return fail(`${key}=${show(raw)} holds a number out of range`);
    pairs.push({ path: path.value, sortKey: refString(path.value), value });
  }
  if (pairs.length === 0) return ok(null);

  // The ATC sorts the pairs by ref before expanding, so `vars={…}` goes first and `vars.k` patches it.
  pairs.sort((a, b) => compareCodePoints(a.sortKey, b.sortKey));
  const root: JsonObject = {};
  for (const pair of pairs) {
    const [head, ...fields] = pair.path;
    if (head !== undefined) upsert(root, head, fields, pair.value);
  }
  const vars = own(root, "vars");
  if (!isObject(vars)) return fail(`vars=${show(goJson(vars ?? null))} is not a JSON object`);
  return ok(Object.keys(vars).length > 0 ? vars : null);
}

// ---- refs ----------------------------------------------------------------------------------------

/** A `vars.…` parameter name split into segments as `vars.ParseReference` does, or why the ATC would refuse it. */
function parseRef(name: string): Result<string[], string> {
  if (countOf(name, '"') % 2 !== 0) return fail("unclosed quotes");
  // The ATC would read an unquoted `:` as a var source and file the value outside `vars`.
  if (findUnquoted(name, ":", 0) !== -1) return fail("an unquoted ':' (a key with ':' must be quoted)");
  const segments: string[] = [];
  let start = 0;
  for (;;) {
    const dot = findUnquoted(name, ".", start);
    const raw = dot === -1 ? name.slice(start) : name.slice(start, dot);
    const segment = raw.replace(GO_TRIM, "").replaceAll('"', "");
    if (segment === "") return fail("an empty key segment");
    segments.push(segment);
    if (dot === -1) return ok(segments);
    start = dot + 1;
  }
}

function findUnquoted(text: string, char: string, from: number): number {
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === char && !quoted) return i;
  }
  return -1;
}

function refString(path: string[]): string {
  return path.map((segment) => (NEEDS_QUOTES.test(segment) ? `"${segment}"` : segment)).join(".");
}

/** Whether `vars.ParseReference` reads this segment back unchanged from `refString`. */
function segmentSurvivesAtc(segment: string): boolean {
  if (segment === "" || segment.includes('"')) return false;
  if (NEEDS_QUOTES.test(segment)) {
    if (segment.includes("\\") || !GO_PRINTABLE.test(segment)) return false;
  } else if (segment.replace(GO_TRIM, "") !== segment) {
    return false;
  }
  return atcCleanPath(segment) === segment;
}

/** `cleanPath` of vars/reference.go (Concourse v8): path.Clean, keeping a relative path relative. */
function atcCleanPath(p: string): string {
  return p.startsWith("/") ? goPathClean(p) : goPathClean(`/${p}`).slice(1);
}

function goPathClean(p: string): string {
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const cleaned = (rooted ? "/" : "") + out.join("/");
  return cleaned === "" ? "." : cleaned;
}

// ---- values --------------------------------------------------------------------------------------

/** Concourse's `Flatten`: nested objects become dotted refs; arrays and scalars are values. */
function flatten(path: string[], value: JsonValue, out: Array<{ path: string[]; value: JsonValue }>): void {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const key of Object.keys(value)) {
      const child = own(value, key);
      if (child !== undefined) flatten([...path, key], child, out);
    }
  } else {
    out.push({ path, value });
  }
}

/** Concourse's `KVPairs.Expand` `upsert`: a later pair overwrites or patches what an earlier one set. */
function upsert(target: JsonObject, key: string, fields: string[], value: JsonValue): void {
  const node = own(target, key);
  if (node === undefined || !isObject(node)) {
    setOwn(target, key, construct(fields, value));
    return;
  }
  const [next, ...rest] = fields;
  if (next === undefined) {
    setOwn(target, key, value);
    return;
  }
  upsert(node, next, rest, value);
}

function construct(fields: string[], value: JsonValue): JsonValue {
  let result = value;
  for (let i = fields.length - 1; i >= 0; i--) {
    const wrapper: JsonObject = {};
    setOwn(wrapper, fields[i] ?? "", result);
    result = wrapper;
  }
  return result;
}

/** Go's `json.Marshal` output: object keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, -0 kept. */
function goJson(value: JsonValue): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : JSON.stringify(value);
  if (typeof value === "string") return goString(value);
  if (Array.isArray(value)) return `[${value.map(goJson).join(",")}]`;
  if (isObject(value)) {
    const members: string[] = [];
    for (const key of Object.keys(value).sort(compareCodePoints)) {
      const child = own(value, key);
      if (child !== undefined) members.push(`${goString(key)}:${goJson(child)}`);
    }
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
}

function goString(text: string): string {
  return JSON.stringify(text).replace(/[<>&\u2028\u2029]/gu, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);
}

// ---- helpers -------------------------------------------------------------------------------------

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Own properties only, so keys like `__proto__` or `constructor` are plain keys. */
function own(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function setOwn(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Go compares strings byte by byte (UTF-8), which is code point order, not UTF-16 unit order. */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a);
  const right = Array.from(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const diff = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0);
    if (diff !== 0) return diff;
  }
  return left.length - right.length;
}

function allFinite(value: JsonValue): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(allFinite);
  if (isObject(value)) return Object.values(value).every(allFinite);
  return true;
}

function countOf(text: string, char: string): number {
  let n = 0;
  for (const c of text) if (c === char) n++;
  return n;
}

function show(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
