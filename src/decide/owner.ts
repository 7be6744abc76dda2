// API answers (or their absence) → OwnerState. Pure: every answer is an argument.
//
// The owner lookup decides most locks. A claiming build that succeeded may have handed its
// lock on (`get: … passed: [J]`), so for it the hand-off steps of reference §7.4 follow:
// jobs list → the build's outputs → the claim's version → the builds it was input to.

import type {
  BuildInfo,
  BuildRef,
  BuildResources,
  BuildState,
  JobInfo,
  Lookup,
  OwnerState,
  ResourceVersion,
} from "../core/model.js";

export function describeRef(ref: BuildRef): string {
  if (ref.kind === "one-off") return `one-off build ${ref.id}`;
  const vars = ref.instanceVars ? `/${JSON.stringify(ref.instanceVars)}` : "";
  return `${ref.team}/${ref.pipeline}${vars}/${ref.job} #${ref.name}`;
}

/** A short name for people: "test-aws #7". */
export function shortRef(ref: BuildRef): string {
  return ref.kind === "one-off" ? `one-off #${ref.id}` : `${ref.job} #${ref.name}`;
}

function refOf(build: BuildInfo, like: BuildRef): BuildRef {
  if (build.job && build.pipeline) {
    return {
      kind: "job",
      team: build.team,
      pipeline: build.pipeline,
      instanceVars: build.instanceVars ?? (like.kind === "job" ? like.instanceVars : null),
      job: build.job,
      name: build.name,
    };
  }
  return { kind: "one-off", id: String(build.id) };
}

export function stateOf(build: BuildInfo, like: BuildRef): BuildState {
  return { ref: refOf(build, like), status: build.status, id: build.id, endTime: build.endTime };
}

function cannotSay(lookup: Exclude<Lookup<unknown>, { kind: "found" }>): OwnerState {
  // The client's details name what was asked and what came back.
  switch (lookup.kind) {
    case "transient":
      return { kind: "unreachable", why: lookup.detail };
    case "not-found":
      return { kind: "silent", why: lookup.detail, holder: null };
    case "no-access":
      return { kind: "silent", why: `no access: ${lookup.detail}`, holder: null };
  }
}

/** The first step: what the claim commit and the owner lookup say, or that the hand-off must be followed. */
export type OwnerStep = { done: OwnerState } | { followHandoff: BuildState & { ref: Extract<BuildRef, { kind: "job" }> } };

export function ownerFromLookup(owner: BuildRef | null, lookup: Lookup<BuildInfo> | "no-api"): OwnerStep {
  if (owner === null) return { done: { kind: "silent", why: "the claim commit does not name a build", holder: null } };
  if (lookup === "no-api") return { done: { kind: "silent", why: "no Concourse API configured", holder: null } };
  if (lookup.kind !== "found") return { done: cannotSay(lookup) };
  const build = lookup.value;
  const holder: BuildState = { ref: owner, status: build.status, id: build.id, endTime: build.endTime };
  switch (build.status) {
    case "pending":
    case "started":
      return { done: { kind: "running", holder, handedOff: false } };
    case "failed":
    case "errored":
    case "aborted":
      // Only succeeded builds pass versions on (reference §7.2): nothing can hold it now.
      return { done: { kind: "finished", holder, handedOff: false } };
    case "succeeded":
      if (owner.kind === "one-off") return { done: { kind: "finished", holder, handedOff: false } };
      return { followHandoff: { ref: owner, status: build.status, id: build.id } };
  }
}

/** Resources that some job takes from `job` with `passed: [job]` (step 2). Empty: nobody downstream. */
export function downstreamResources(jobs: JobInfo[], job: string): string[] {
  const own = jobs.find((j) => j.name === job);
  if (!own) return [];
  const outputs = new Set(own.outputs.map((o) => o.resource));
  const found = new Set<string>();
  for (const other of jobs)
    for (const input of other.inputs)
      if (outputs.has(input.resource) && input.passed.includes(job)) found.add(input.resource);
  return [...found].sort();
}

/**
 * The resource under which the claim's version was saved (step 3): the build's output whose
 * ref is the claim sha, mapped from its step name to the resource through the job's outputs.
 */
export function claimResource(resources: BuildResources, jobs: JobInfo[], job: string, sha: string): string | null {
  const output = resources.outputs.find((o) => o.ref === sha);
  if (!output) return null;
  const own = jobs.find((j) => j.name === job);
  const mapped = own?.outputs.find((o) => o.name === output.name);
  return mapped ? mapped.resource : output.name;
}

export interface HandoffFacts {
  claimer: BuildState & { ref: Extract<BuildRef, { kind: "job" }> };
  jobs: JobInfo[];
  resource: string;
  sha: string;
  versions: Lookup<ResourceVersion[]>;
  /** the builds the claim's version was input to; undefined when the version was not found */
  inputTo?: Lookup<BuildInfo[]>;
}

/** Steps 4–6: decide from the version and the builds that took it. */
export function decideHandoff(facts: HandoffFacts): OwnerState {
  const { claimer, jobs, resource, sha } = facts;
  const where = `version ${sha.slice(0, 8)} of ${resource}`;
  if (facts.versions.kind !== "found") {
    const state = cannotSay(facts.versions);
    return state.kind === "silent" ? { ...state, holder: claimer } : state;
  }
  // Servers before 5.5 ignore the filter: only a version whose ref is the claim's counts.
  const version = facts.versions.value.find((v) => v.ref === sha);
  if (!version) return { kind: "silent", why: `${where} is not recorded (versions cleared or resource renamed)`, holder: claimer };
  if (!facts.inputTo) return { kind: "silent", why: `who took ${where} is unknown`, holder: claimer };
  if (facts.inputTo.kind !== "found") {
    const state = cannotSay(facts.inputTo);
    return state.kind === "silent" ? { ...state, holder: claimer } : state;
  }
  const takers = facts.inputTo.value;
  const running = takers.filter((b) => b.status === "pending" || b.status === "started").sort((a, b) => b.id - a.id);
  const first = running[0];
  if (first) return { kind: "running", holder: stateOf(first, claimer.ref), handedOff: true };

  const succeeded = takers.filter((b) => b.status === "succeeded");
  const holderJobs = new Set([claimer.ref.job, ...succeeded.map((b) => b.job ?? "")]);
  const takerJobs = new Set(takers.map((b) => b.job ?? ""));
  const candidates = new Set<string>();
  for (const job of jobs) {
    if (takerJobs.has(job.name) || job.name === claimer.ref.job) continue;
    if (job.inputs.some((i) => i.resource === resource && i.passed.some((p) => holderJobs.has(p)))) candidates.add(job.name);
  }
  // The last holder: the newest build that took it (it may have failed with it), else the claimer.
  const lastTaker = [...takers].sort((a, b) => b.id - a.id)[0];
  const holder = lastTaker ? stateOf(lastTaker, claimer.ref) : claimer;
  const handedOff = lastTaker !== undefined;
  if (candidates.size === 0 || !version.enabled) return { kind: "finished", holder, handedOff };
  return { kind: "waiting", holder, handedOff, candidates: [...candidates].sort() };
}
