import { test } from "node:test";
import assert from "node:assert/strict";
import { shortestNames, refKey } from "../../src/decide/names.js";
import type { BuildRef, InstanceVars } from "../../src/core/model.js";

const j = (team: string, pipeline: string, job: string, name: string, instanceVars: InstanceVars | null = null): BuildRef => ({
  kind: "job", team, pipeline, instanceVars, job, name,
});
const names = (refs: BuildRef[]) => refs.map((r) => shortestNames(refs).get(refKey(r)));

const cases: Array<[string, BuildRef[], string[]]> = [
  ["one job: the job and number", [j("main", "app", "deploy", "5")], ["deploy #5"]],
  ["two builds of one job stay short", [j("main", "app", "deploy", "5"), j("main", "app", "deploy", "6")], ["deploy #5", "deploy #6"]],
  ["two pipelines with a deploy job: the pipeline", [j("main", "app", "deploy", "5"), j("main", "web", "deploy", "3"), j("main", "app", "test", "1")], ["app/deploy #5", "web/deploy #3", "test #1"]],
  ["two teams with one pipeline name: the team", [j("main", "app", "deploy", "5"), j("ops", "app", "deploy", "5")], ["main/app/deploy #5", "ops/app/deploy #5"]],
  [
    "two instances of one pipeline: the instance vars",
    [j("main", "app", "deploy", "5", { env: "a" }), j("main", "app", "deploy", "5", { env: "b" })],
    ['app/{"env":"a"}/deploy #5', 'app/{"env":"b"}/deploy #5'],
  ],
  [
    "instances in two teams: everything",
    [j("main", "app", "deploy", "1", { env: "a" }), j("ops", "app", "deploy", "1", { env: "a" }), j("ops", "app", "deploy", "1", { env: "b" })],
    ['main/app/{"env":"a"}/deploy #1', 'ops/app/{"env":"a"}/deploy #1', 'app/{"env":"b"}/deploy #1'],
  ],
  ["a one-off build", [{ kind: "one-off", id: "42" }, j("main", "app", "deploy", "5")], ["one-off #42", "deploy #5"]],
  ["the same build twice is one job", [j("main", "app", "deploy", "5"), j("main", "app", "deploy", "5")], ["deploy #5", "deploy #5"]],
  ["nothing", [], []],
];
for (const [name, refs, want] of cases) test(name, () => assert.deepEqual(names(refs), want));
