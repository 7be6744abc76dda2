// Who claimed a lock, read from the claim commit's message, in every shape concourse/pool-resource
// has written (reference §6; `out/git_lock_handler.go` `messagePrefix()`, later `buildUrl()`).
//
// The lock's name is never taken from the message: the caller has it from the file's path, and a
// garbled message can lose it or move it into the prefix. Anything that does not parse cleanly is an
// unknown owner with a note for people, never an exception: the timeout rule then decides.
//
// Pure: no I/O, no environment, no clock.

import type { BuildRef, ClaimFormat, ClaimOperation, InstanceVars, JsonValue, ParsedClaim } from "../core/model.js";
import { instanceVarsFromQuery } from "../core/instance-vars.js";

// Every operation text the resource appends after its prefix. Longest alternatives first.
// `adding:` was written by `add` until 9af6d0b; `unclaiming`, `removing` and `adding unclaimed`
// never leave a lock claimed, so they name no holder.
const OPERATION = "(adding claimed|adding unclaimed|adding|unclaiming|claiming|updating|removing)";
const CLAIM_OPERATIONS: Readonly<Record<string, ClaimOperation>> = {
  claiming: "claiming",
  "adding claimed": "adding claimed",
  updating: "updating",
};

// A job build's name: "42", or "42.1" for a rerun (Concourse v6.0+).
const BUILD_NAME = String.raw`(\d+(?:\.\d+)*)`;
// A team, pipeline or job name: no `/`. Lazy, so the prefix ends at the first ` build N <op>:`
// and a lock name that happens to contain such text cannot stretch it.
const NAME = "([^/]+?)";
// The operation and the lock name after it (which is ignored).
const TAIL = `${OPERATION}:(?: .*)?$`;

const re = (source: string) => new RegExp(source, "su");

// `one-off #ID` (e1ec4f7, 2015-09), ``one-off `#ID` `` (c960810, 2016-06), `one-off build ID`
// (71a6615, v1.0.0 – v1.7.x). From 8d324ff a job build on Concourse < 2.3 (no BUILD_TEAM_NAME)
// is written this way too, with its BUILD_ID, which the API looks up all the same.
const ONE_OFF = re(String.raw`^one-off (?:#(\d+)|` + "`#(\\d+)`" + String.raw`|build (\d+)) ${TAIL}`);
// `P/J #N` (e1ec4f7, 2015-09-22): no team; the caller's default team applies.
const HASH = re(`^${NAME}/${NAME} #(\\d+) ${TAIL}`);
// ``P/J `#N` `` (c960810, 2016-06-15).
const BACKTICK_HASH = re(`^${NAME}/${NAME} \`#(\\d+)\` ${TAIL}`);
// `P/J build N` (71a6615, 2016-07-06; first tag v1.0.0).
const BUILD = re(`^${NAME}/${NAME} build ${BUILD_NAME} ${TAIL}`);
// `T/P/J build N` (8d324ff, v1.0.1 – v1.7.x; the same in Pix4D/pool-resource v2.0.0).
const TEAM_BUILD = re(`^${NAME}/${NAME}/${NAME} build ${BUILD_NAME} ${TAIL}`);
// `T/P/J build N {json}` (f6b6783, 2026-01-07, in no tag): the part up to the JSON.
const TEAM_BUILD_VARS_HEAD = re(`^${NAME}/${NAME}/${NAME} build ${BUILD_NAME} (?=\\{)`);
const TEAM_BUILD_VARS_TAIL = re(`^ ${TAIL}`);
const TEAM_BUILD_VARS_LOOSE = re(`^${NAME}/${NAME}/${NAME} build ${BUILD_NAME} \\{.*\\} ${TAIL}`);
// `T/P/{json}/J build N` (12f048a, v1.7.1 – v1.7.x); the JSON may hold `/`, spaces, ` build `.
const TEAM_INSTANCED_HEAD = re(`^${NAME}/${NAME}/(?=\\{)`);
const TEAM_INSTANCED_TAIL = re(`^/${NAME} build ${BUILD_NAME} ${TAIL}`);
const TEAM_INSTANCED_LOOSE = re(`^${NAME}/${NAME}/\\{.*\\}/${NAME} build ${BUILD_NAME} ${TAIL}`);
// No prefix at all: 015dedd (2015-06) and, followed by a `Build URL:` line, v1.8.0+.
const BARE = re(`^${TAIL}`);
// v1.8.0+ when read as one line (`%s`, `--oneline`: git joins the two subject lines with a space).
const BARE_WITH_URL = re(`^${OPERATION}: .*? Build URL:(.*)$`);
const OPERATION_ANYWHERE = re(`(?:^| )${TAIL}`);

