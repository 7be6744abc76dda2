import { test } from "node:test";
import assert from "node:assert/strict";
import { buildUrl } from "../../src/core/build-url.js";
import type { BuildRef } from "../../src/core/model.js";

const job = (over: Partial<Extract<BuildRef, { kind: "job" }>> = {}): BuildRef => ({
  kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "5", ...over,
});

const cases: Array<[string, string | null, BuildRef | null, string | null]> = [
  ["a job build", "https://ci.example.com", job(), "https://ci.example.com/teams/main/pipelines/app/jobs/deploy/builds/5"],
  ["a trailing slash on the ATC URL", "https://ci.example.com/", job(), "https://ci.example.com/teams/main/pipelines/app/jobs/deploy/builds/5"],
  ["an ATC under a path", "https://example.com/ci", job(), "https://example.com/ci/teams/main/pipelines/app/jobs/deploy/builds/5"],
  ["a rerun", "https://ci", job({ name: "5.1" }), "https://ci/teams/main/pipelines/app/jobs/deploy/builds/5.1"],
  ["an instanced pipeline", "https://ci", job({ instanceVars: { env: "prod", n: 2 } }), "https://ci/teams/main/pipelines/app/jobs/deploy/builds/5?vars.env=%22prod%22&vars.n=2"],
  ["nested instance vars", "https://ci", job({ instanceVars: { a: { b: true } } }), "https://ci/teams/main/pipelines/app/jobs/deploy/builds/5?vars.a.b=true"],
  ["names that need escaping", "https://ci", job({ pipeline: "a b", job: "x?y#z", team: "t/1" }), "https://ci/teams/t%2F1/pipelines/a%20b/jobs/x%3Fy%23z/builds/5"],
  ["control characters cannot reach the terminal", "https://ci", job({ job: "\u001b]8;;evil\u0007" }), "https://ci/teams/main/pipelines/app/jobs/%1B%5D8%3B%3Bevil%07/builds/5"],
  ["a one-off build", "https://ci", { kind: "one-off", id: "42" }, "https://ci/builds/42"],
  ["a one-off id that is not a number", "https://ci", { kind: "one-off", id: "4/2" }, null],
  ["no API", null, job(), null],
  ["no build", "https://ci", null, null],
];
for (const [name, atc, ref, want] of cases) test(name, () => assert.equal(buildUrl(atc, ref), want));
