// Metrics for operators to graph and alert on: built from a run's plain RunResult into a fresh
// prom-client Registry, then pushed to a Prometheus Pushgateway and/or written as a
// node_exporter textfile-collector file. See the README's Metrics section.
//
// Every metric is a gauge: each run reports a snapshot of its own (how many locks, how many this
// run released, …) that the next run replaces. Counters would be wrong here: a counter must only
// go up over the life of the process that exposes it, but each push or file replaces the previous
// one, so every run would look like a counter reset and rate()/increase() would mislead. Hence
// no `_total` suffixes either.

import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Gauge, Registry } from "prom-client";
import { PoolBoyError } from "../core/errors.js";
import type { RunResult, Verdict } from "../core/model.js";
import { redact, registerSecret, safeUrl } from "../core/redact.js";

/** The metric names, for callers and tests. */
export const METRIC = {
  locks: "pool_boy_locks",
  releasedLocks: "pool_boy_released_locks",
  verdicts: "pool_boy_verdicts",
  oldestClaimAge: "pool_boy_oldest_claim_age_seconds",
  unjudgedLocks: "pool_boy_unjudged_locks",
  apiRequests: "pool_boy_api_requests",
  runDuration: "pool_boy_run_duration_seconds",
  runSucceeded: "pool_boy_run_succeeded",
  lastRun: "pool_boy_last_run_timestamp_seconds",
  lastSuccess: "pool_boy_last_success_timestamp_seconds",
} as const;

/** The Pushgateway job every push is grouped under. */
export const PUSH_JOB = "pool-boy";

type VerdictKeyOf<V> = V extends Verdict ? { action: V["action"]; reason: V["reason"] } : never;
export type VerdictKey = VerdictKeyOf<Verdict>;

/** Every verdict/reason pair a lock can get: each pool reports all of them, zeros included. */
export const VERDICT_KEYS: readonly VerdictKey[] = [
  { action: "keep", reason: "alive" },
  { action: "keep", reason: "young" },
  { action: "keep", reason: "unknown" },
  { action: "keep", reason: "conflict" },
  { action: "release", reason: "finished" },
  { action: "release", reason: "stale" },
];

/** The request outcomes ApiStats counts; always reported (zeros included, also without an API). */
export const API_OUTCOMES = ["ok", "not-found", "no-access", "transient", "retry"] as const;

const LOCK_STATES = ["claimed", "unclaimed"] as const;

/**
 * Why a lock was kept without a judgement: every pool reports each, zeros included.
 * no-access: Concourse refused to show the build (401/403; the run ends with exit 5);
 * api-error: no usable answer this run (timeouts, 5xx, a 404 page Concourse never writes).
 */
export const UNJUDGED_CAUSES = ["no-access", "api-error"] as const;

/**
 * Build the run's metrics into a fresh Registry (no default registry, no process metrics).
 *
 * `pool_boy_last_success_timestamp_seconds` is registered only when the run succeeded: a failed
 * run's registry does not carry it at all, so neither a push (see pushMetrics) nor a metrics file
 * (see writeMetricsFile) overwrites the last success.
 */
