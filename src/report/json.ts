// RunResult → the --json document. Pure. Field names are a public interface: add, don't rename.

import type { BuildRef, JudgedLock, RunResult } from "../core/model.js";

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

export function lockJson(j: JudgedLock) {
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
    timeoutSeconds: j.policy.timeoutSeconds,
    commit: j.lock.claim?.sha ?? null,
    /** commits after the claim that edited the lock file in place (content or mode), newest first; never acted on */
    editedAfterClaim: j.lock.editedAfterClaim.map((e) => ({ commit: e.sha, at: e.committedAt.toISOString() })),
    format: j.claim?.format ?? null,
    owner: refJson(j.claim?.owner ?? null),
    buildStatus: ownerStatus(j),
    holder: holder ? { ...refJson(holder.ref), status: holder.status } : null,
    handedOff,
    waitingFor: o.kind === "waiting" ? o.candidates : [],
    problem: j.lock.problem,
    /** why the owner could not be judged (OwnerCause), null when it was */
    cause: o.kind === "silent" || o.kind === "unreachable" ? o.cause : null,
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
    locks: r.locks.map(lockJson),
    pools: r.pools,
    ...(r.command === "clean"
      ? { released: r.released.map((m) => ({ pool: m.pool, name: m.name, from: m.from, to: m.to })), commits: r.commits, attempts: r.attempts }
      : {}),
    api: r.api,
    warnings: r.warnings,
  };
}