// Go's fmt error verbs: `%!s(MISSING)`, `%!"(string=lock-c)`, `%!(EXTRA …)`, `%!(NOVERB)`.
// v1.0.0 – v1.7.x pass the prefix to Sprintf as the format of claim/acquire messages, so a `%`
// in a pipeline name or an instance var garbles the whole line.
const GO_FORMAT_ERROR = /%!.?\(/su;

// v1.8.0+ (83d83ee): `<op>: L` then `Build URL: ${BUILD_URL}`.
const BUILD_URL_LINE = /^\s*Build URL:(.*)$/u;
const SCHEME_HOST = String.raw`[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\s]+`;
// `${ATC_EXTERNAL_URL}/teams/T/pipelines/P/jobs/J/builds/N[?vars.k=<json>…]`; the external URL may
// have a path. Concourse inserts the names without escaping them.
const JOB_BUILD_URL = re(
  `^(${SCHEME_HOST}(?:/.*?)?)/teams/([^/]+)/pipelines/([^/]+)/jobs/([^/]+)/builds/${BUILD_NAME}(?:\\?(.*))?$`,
);
// `${ATC_EXTERNAL_URL}/builds/ID`: one-off builds (BUILD_URL_SHORT).
const ONE_OFF_BUILD_URL = re(`^(${SCHEME_HOST}(?:/.*?)?)/builds/(\\d+)$`);

/** The owner of a claim commit, from its full message (`%B`). Never throws. */
export function parseClaim(message: string, defaultTeam: string): ParsedClaim {
  try {
    return parseMessage(typeof message === "string" ? message : "", defaultTeam);
  } catch (error) {
    // Unreachable by design; a message must never stop a run.
    return unknown(null, "none", `could not read the message (${error instanceof Error ? error.message : String(error)})`);
  }
}

function parseMessage(message: string, defaultTeam: string): ParsedClaim {
  const lines = message
    .replace(/\r\n?/gu, "\n")
    .split("\n")
    .map((line) => line.trim());
  while (lines.length > 0 && lines[0] === "") lines.shift();
  const first = lines[0] ?? "";
  if (first === "") return unknown(null, "none", "the commit message is empty");

  if (first.startsWith('Revert "')) return unknown(null, "none", "a git revert, not a pool-resource message");

  // v1.8.0+ writes no prefix, so a `Build URL:` line counts only under a bare `<op>: L` line.
  const urlLine = lines.find((line) => BUILD_URL_LINE.test(line));
  if (urlLine !== undefined && BARE.test(first)) return fromBuildUrlMessage(first, (BUILD_URL_LINE.exec(urlLine)?.[1] ?? "").trim());
  const joined = BARE_WITH_URL.exec(first);
  if (joined) return fromBuildUrlMessage(first, (joined[2] ?? "").trim());

  return fromPrefixLine(first, defaultTeam);
}

// ---- v1.8.0+: `<op>: L` + `Build URL: <url>` -----------------------------------------------------

function fromBuildUrlMessage(first: string, url: string): ParsedClaim {
  const op = BARE.exec(first) ?? BARE_WITH_URL.exec(first);
  if (!op) return unknown(null, "none", "the message has a `Build URL:` line, but its first line is not a pool-resource operation");
  const word = op[1] ?? "";
  const operation = CLAIM_OPERATIONS[word] ?? null;
  if (operation === null) return notAClaim(word, "build-url");
  if (url === "") {
    return unknown(
      operation,
      "none",
      "`Build URL:` is empty: pool-resource v1.8.0+ running on Concourse before 8.0, which sets no BUILD_URL, so the message names no build",
    );
  }

  const job = JOB_BUILD_URL.exec(url);
  if (job) {
    const [, concourse = "", team = "", pipeline = "", jobName = "", name = "", query] = job;
    let instanceVars: InstanceVars | null = null;
    if (query !== undefined && query !== "") {
      const read = instanceVarsFromQuery(new URLSearchParams(query));
      if (!read.ok) {
        const why = read.problem.includes("is not JSON")
          ? "Concourse 8.0.0 – 8.0.2 wrote BUILD_URL with values that are not JSON, and the API answers 400 to them"
          : "the API would answer 400 to them";
        return unknown(operation, "build-url", `the Build URL's instance vars cannot be used (${read.problem}): ${why}`);
      }
      instanceVars = read.vars;
    }
    // Concourse inserts the names raw (reference §5): `p%41` is the pipeline `p%41`, not `pA`.
    const owner: BuildRef = { kind: "job", team, pipeline, instanceVars, job: jobName, name };
    return { operation, owner, format: "build-url", note: null, concourse };
  }

  const oneOff = ONE_OFF_BUILD_URL.exec(url);
  if (oneOff && !/\/teams\/[^/]+\/pipelines\//u.test(oneOff[1] ?? "")) {
    return { operation, owner: { kind: "one-off", id: oneOff[2] ?? "" }, format: "build-url", note: null, concourse: oneOff[1] ?? "" };
  }

  return unknown(
    operation,
    "build-url",
    `the Build URL ${shorten(url)} is not a Concourse build URL (…/teams/T/pipelines/P/jobs/J/builds/N or …/builds/ID)`,
  );
}

// ---- v1.7.x and before: a prefix on the first line -----------------------------------------------

interface PrefixMatch {
  format: ClaimFormat;
  word: string;
  owner: BuildRef | null;
  /** why the owner could not be read although the shape is recognised */
  problem: string | null;
}

function fromPrefixLine(line: string, defaultTeam: string): ParsedClaim {
  const match = matchPrefix(line, defaultTeam);
  const garbled = GO_FORMAT_ERROR.exec(line);
  if (garbled) {
    const word = match?.word ?? OPERATION_ANYWHERE.exec(line)?.[1] ?? "";
    return unknown(
      CLAIM_OPERATIONS[word] ?? null,
      match?.format ?? "none",
      `the message was garbled by pool-resource (v1.0.0 – v1.7.x pass the prefix to Go's Sprintf, so a \`%\` in a name or instance var breaks it: "${line.slice(garbled.index, garbled.index + 30)}"), so its owner cannot be trusted`,
    );
  }
  if (match === null) {
    const bare = BARE.exec(line);
    if (bare) {
      const word = bare[1] ?? "";
      const operation = CLAIM_OPERATIONS[word] ?? null;
      if (operation === null) return notAClaim(word, "none");
      return unknown(
        operation,
        "none",
        "the message names no build: pool-resource before 2015-09-22 (015dedd) wrote only `claiming: L` (or a v1.8.0+ message lost its `Build URL:` line)",
      );
    }
    return unknown(null, "none", "not a pool-resource message: no build prefix right before `claiming:`, `adding claimed:` or `updating:`");
  }
  const operation = CLAIM_OPERATIONS[match.word] ?? null;
  if (operation === null) return notAClaim(match.word, match.format);
  if (match.owner === null) return unknown(operation, match.format, match.problem ?? "the owner could not be read");
  return { operation, owner: match.owner, format: match.format, note: null };
}

/** The most specific prefix shape that fits, or null. The JSON shapes go first: their JSON may look like a name. */
function matchPrefix(line: string, defaultTeam: string): PrefixMatch | null {
  const instanced = matchTeamInstanced(line);
  if (instanced) return instanced;
  const buildVars = matchTeamBuildVars(line);
  if (buildVars) return buildVars;
  // A JSON shape that did not close is nothing else either: `T/P/J build N` would take its JSON for a job name.
  if (TEAM_INSTANCED_HEAD.test(line) || TEAM_BUILD_VARS_HEAD.test(line)) return null;

  let m = TEAM_BUILD.exec(line);
  if (m && names(m[1], m[2], m[3])) {
    return job("team-build", m[5], { team: m[1], pipeline: m[2], job: m[3], name: m[4], instanceVars: null });
  }
  m = BUILD.exec(line);
  if (m && names(m[1], m[2])) {
    return job("build", m[4], { team: defaultTeam, pipeline: m[1], job: m[2], name: m[3], instanceVars: null });
  }
  m = BACKTICK_HASH.exec(line);
  if (m && names(m[1], m[2])) {
    return job("backtick-hash", m[4], { team: defaultTeam, pipeline: m[1], job: m[2], name: m[3], instanceVars: null });
  }
  m = HASH.exec(line);
  if (m && names(m[1], m[2])) {
    return job("hash", m[4], { team: defaultTeam, pipeline: m[1], job: m[2], name: m[3], instanceVars: null });
  }
  m = ONE_OFF.exec(line);
  if (m) {
    const id = m[1] ?? m[2] ?? m[3] ?? "";
    return { format: "one-off", word: m[4] ?? "", owner: { kind: "one-off", id }, problem: null };
  }
  return null;
}

function matchTeamInstanced(line: string): PrefixMatch | null {
  const head = TEAM_INSTANCED_HEAD.exec(line);
  if (!head || !names(head[1], head[2])) return null;
  const start = head[0].length;
  const end = endOfJsonObject(line, start);
  const tail = end === -1 ? null : TEAM_INSTANCED_TAIL.exec(line.slice(end));
  if (tail && names(tail[1])) {
    const vars = readVars(line.slice(start, end));
    if (typeof vars === "string") return { format: "team-instanced", word: tail[3] ?? "", owner: null, problem: vars };
    return job("team-instanced", tail[3], { team: head[1], pipeline: head[2], job: tail[1], name: tail[2], instanceVars: vars });
  }
  const loose = TEAM_INSTANCED_LOOSE.exec(line);
  if (loose) return { format: "team-instanced", word: loose[5] ?? "", owner: null, problem: "the instance vars in the message are not one JSON object" };
  return null;
}

function matchTeamBuildVars(line: string): PrefixMatch | null {
  const head = TEAM_BUILD_VARS_HEAD.exec(line);
  if (!head || !names(head[1], head[2], head[3])) return null;
  const start = head[0].length;
  const end = endOfJsonObject(line, start);
  const tail = end === -1 ? null : TEAM_BUILD_VARS_TAIL.exec(line.slice(end));
  if (tail) {
    const vars = readVars(line.slice(start, end));
    if (typeof vars === "string") return { format: "team-build-vars", word: tail[1] ?? "", owner: null, problem: vars };
    return job("team-build-vars", tail[1], { team: head[1], pipeline: head[2], job: head[3], name: head[4], instanceVars: vars });
  }
  const loose = TEAM_BUILD_VARS_LOOSE.exec(line);
  if (loose) return { format: "team-build-vars", word: loose[5] ?? "", owner: null, problem: "the instance vars in the message are not one JSON object" };
  return null;
}

/** The index just past the JSON object (or array) starting at `start`, strings and escapes respected; -1 if it never closes. */
function endOfJsonObject(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{" || c === "[") {
      depth++;
    } else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

/** BUILD_PIPELINE_INSTANCE_VARS as written into the message, or why it cannot be used. */
function readVars(text: string): InstanceVars | null | string {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return `the instance vars in the message are not valid JSON: ${shorten(text)}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `the instance vars in the message are not a JSON object: ${shorten(text)}`;
  }
  return Object.keys(value).length > 0 ? value : null;
}

/** Names as pool-resource joins them: non-empty, nothing trimmed off (free text has spaces around words). */
function names(...parts: Array<string | undefined>): boolean {
  return parts.every((part) => part !== undefined && part !== "" && part.trim() === part);
}

function job(
  format: ClaimFormat,
  word: string | undefined,
  ref: { team: string | undefined; pipeline: string | undefined; job: string | undefined; name: string | undefined; instanceVars: InstanceVars | null },
): PrefixMatch {
  return {
    format,
    word: word ?? "",
    owner: {
      kind: "job",
      team: ref.team ?? "",
      pipeline: ref.pipeline ?? "",
      instanceVars: ref.instanceVars,
      job: ref.job ?? "",
      name: ref.name ?? "",
    },
    problem: null,
  };
}

// ---- results -------------------------------------------------------------------------------------

function unknown(operation: ClaimOperation | null, format: ClaimFormat, note: string): ParsedClaim {
  return { operation, owner: null, format, note };
}

function notAClaim(word: string, format: ClaimFormat): ParsedClaim {
  return unknown(null, format, `\`${word}:\` does not leave the lock claimed, so the message names no holder`);
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}