export function buildMetrics(result: RunResult, outcome: { succeeded: boolean }): Registry {
  const registry = new Registry();
  const registers = [registry];

  const pools = poolNames(result);

  const locks = new Gauge({
    name: METRIC.locks,
    help: "Locks in each pool after the run, by state (claimed or unclaimed).",
    labelNames: ["pool", "state"] as const,
    registers,
  });
  const counts = new Map(result.pools.map((p) => [p.pool, p]));
  for (const pool of pools) {
    const c = counts.get(pool);
    for (const state of LOCK_STATES) locks.set({ pool, state }, c ? c[state] : 0);
  }

  const released = new Gauge({
    name: METRIC.releasedLocks,
    help: "Claimed locks this run gave back to the pool (moved to unclaimed).",
    labelNames: ["pool"] as const,
    registers,
  });
  const releasedBy = tally(result.released.map((m) => m.pool));
  for (const pool of pools) released.set({ pool }, releasedBy.get(pool) ?? 0);

  const verdicts = new Gauge({
    name: METRIC.verdicts,
    help: "Claimed locks judged by this run, by verdict (keep or release) and reason.",
    labelNames: ["pool", "verdict", "reason"] as const,
    registers,
  });
  const verdictCounts = tally(result.locks.map((l) => verdictKey(l.lock.pool, l.verdict.action, l.verdict.reason)));
  for (const pool of pools) {
    for (const { action, reason } of VERDICT_KEYS) {
      verdicts.set({ pool, verdict: action, reason }, verdictCounts.get(verdictKey(pool, action, reason)) ?? 0);
    }
  }
  // A verdict that a newer model has and this list does not still gets reported.
  for (const l of result.locks) {
    const { action, reason } = l.verdict;
    if (!VERDICT_KEYS.some((k) => k.action === action && k.reason === reason)) {
      verdicts.set({ pool: l.lock.pool, verdict: action, reason }, verdictCounts.get(verdictKey(l.lock.pool, action, reason)) ?? 0);
    }
  }

  const oldest = new Gauge({
    name: METRIC.oldestClaimAge,
    help: "Age in seconds of the oldest claim still held in each pool after the run (0 when none).",
    labelNames: ["pool"] as const,
    registers,
  });
  const releasedSet = new Set(result.released.map((m) => lockKey(m.pool, m.name)));
  const oldestBy = new Map<string, number>();
  for (const l of result.locks) {
    if (l.ageSeconds === null || !Number.isFinite(l.ageSeconds)) continue;
    if (releasedSet.has(lockKey(l.lock.pool, l.lock.name))) continue;
    oldestBy.set(l.lock.pool, Math.max(oldestBy.get(l.lock.pool) ?? 0, l.ageSeconds));
  }
  for (const pool of pools) oldest.set({ pool }, oldestBy.get(pool) ?? 0);

  const unjudged = new Gauge({
    name: METRIC.unjudgedLocks,
    help: "Claimed locks kept without a judgement because the API could not say, by cause (no-access: 401/403, the run exits 5; api-error: no usable answer this run).",
    labelNames: ["pool", "cause"] as const,
    registers,
  });
  const unjudgedCounts = tally(
    result.locks.flatMap((l) =>
      // a conflict is kept for its own reason, whatever the API said
      l.owner.kind === "unreachable" && l.verdict.reason === "unknown" ? [verdictKey(l.lock.pool, "unjudged", l.owner.cause)] : [],
    ),
  );
  for (const pool of pools) {
    for (const cause of UNJUDGED_CAUSES) unjudged.set({ pool, cause }, unjudgedCounts.get(verdictKey(pool, "unjudged", cause)) ?? 0);
  }

  const api = new Gauge({
    name: METRIC.apiRequests,
    help: "Concourse API requests made by this run, by outcome (0 when no API is configured).",
    labelNames: ["outcome"] as const,
    registers,
  });
  const outcomes = result.api?.outcomes ?? {};
  for (const o of API_OUTCOMES) api.set({ outcome: o }, outcomes[o] ?? 0);
  for (const [o, n] of Object.entries(outcomes)) {
    if (!(API_OUTCOMES as readonly string[]).includes(o)) api.set({ outcome: o }, n);
  }

  new Gauge({ name: METRIC.runDuration, help: "How long the run took, in seconds.", registers }).set(
    Math.max(0, (result.finishedAt.getTime() - result.startedAt.getTime()) / 1000),
  );
  new Gauge({
    name: METRIC.runSucceeded,
    help: "1 when the run succeeded, 0 when it failed.",
    registers,
  }).set(outcome.succeeded ? 1 : 0);
  new Gauge({
    name: METRIC.lastRun,
    help: "Unix time the run finished, whether it succeeded or not.",
    registers,
  }).set(result.finishedAt.getTime() / 1000);
  if (outcome.succeeded) {
    new Gauge({
      name: METRIC.lastSuccess,
      help: "Unix time the last successful run finished; kept unchanged by failed runs.",
      registers,
    }).set(result.finishedAt.getTime() / 1000);
  }

  return registry;
}

