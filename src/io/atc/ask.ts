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
import { claimResource, decideHandoff, downstreamResources, ownerFromLookup } from "../../decide/owner.js";

export type JobBuildRef = Extract<BuildRef, { kind: "job" }>;

/** What the ask stage needs from the API client. */
export interface OwnerApi {
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

/** The hand-off data could not be had: transient failures keep the lock, anything else lets the timeout decide. */
function missing(lookup: Exclude<Lookup<unknown>, { kind: "found" }>, what: string, holder: BuildState): OwnerState {
  if (lookup.kind === "transient") return { kind: "unreachable", why: `${what}: ${lookup.detail}` };
  const status = lookup.kind === "no-access" ? `HTTP ${lookup.status}` : "not found";
  return { kind: "silent", why: `${what} ${status}: the hand-off cannot be followed`, holder };
}

/**
 * known: the claiming build's state when it is known already to have succeeded (from an earlier
 * round of the same run: a final state does not change); then only the hand-off is asked.
 */
export async function askOwner(api: OwnerApi | null, lock: ClaimedLock, claim: ParsedClaim | null, known?: BuildState & { ref: JobBuildRef }): Promise<OwnerState> {
  const owner = claim?.owner ?? null;
  if (owner === null) return { kind: "silent", why: "the claim commit does not name a build", holder: null };
  if (api === null) return { kind: "silent", why: "no Concourse API configured", holder: null };
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
