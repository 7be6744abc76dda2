// pool-boy as a Concourse resource type: /opt/resource/check, in and out. An adapter around the
// CLI's own pieces: `source` → the CLI's flags and environment → resolveConfig() → run().
// The Concourse contract: a JSON request on stdin, one JSON document on stdout, everything else
// (logs, errors) on stderr, exit non-zero on failure, secrets never printed.

import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { resolveConfig, ENV, type Config } from "../decide/config.js";
import { EXIT, PoolBoyError } from "../core/errors.js";
import { makeRedactor, safeUrl, type Redactor } from "../core/redact.js";
import { escapeText } from "../core/escape.js";
import type { RunResult } from "../core/model.js";
import { run } from "../run.js";
import { resultJson } from "../report/json.js";
import { summaryLine } from "../report/table.js";
import { renderSummary } from "../report/summary.js";
import { TRANSPORT_ENV } from "../io/git/transport.js";
import { mkdirs } from "../io/mkdirs.js";
import { noAccessSentence } from "../decide/access.js";
import { inSourceTerms, narrowPools, parseOutParams, sourceSecrets, translateSource } from "./source.js";
import { EMPTY_VERSION, isResourceVersion, members, releasable, versionOf, type ResourceVersion } from "./version.js";

export type Operation = "check" | "in" | "out";

export interface ResourceIo {
  /** the script's arguments after the operation: the directory for in and out */
  argv: string[];
  env: Record<string, string | undefined>;
  /** the whole request Concourse wrote on stdin */
  stdin: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  now?: () => Date;
}

interface Metadata {
  name: string;
  value: string;
}

/** Stops the script with a code; the lines are already in the resource's terms. */
class Stop extends Error {
  constructor(
    readonly code: number,
    readonly lines: string[],
  ) {
    super(lines.join("\n"));
  }
}

/**
 * A put that did its work but must fail so that a person notices (locks kept for lack of API
 * access, like the CLI's exit 5): the lines go to stderr, nothing to stdout.
 */
class Failed extends Error {
  constructor(
    readonly code: number,
    readonly lines: string[],
  ) {
    super(lines.join("\n"));
  }
}

const MAX_LOCKS_IN_METADATA = 20;

/** Every variable the CLI reads for its settings: the resource's settings come from `source` only. */
function isCliSetting(name: string): boolean {
  const cli = new Set<string>([...Object.values(ENV), ...Object.values(TRANSPORT_ENV), "POOL_BOY_SUMMARY_FILE", "POOL_BOY_CONFIG"]);
  return cli.has(name) || name.startsWith("POOL_BOY_") || name.startsWith("POOL_REPO") || name.startsWith("CONCOURSE_");
}

/** Where the clone is kept between checks: a stable folder per repository and branch. */
export function resourceCacheDir(env: Record<string, string | undefined>, repo: string, branch: string | null): string {
  const key = createHash("sha256").update(`${safeUrl(repo)}\n${branch ?? ""}`).digest("hex").slice(0, 16);
  return join(env["TMPDIR"] || tmpdir(), "pool-boy-resource", key);
}

function parseRequest(stdin: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin);
  } catch {
    throw new Stop(EXIT.usage, ["the request on stdin is not JSON (Concourse sends {\"source\": {…}, \"version\": …, \"params\": …})"]);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Stop(EXIT.usage, ["the request on stdin is not a JSON object"]);
  return parsed as Record<string, unknown>;
}

/** The one redactor of a request: the source's secrets, then every credential the configuration resolved. */
interface Masks {
  redactor: Redactor;
}

function sourceRedactor(request: Record<string, unknown>): Redactor {
  return makeRedactor({ secrets: sourceSecrets(request["source"]).map((value) => ({ value })) });
}

/** source → the Config the CLI would build from the same settings. */
function configFor(op: Operation, request: Record<string, unknown>, io: ResourceIo, dryRun: boolean, masks: Masks): { config: Config; env: Record<string, string> } {
  const translated = translateSource(request["source"]);
  if (!translated.ok) throw new Stop(EXIT.usage, translated.problems);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(io.env)) if (value !== undefined && !isCliSetting(name)) env[name] = value;
  Object.assign(env, translated.value.env);
  // put with dry_run: clean --dry-run, which plans the release commits and pushes nothing
  const command = op === "out" ? "clean" : "status";
  const resolved = resolveConfig({ command, flags: translated.value.flags, env, flyTarget: null, files: translated.value.files, isTTY: false });
  const found = resolved.secrets;
  masks.redactor = makeRedactor({ secrets: [...sourceSecrets(request["source"]).map((value) => ({ value })), ...found] });
  if (!resolved.ok) throw new Stop(EXIT.usage, resolved.problems.map(inSourceTerms));
  const config = resolved.value;
  return {
    config: { ...config, cacheDir: resourceCacheDir(io.env, config.repo, config.branch), verbose: translated.value.verbose, json: false, color: false, dryRun: op === "out" && dryRun },
    env,
  };
}