function poolNames(result: RunResult): string[] {
  const names = new Set<string>();
  for (const p of result.pools) names.add(p.pool);
  for (const l of result.locks) names.add(l.lock.pool);
  for (const m of result.released) names.add(m.pool);
  return [...names].sort();
}

function tally(keys: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const k of keys) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}

function verdictKey(pool: string, action: string, reason: string): string {
  return JSON.stringify([pool, action, reason]);
}

function lockKey(pool: string, name: string): string {
  return JSON.stringify([pool, name]);
}

// ---------------------------------------------------------------- Pushgateway

const PUSH_HINT =
  "check --pushgateway (POOL_BOY_PUSHGATEWAY) and that the Pushgateway is up; the locks were handled already, only the metrics push failed";

/**
 * Push the registry to a Pushgateway under the group job="pool-boy", repo, branch.
 *
 * A registry that carries pool_boy_last_success_timestamp_seconds (a successful run) is sent with
 * PUT, which replaces the whole group, so series of an earlier run that no longer apply are gone.
 * A registry without it (a failed run) is sent with POST, which replaces only the metrics it
 * names: every other pool-boy metric is replaced as usual, but the last success survives.
 *
 * A plain `fetch` is used rather than prom-client's Pushgateway class: that class percent-encodes
 * grouping values, and a `%2F` in a path segment is not accepted by the Pushgateway (a repo URL
 * is full of slashes), it takes credentials only through Node's URL parser, and it has no
 * timeout. Here each grouping value that is not a plain word is sent base64url-encoded
 * (`repo@base64/…`), credentials in the URL become a Basic Authorization header, and the request
 * is bounded by `timeoutMs` (default 10 s).
 */
export async function pushMetrics(
  registry: Registry,
  url: string,
  grouping: { repo: string; branch: string },
  options?: { timeoutMs?: number },
): Promise<void> {
  const timeoutMs = options?.timeoutMs ?? 10_000;
  const shown = safeUrl(url);
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new PoolBoyError("metrics", `the Pushgateway URL ${shown} is not a valid URL`, "give --pushgateway as http(s)://HOST:PORT");
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new PoolBoyError("metrics", `the Pushgateway URL ${shown} is not an http(s) URL`, "give --pushgateway as http(s)://HOST:PORT");
  }

  const headers: Record<string, string> = { "Content-Type": registry.contentType };
  if (base.username || base.password) {
    const user = decodeURIComponent(base.username);
    const password = decodeURIComponent(base.password);
    registerSecret(password);
    headers["Authorization"] = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    base.username = "";
    base.password = "";
  }
  base.search = "";
  base.hash = "";
  const prefix = base.pathname.replace(/\/+$/, "");
  const repo = safeUrl(grouping.repo);
  const path =
    `${prefix}/metrics/job/${PUSH_JOB}` +
    `/${groupingSegment("repo", repo)}` +
    `/${groupingSegment("branch", grouping.branch)}`;
  const target = new URL(base.href);
  target.pathname = path;

  const method = registry.getSingleMetric(METRIC.lastSuccess) ? "PUT" : "POST";
  const where = `the Pushgateway at ${shown} (job="${PUSH_JOB}", repo="${repo}", branch="${grouping.branch}")`;
  const body = await registry.metrics();

  let response: Response;
  try {
    response = await fetch(target, { method, headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
  } catch (err) {
    throw new PoolBoyError("metrics", redact(`cannot push metrics to ${where}: ${describeFetchError(err, timeoutMs)}`), PUSH_HINT, {
      cause: err,
    });
  }
  let text = "";
  try {
    text = await response.text();
  } catch {
    // the status says enough
  }
  if (!response.ok) {
    const detail = text.trim().replace(/\s+/g, " ").slice(0, 500);
    const hint =
      response.status === 401 || response.status === 403
        ? "the Pushgateway wants credentials: give them in the URL, http(s)://USER:PASSWORD@HOST:PORT"
        : PUSH_HINT;
    throw new PoolBoyError(
      "metrics",
      redact(`${where} refused the push (${method}): HTTP ${response.status} ${response.statusText}${detail ? `: ${detail}` : ""}`),
      hint,
    );
  }
}

/** One grouping label as a path segment pair: plain when it is a plain word, base64url otherwise. */
export function groupingSegment(label: string, value: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9._~-]*$/.test(value)) return `${label}/${value}`;
  // The Pushgateway takes base64url with or without padding; "=" stands for the empty value.
  const encoded = Buffer.from(value, "utf8").toString("base64url");
  return `${label}@base64/${encoded === "" ? "=" : encoded}`;
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return `no answer within ${timeoutMs} ms`;
  }
  const code = findCode(err);
  const words: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
  };
  if (code) return `${words[code] ?? "request failed"} (${code})`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : null;
  const message = err instanceof Error ? err.message : String(err);
  return cause ? `${message}: ${cause}` : message;
}

