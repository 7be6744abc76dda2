// RunResult → the --json document. Pure. Field names are a public interface: add, don't rename.

import type { BuildRef, JudgedLock, RunResult } from "../core/model.js";
import { buildUrl } from "../core/build-url.js";
import { ConfigErrors, EXIT, PoolBoyError } from "../core/errors.js";

function refJson(ref: BuildRef | null) {
  if (!ref) return null;
  return ref.kind === "one-off"
    ? { kind: "one-off" as const, id: ref.id }
    : { kind: "job" as const, team: ref.team, pipeline: ref.pipeline, instanceVars: ref.instanceVars, job: ref.job, build: ref.name };
}

/** The state of the build the claim commit names (a handed-off lock's claimer succeeded). */
export function ownerStatus(j: JudgedLock): string | null {
  const o = j.owner;
  if (o.kind === "unreachable") return null;
  if (o.kind === "silent") return o.holder?.status ?? null;
  return o.handedOff ? "succeeded" : o.holder.status;
}

/** The first line of a claim message that is no pool-resource message: a person's note. */
export function personNote(j: JudgedLock): string | null {
  if (!j.claim || j.claim.owner !== null || j.claim.operation !== null || j.claim.format !== "none" || !j.lock.claim) return null;
  const first = j.lock.claim.message.split(/\r?\n/u).find((line) => line.trim() !== "")?.trim() ?? "";
  return first === "" ? null : first;
}

export function lockJson(j: JudgedLock, atcUrl: string | null = null) {
  const o = j.owner;
  const holder = o.kind === "running" || o.kind === "finished" || o.kind === "waiting" ? o.holder : null;
  const handedOff = o.kind === "running" || o.kind === "finished" || o.kind === "waiting" ? o.handedOff : false;
  return {
    pool: j.lock.pool,
    name: j.lock.name,
    verdict: j.verdict.action,
    reason: j.verdict.reason,
    detail: j.verdict.detail,
    claimedAt: j.lock.claim ? j.lock.claim.committedAt.toISOString() : null,
    ageSeconds: j.ageSeconds,
    aheadSeconds: j.aheadSeconds ?? (j.lock.claim ? 0 : null),
    timeoutSeconds: j.policy.timeoutSeconds,
    commit: j.lock.claim?.sha ?? null,
    /** commits after the claim that edited the lock file in place (content or mode), newest first; never acted on */
    editedAfterClaim: j.lock.editedAfterClaim.map((e) => ({ commit: e.sha, at: e.committedAt.toISOString() })),
    format: j.claim?.format ?? null,
    owner: j.claim?.owner ? { ...refJson(j.claim.owner), url: buildUrl(atcUrl, j.claim.owner) } : null,
    /** the first line of a message a person wrote instead of a pool-resource message */
    note: personNote(j),
    buildStatus: ownerStatus(j),
    holder: holder ? { ...refJson(holder.ref), status: holder.status, url: buildUrl(atcUrl, holder.ref) } : null,
    handedOff,
    waitingFor: o.kind === "waiting" ? o.candidates : [],
    problem: j.lock.problem,
    /** why the owner could not be judged (OwnerCause), null when it was */
    cause: o.kind === "silent" || o.kind === "unreachable" ? o.cause : null,
    keepFailedSeconds: j.policy.keepFailedSeconds ?? null,
    releaseTo: j.policy.releaseTo ?? null,
    hold: j.hold
      ? { by: j.hold.by, reason: j.hold.reason, since: j.hold.since.toISOString(), until: j.hold.until ? j.hold.until.toISOString() : null }
      : null,
  };
}

export function resultJson(r: RunResult) {
  return {
    command: r.command,
    repo: r.repo,
    branch: r.branch,
    head: r.head,
    mode: r.mode,
    concourseVersion: r.atcVersion,
    generatedAt: r.finishedAt.toISOString(),
    durationSeconds: (r.finishedAt.getTime() - r.startedAt.getTime()) / 1000,
    target: r.target ?? null,
    team: r.team ?? null,
    only: r.only ?? [],
    locks: r.locks.map((j) => lockJson(j, r.atcUrl ?? null)),
    pools: r.pools.map((p) => {
      const timeout = r.policies?.find((q) => q.pool === p.pool);
      return { ...p, timeoutSeconds: timeout?.timeoutSeconds ?? null, timeoutSet: timeout ? !timeout.unset : false };
    }),
    settings: (r.policies ?? []).map((p) => ({
      pool: p.pool,
      timeoutSeconds: p.timeoutSeconds,
      keepFailedSeconds: p.keepFailedSeconds ?? null,
      releaseTo: p.releaseTo ?? null,
      sources: p.sources ?? null,
    })),
    ...(r.command === "clean" && r.dryRun
      ? {
          dryRun: true,
          plan: r.plan
            ? { base: r.plan.base, branch: r.plan.branch, moves: r.plan.moves.map((m) => ({ pool: m.pool, name: m.name, from: m.from, to: m.to, message: m.message, gitkeep: m.gitkeep ?? null })) }
            : null,
          wouldRelease: r.locks.filter((j) => j.verdict.action === "release").length,
        }
      : r.command === "clean"
      ? {
          released: r.released.map((m) => ({ pool: m.pool, name: m.name, from: m.from, to: m.to, reason: m.reason, detail: m.detail, commit: m.commit })),
          commits: r.commits,
          attempts: r.attempts,
        }
      : { wouldRelease: r.locks.filter((j) => j.verdict.action === "release").length }),
    api: r.api,
    warnings: r.warnings,
  };
}

/** The `error` object of a failed run's --json document. */
export interface ErrorJson {
  /** usage, config, git, atc, metrics, or bug (an unexpected failure) */
  kind: string;
  message: string;
  hint: string | null;
  exitCode: number;
  /** config errors only: every problem found, one sentence each */
  problems?: string[];
}

/** Any failure → the `error` object. Only the message is kept of an unexpected failure (the stack goes to stderr with --debug). */
export function errorJson(error: unknown, usage?: { message: string; hint: string }): ErrorJson {
  if (usage) return { kind: "usage", message: usage.message, hint: usage.hint, exitCode: EXIT.usage };
  if (error instanceof ConfigErrors) {
    const n = error.problems.length;
    const message = n === 1 ? (error.problems[0] ?? error.message) : `${n} problems in the configuration: ${error.problems.join("; ")}`;
    return { kind: error.kind, message, hint: error.hint ?? null, exitCode: error.exitCode, problems: [...error.problems] };
  }
  if (error instanceof PoolBoyError) return { kind: error.kind, message: error.message, hint: error.hint ?? null, exitCode: error.exitCode };
  const message = error instanceof Error ? error.message : String(error);
  return { kind: "bug", message: `unexpected failure: ${message}`, hint: "a bug: please report it with the output of --debug", exitCode: EXIT.bug };
}

/**
 * The --json document of a run that failed: what the run had got to (the whole result when the
 * git work was done, e.g. before a metrics failure; else the command and repository) and `error`.
 */
export function failureJson(error: ErrorJson, had: { command: string | null; repo?: string | null; branch?: string | null; result?: RunResult | null }) {
  if (had.result) return { ...resultJson(had.result), error };
  return {
    command: had.command,
    ...(had.repo !== undefined ? { repo: had.repo } : {}),
    ...(had.branch !== undefined ? { branch: had.branch } : {}),
    error,
  };
}
