// The "ask" stage: for each claimed lock, the API requests its owner needs, in the order of
// reference §7.4, each step's answer handed to the pure decisions in owner.ts. The client
// bounds concurrency and asks each distinct URL once per run.

import type {
  BuildInfo,
  BuildRef,
  BuildResources,
  BuildState,
  ClaimedLock,
  InstanceVars,
  JobInfo,
  Lookup,
  OwnerState,
  ParsedClaim,
  ResourceVersion,
} from "../../core/model.js";
import {
  claimResource,
  decideHandoff,
  downstreamResources,
  foreignConcourse,
  foreignOwner,
  NO_API,
  NO_OWNER,
  noAccessWhy,
  ownerFromLookup,
  unsureConcourse,
} from "../../decide/owner.js";

export type JobBuildRef = Extract<BuildRef, { kind: "job" }>;

/** What the ask stage needs from the API client. */
export interface OwnerApi {
  /** the configured base URL, credentials removed */
  readonly url: string;
  /** the hosts this Concourse is known by: the configured URL's and its external_url's */
  readonly hosts: readonly string[];
  /** false when /api/v1/info did not answer: `hosts` may lack the external_url's */
  readonly externalUrlKnown: boolean;
  jobBuild(ref: JobBuildRef): Promise<Lookup<BuildInfo>>;
  build(id: string): Promise<Lookup<BuildInfo>>;
  jobs(team: string, pipeline: string, vars: InstanceVars | null): Promise<Lookup<JobInfo[]>>;
  buildResources(id: number): Promise<Lookup<BuildResources>>;
  versions(team: string, pipeline: string, vars: InstanceVars | null, resource: string, ref: string): Promise<Lookup<ResourceVersion[]>>;
  inputTo(team: string, pipeline: string, vars: InstanceVars | null, resource: string, versionId: number): Promise<Lookup<BuildInfo[]>>;
}

function lookupOwner(api: OwnerApi, owner: BuildRef): Promise<Lookup<BuildInfo>> {
  return owner.kind === "job" ? api.jobBuild(owner) : api.build(owner.id);
}

/**
 * The hand-off data could not be had: transient failures and no access (401/403) keep the lock;
 * Concourse's own 404 lets the timeout decide.
 */
function missing(lookup: Exclude<Lookup<unknown>, { kind: "found" }>, what: string, holder: BuildState & { ref: JobBuildRef }): OwnerState {
  if (lookup.kind === "transient") return { kind: "unreachable", why: `${what}: ${lookup.detail}`, cause: "api-error" };
  if (lookup.kind === "no-access") return noAccessWhy(holder.ref, lookup.status, `${what}: ${lookup.detail}`);
  return { kind: "silent", why: `${what} not found: the hand-off cannot be followed`, cause: "handoff-unknown", holder };
}

/**
 * known: the claiming build's state when it is known already to have succeeded (from an earlier
 * round of the same run: a final state does not change); then only the hand-off is asked.
 */
export async function askOwner(api: OwnerApi | null, lock: ClaimedLock, claim: ParsedClaim | null, known?: BuildState & { ref: JobBuildRef }): Promise<OwnerState> {
  const owner = claim?.owner ?? null;
  if (owner === null) return NO_OWNER;
  if (api === null) return NO_API;
  // another Concourse's build is never asked of this one
  const foreign = foreignConcourse(claim?.concourse, api.hosts);
  if (foreign !== null) return api.externalUrlKnown ? foreignOwner(foreign, api.url) : unsureConcourse(foreign, api.url);
  const step = known && known.status === "succeeded" ? { followHandoff: known } : ownerFromLookup(owner, await lookupOwner(api, owner));
  if ("done" in step) return step.done;

  const claimer = step.followHandoff;
  const { team, pipeline, instanceVars: vars, job } = claimer.ref;
  const sha = lock.claim?.sha;
  if (!sha || claimer.id === null) return { kind: "finished", holder: claimer, handedOff: false };

  const jobs = await api.jobs(team, pipeline, vars);
  if (jobs.kind !== "found") return missing(jobs, `the jobs of pipeline ${pipeline}`, claimer);
  const downstream = downstreamResources(jobs.value, job);
  if (downstream.length === 0) return { kind: "finished", holder: claimer, handedOff: false };

  const resources = await api.buildResources(claimer.id);
  if (resources.kind !== "found") return missing(resources, `the resources of build ${claimer.id}`, claimer);
  const resource = claimResource(resources.value, jobs.value, job, sha);
  // No output carries the claim: nothing was recorded that a job could take.
  if (resource === null || !downstream.includes(resource)) return { kind: "finished", holder: claimer, handedOff: false };

  const versions = await api.versions(team, pipeline, vars, resource, sha);
  const version = versions.kind === "found" ? versions.value.find((v) => v.ref === sha) : undefined;
  const inputTo = version ? await api.inputTo(team, pipeline, vars, resource, version.id) : undefined;
  return decideHandoff({ claimer, jobs: jobs.value, resource, sha, versions, ...(inputTo ? { inputTo } : {}) });
}

export function askOwners(api: OwnerApi | null, items: Array<{ lock: ClaimedLock; claim: ParsedClaim | null }>): Promise<OwnerState[]> {
  return Promise.all(items.map(({ lock, claim }) => askOwner(api, lock, claim)));
}