function findCode(err: unknown, depth = 0): string | null {
  if (depth > 4 || typeof err !== "object" || err === null) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
  const nested = (err as { cause?: unknown }).cause;
  const fromCause = findCode(nested, depth + 1);
  if (fromCause) return fromCause;
  if (err instanceof AggregateError) {
    for (const e of err.errors) {
      const c = findCode(e, depth + 1);
      if (c) return c;
    }
  }
  return null;
}

// ---------------------------------------------------------------- textfile

const FILE_HINT =
  "check --metrics-file (POOL_BOY_METRICS_FILE): it must name a file in an existing directory that pool-boy can write, " +
  "e.g. the node_exporter --collector.textfile.directory, ending in .prom";

/**
 * Write the registry in the text format node_exporter's textfile collector reads, atomically:
 * a temporary file in the same directory (not ending in .prom, so the collector skips it) is
 * written, flushed and renamed over `path`.
 *
 * When the registry has no pool_boy_last_success_timestamp_seconds (a failed run), the value in
 * the file being replaced is carried over, so the file keeps the last success like the
 * Pushgateway does.
 */
export async function writeMetricsFile(registry: Registry, path: string): Promise<void> {
  let text = await registry.metrics();
  if (!registry.getSingleMetric(METRIC.lastSuccess)) text += await previousLastSuccess(path);

  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let created = false;
  try {
    const handle = await open(temp, "wx", 0o644);
    created = true;
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    created = false;
  } catch (err) {
    if (created) await unlink(temp).catch(() => undefined);
    throw new PoolBoyError("metrics", redact(`cannot write the metrics file ${path}: ${describeFsError(err, dir)}`), FILE_HINT, {
      cause: err,
    });
  }
}

/** The last-success lines of the file about to be replaced, or "" when it has none. */
async function previousLastSuccess(path: string): Promise<string> {
  let old: string;
  try {
    old = await readFile(path, "utf8");
  } catch {
    return "";
  }
  const name = METRIC.lastSuccess;
  const lines = old.split("\n");
  const samples = lines.filter((l) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)\s*$/.exec(l);
    return m !== null && m[1] === name && Number.isFinite(Number(m[2]));
  });
  if (samples.length === 0) return "";
  const meta = lines.filter((l) => l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `));
  return `\n${[...meta, ...samples].join("\n")}\n`;
}

function describeFsError(err: unknown, dir: string): string {
  const code = findCode(err);
  switch (code) {
    case "ENOENT":
      return `the directory ${dir} does not exist`;
    case "ENOTDIR":
      return `${dir} is not a directory`;
    case "EACCES":
    case "EPERM":
      return `permission denied (${code})`;
    case "EISDIR":
      return "it is a directory";
    case "EROFS":
      return "the file system is read-only";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
