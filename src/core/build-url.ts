// A build's web page on the Concourse, as the ATC itself links it (BUILD_URL). Pure.
//
// Job builds: ${ATC}/teams/T/pipelines/P/jobs/J/builds/N, with `?vars.k=<json>` for an instanced
// pipeline (the same query the API takes); one-off builds: ${ATC}/builds/ID.

import type { BuildRef } from "./model.js";
import { instanceVarsToQuery } from "./instance-vars.js";

/** The web URL of a build, or null when there is no Concourse URL to build it on. */
export function buildUrl(atcUrl: string | null | undefined, ref: BuildRef | null): string | null {
  if (!atcUrl || !ref) return null;
  const base = atcUrl.replace(/\/+$/u, "");
  if (ref.kind === "one-off") return /^\d+$/u.test(ref.id) ? `${base}/builds/${ref.id}` : null;
  const seg = encodeURIComponent;
  const path = `${base}/teams/${seg(ref.team)}/pipelines/${seg(ref.pipeline)}/jobs/${seg(ref.job)}/builds/${seg(ref.name)}`;
  const query = ref.instanceVars ? new URLSearchParams(instanceVarsToQuery(ref.instanceVars)).toString() : "";
  return query ? `${path}?${query}` : path;
}