/** The folder of the check cache under $TMPDIR: made once, a clear refusal when it cannot be. */
async function makeCacheRoot(config: Config, io: ResourceIo): Promise<void> {
  const tmp = io.env["TMPDIR"] || tmpdir();
  await mkdirs(join(config.cacheDir ?? "", ".."), {
    mode: 0o700,
    given: `TMPDIR ${tmp}`,
    hint: "the resource keeps its clone under $TMPDIR between checks: run it where TMPDIR is a writable folder",
  });
}

function lockMetadata(result: RunResult): Metadata[] {
  const locks = releasable(result);
  const out = locks.slice(0, MAX_LOCKS_IN_METADATA).map((j) => ({ name: `${j.lock.pool}/${j.lock.name}`, value: `${j.verdict.reason}: ${j.verdict.detail}` }));
  if (locks.length > MAX_LOCKS_IN_METADATA) out.push({ name: "more", value: `and ${locks.length - MAX_LOCKS_IN_METADATA} more (see the summary)` });
  return out;
}

function commonMetadata(result: RunResult): Metadata[] {
  return [
    { name: "summary", value: summaryLine(result) },
    { name: "repository", value: `${result.repo} (${result.branch})` },
    { name: "head", value: result.head },
    { name: "mode", value: result.mode === "api" ? `Concourse API${result.atcVersion ? ` ${result.atcVersion}` : ""}` : "timeout only (no Concourse API)" },
  ];
}

async function check(request: Record<string, unknown>, io: ResourceIo, log: (line: string) => void, masks: Masks): Promise<unknown> {
  const { config, env } = configFor("check", request, io, false, masks);
  await makeCacheRoot(config, io);
  const result = await runOnce(config, env, io, log, masks.redactor);
  const current = versionOf(members(result));
  const previous = isResourceVersion(request["version"]) ? (request["version"] as ResourceVersion) : null;
  log(`check: ${summaryLine(result)}`);
  // Nothing to release: no new version, so no build runs for "nothing to do".
  if (current.set === EMPTY_VERSION.set) return previous ? [previous] : [];
  if (previous && previous.set === current.set) return [previous];
  log(`check: a new set of ${current.releasable} lock(s) to release: ${members(result).map((m) => m.split("@")[0]).join(", ")}`);
  return [current];
}

