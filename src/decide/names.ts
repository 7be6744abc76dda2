// The shortest name of each build that no other build in the report shares. Pure.
//
// `deploy #5` when only one pipeline in the report has a `deploy` job; else `app/deploy #5`;
// else with the pipeline's instance vars, then the team: `main/app/deploy #5`. Two builds of one
// job are told apart by their number, so the job (not the build) must be unambiguous.

import type { BuildRef } from "../core/model.js";

type JobRef = Extract<BuildRef, { kind: "job" }>;

function varsText(ref: JobRef): string {
  return ref.instanceVars ? JSON.stringify(ref.instanceVars) : "";
}

/** The job's name at each level of detail, shortest first. */
function jobForms(ref: JobRef): string[] {
  const vars = varsText(ref);
  const withVars = vars ? `${ref.pipeline}/${vars}` : ref.pipeline;
  return [ref.job, `${ref.pipeline}/${ref.job}`, `${withVars}/${ref.job}`, `${ref.team}/${withVars}/${ref.job}`];
}

function jobKey(ref: JobRef): string {
  return JSON.stringify([ref.team, ref.pipeline, varsText(ref), ref.job]);
}

export function refKey(ref: BuildRef): string {
  return ref.kind === "one-off" ? `one-off:${ref.id}` : JSON.stringify([jobKey(ref), ref.name]);
}

/**
 * A name for every ref, keyed by refKey(ref): the shortest form whose job part no other job in
 * `refs` shares at the same level of detail.
 */
export function shortestNames(refs: readonly BuildRef[]): Map<string, string> {
  const jobs = new Map<string, JobRef>();
  for (const ref of refs) if (ref.kind === "job") jobs.set(jobKey(ref), ref);
  const levels = 4;
  const taken: Array<Map<string, Set<string>>> = Array.from({ length: levels }, () => new Map());
  for (const [key, ref] of jobs)
    jobForms(ref).forEach((form, level) => {
      const owners = taken[level]!.get(form) ?? new Set<string>();
      owners.add(key);
      taken[level]!.set(form, owners);
    });
  const names = new Map<string, string>();
  for (const ref of refs) {
    if (ref.kind === "one-off") {
      names.set(refKey(ref), `one-off #${ref.id}`);
      continue;
    }
    const forms = jobForms(ref);
    const level = forms.findIndex((form, i) => (taken[i]!.get(form)?.size ?? 0) <= 1);
    const form = forms[level < 0 ? levels - 1 : level]!;
    names.set(refKey(ref), `${form} #${ref.name}`);
  }
  return names;
}
