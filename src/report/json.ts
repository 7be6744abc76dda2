// RunResult → the --json document. Pure. Field names are a public interface: add, don't rename.

import type { BuildRef, JudgedLock, OwnerCause, RunResult } from "../core/model.js";
import { buildUrl } from "../core/build-url.js";

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

/** Why the owner could not be judged (null when the API said who holds the lock). */
export function ownerCause(j: JudgedLock): OwnerCause | null {
  return j.owner.kind === "silent" || j.owner.kind === "unreachable" ? j.owner.cause : null;
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
    timeoutSeconds: j.policy.timeoutSeconds,
    commit: j.lock.claim?.sha ?? null,
    format: j.claim?.format ?? null,
    owner: j.claim?.owner ? { ...refJson(j.claim.owner), url: buildUrl(atcUrl, j.claim.owner) } : null,
    /** the first line of a message a person wrote instead of a pool-resource message */
    note: personNote(j),
    cause: ownerCause(j),
    buildStatus: ownerStatus(j),
    holder: holder ? { ...refJson(holder.ref), status: holder.status, url: buildUrl(atcUrl, holder.ref) } : null,
    handedOff,
    waitingFor: o.kind === "waiting" ? o.candidates : [],
    problem: j.lock.problem,
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
    ...(r.command === "clean"
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