async function getReport(request: Record<string, unknown>, dir: string, io: ResourceIo, log: (line: string) => void, masks: Masks): Promise<unknown> {
  const { config, env } = configFor("in", request, io, false, masks);
  await makeCacheRoot(config, io);
  const result = await runOnce(config, env, io, log, masks.redactor);
  const current = versionOf(members(result));
  const version = isResourceVersion(request["version"]) ? (request["version"] as ResourceVersion) : current;
  const summary = masks.redactor.output(renderSummary({ command: "status", result, failure: null }));
  await mkdirs(dir, { given: `the get step's directory ${dir}`, hint: "the get step's directory must be writable by the image's user (uid 10001)" });
  try {
    await writeFile(join(dir, "status.json"), masks.redactor.output(JSON.stringify(resultJson(result), null, 2)) + "\n");
    await writeFile(join(dir, "summary.txt"), summary);
    await writeFile(join(dir, "version.json"), JSON.stringify(version) + "\n");
  } catch (cause) {
    throw new PoolBoyError(
      "config",
      `cannot write the report into ${dir}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      "the get step's directory must be writable by the image's user (uid 10001)",
      { cause },
    );
  }
  io.stderr.write(summary);
  if (current.set !== version.set) log(`the locks to release changed since this version was checked: status.json and summary.txt describe them as they are now`);
  return { version, metadata: [{ name: "releasable", value: current.releasable }, ...lockMetadata(result), ...commonMetadata(result)] };
}

async function put(request: Record<string, unknown>, dir: string, io: ResourceIo, log: (line: string) => void, masks: Masks): Promise<unknown> {
  const params = parseOutParams(request["params"]);
  // Source and params are checked together, so that every problem is named at once.
  let problems = params.ok ? [] : params.problems;
  let setup: ReturnType<typeof configFor> | null = null;
  try {
    setup = configFor("out", request, io, params.ok ? params.value.dryRun : true, masks);
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    problems = [...e.lines, ...problems];
  }
  if (problems.length > 0 || !setup || !params.ok) throw new Stop(EXIT.usage, problems);
  let { config } = setup;
  if (params.value.pools) {
    // as the CLI's --only POOL: the source's settings stay, only these pools are judged
    const narrowed = narrowPools(config.pools, config.configFile, params.value.pools);
    if (!narrowed.ok) throw new Stop(EXIT.usage, narrowed.problems);
    config = { ...config, only: narrowed.value };
  }
  void dir;
  await makeCacheRoot(config, io);
  const result = await runOnce(config, setup.env, io, log, masks.redactor);
  const dry = params.value.dryRun;
  io.stderr.write(masks.redactor.output(renderSummary({ command: result.command, result, failure: null })));
  // Locks kept because Concourse refused to show their builds: the release work is done, but the
  // step fails (as the CLI exits 5), so that the pipeline's owner sees it and fixes the access.
  const noAccess = noAccessSentence(result.locks);
  if (noAccess !== null)
    throw new Failed(EXIT.noAccess, [
      `${noAccess}; the step fails so that someone fixes the access (exit ${EXIT.noAccess})`,
      `${dry ? "nothing was changed (dry run)" : `the rest is done: ${result.released.length} released`}; the warnings above say which user, which team and how to fix it`,
    ]);
  const version = versionOf(members(result));
  const metadata: Metadata[] = [
    dry ? { name: "would release", value: String(releasable(result).length) } : { name: "released", value: String(result.released.length) },
    ...lockMetadata(result),
    ...(result.commits.length > 0 ? [{ name: "commit", value: result.commits[result.commits.length - 1]! }, { name: "commits", value: String(result.commits.length) }] : []),
    ...(dry ? [{ name: "dry_run", value: "true: nothing was changed" }] : []),
    // the commits clean would push, each with its message
    ...(result.plan?.moves ?? []).slice(0, MAX_LOCKS_IN_METADATA).map((m) => ({ name: `planned commit: ${m.pool}/${m.name}`, value: m.message })),
    ...commonMetadata(result),
  ];
  return { version, metadata };
}

async function runOnce(config: Config, env: Record<string, string>, io: ResourceIo, log: (line: string) => void, redactor: Redactor): Promise<RunResult> {
  return run(config, { env, now: io.now ?? (() => new Date()), log: config.verbose ? log : () => undefined, progress: () => undefined, redactor });
}

export async function resourceMain(op: Operation, io: ResourceIo): Promise<number> {
  // the patterns alone until the request is read
  const masks: Masks = { redactor: makeRedactor({ secrets: [] }) };
  const mask = (text: string) => masks.redactor.output(text);
  // repository and API text (lock names, messages) is shown in the build log, never executed
  const log = (line: string) => io.stderr.write(`pool-boy: ${escapeText(mask(inSourceTerms(line)))}\n`);
  try {
    const request = parseRequest(io.stdin);
    masks.redactor = sourceRedactor(request);
    let output: unknown;
    if (op === "check") output = await check(request, io, log, masks);
    else {
      const dir = io.argv[0];
      if (!dir) throw new Stop(EXIT.usage, [`${op} needs the directory Concourse gives as its argument`]);
      output = op === "in" ? await getReport(request, dir, io, log, masks) : await put(request, dir, io, log, masks);
    }
    io.stdout.write(mask(JSON.stringify(output)) + "\n");
    return EXIT.ok;
  } catch (error) {
    if (error instanceof Stop) {
      io.stderr.write(`pool-boy: the resource's configuration has ${error.lines.length === 1 ? "a problem" : `${error.lines.length} problems`}:\n`);
      for (const line of error.lines) io.stderr.write(`  - ${escapeText(mask(line))}\n`);
      return error.code;
    }
    if (error instanceof Failed) {
      for (const line of error.lines) io.stderr.write(`pool-boy: ${escapeText(mask(inSourceTerms(line)))}\n`);
      return error.code;
    }
    if (error instanceof PoolBoyError) {
      for (const line of error.message.split("\n")) io.stderr.write(`pool-boy: ${escapeText(mask(inSourceTerms(line)))}\n`);
      if (error.hint) io.stderr.write(`  ${escapeText(mask(inSourceTerms(error.hint)))}\n`);
      return error.exitCode;
    }
    const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
    io.stderr.write(`pool-boy: unexpected failure (a bug; please report it): ${mask(stack)}\n`);
    return EXIT.bug;
  }
}
