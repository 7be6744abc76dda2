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
  return { ref: refOf(build, like), status: build.status, id: build.id };
}

/** The team whose access a lookup of `ref` needs, or null for a one-off build (the claim does not say). */
export function teamOf(ref: BuildRef): string | null {
  return ref.kind === "job" ? ref.team : null;
}

/** "no access to team T: …" (or to a one-off build, whose team the claim does not name). */
export function noAccessWhy(ref: BuildRef, status: 401 | 403, detail: string): Extract<OwnerState, { kind: "unreachable" }> {
  const team = teamOf(ref);
  const to = team !== null ? `team ${team}` : `${describeRef(ref)} (its team is not named in the claim)`;
  return { kind: "unreachable", why: `no access to ${to}: ${detail}`, cause: "no-access", access: { team, status } };
}

/**
 * What a lookup that found nothing means. The client's details name what was asked and what came
 * back. 401/403 never lead to a release: pool-boy may not see the build, which is not a build that
 * is gone. Only Concourse's own (empty-bodied) 404 reaches here as not-found; any answer Concourse
 * never writes is transient.
 */
function cannotSay(lookup: Exclude<Lookup<unknown>, { kind: "found" }>, ref: BuildRef, notFound: "not-found" | "handoff-unknown"): OwnerState {
  switch (lookup.kind) {
    case "transient":
      return { kind: "unreachable", why: lookup.detail, cause: "api-error" };
    case "not-found":
      return { kind: "silent", why: lookup.detail, cause: notFound, holder: null };
    case "no-access":
      return noAccessWhy(ref, lookup.status, lookup.detail);
  }
}

/** The host (name and port, lower case) of an http(s) URL, or null when it is not one. */
export function hostOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.host.toLowerCase() : null;
  } catch {
    return null;
  }
}

/**
 * The host of a claim's Concourse when it is not the one asked (neither the configured URL's
 * host nor its external_url's), else null. Pools shared between installations are why the
 * pool-resource writes a Build URL: another Concourse's build must not be looked up here, where
 * a build of the same team, pipeline, job and number may exist and may have finished.
 */
export function foreignConcourse(claimConcourse: string | undefined, knownHosts: readonly string[]): string | null {
  if (claimConcourse === undefined) return null;
  const host = hostOf(claimConcourse);
  // a Build URL that is not http(s) cannot be this Concourse's either
  if (host === null) return claimConcourse;
  const known = new Set(knownHosts.map((h) => h.toLowerCase()));
  return known.has(host) ? null : host;
}

/**
 * The claim's host is not the configured one, and /api/v1/info did not answer, so whether it is
 * this Concourse's external_url is not known: neither asked nor aged, kept this run.
 */
export function unsureConcourse(host: string, configured: string): OwnerState {
  return {
    kind: "unreachable",
    why: `the claim names the Concourse at ${host}; whether that is ${configured} is not known, because its /api/v1/info (which gives its external_url) did not answer`,
    cause: "api-error",
  };
}

/** The claim came from another Concourse: not asked here; the timeout decides. */
export function foreignOwner(host: string, configured: string): OwnerState {
  return {
    kind: "silent",
    why: `the claim came from another Concourse (${host}), not the one asked (${configured}), so its build is not looked up`,
    cause: "foreign-concourse",
    holder: null,
  };
}

/** The first step: what the claim commit and the owner lookup say, or that the hand-off must be followed. */
export type OwnerStep = { done: OwnerState } | { followHandoff: BuildState & { ref: Extract<BuildRef, { kind: "job" }> } };

export const NO_OWNER: OwnerState = { kind: "silent", why: "the claim commit does not name a build", cause: "no-owner", holder: null };
export const NO_API: OwnerState = { kind: "silent", why: "no Concourse API configured", cause: "no-api", holder: null };

export function ownerFromLookup(owner: BuildRef | null, lookup: Lookup<BuildInfo> | "no-api"): OwnerStep {
  if (owner === null) return { done: NO_OWNER };
  if (lookup === "no-api") return { done: NO_API };
  if (lookup.kind !== "found") return { done: cannotSay(lookup, owner, "not-found") };
  const build = lookup.value;
  const holder: BuildState = { ref: owner, status: build.status, id: build.id };
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
    const state = cannotSay(facts.versions, claimer.ref, "handoff-unknown");
    return state.kind === "silent" ? { ...state, holder: claimer } : state;
  }
  // Servers before 5.5 ignore the filter: only a version whose ref is the claim's counts.
  const version = facts.versions.value.find((v) => v.ref === sha);
  if (!version) return { kind: "silent", why: `${where} is not recorded (versions cleared or resource renamed)`, cause: "handoff-unknown", holder: claimer };
  if (!facts.inputTo) return { kind: "silent", why: `who took ${where} is unknown`, cause: "handoff-unknown", holder: claimer };
  if (facts.inputTo.kind !== "found") {
    const state = cannotSay(facts.inputTo, claimer.ref, "handoff-unknown");
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
