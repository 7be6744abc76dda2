import { test } from "node:test";
import assert from "node:assert/strict";
import { claimResource, decideHandoff, downstreamResources, foreignConcourse, ownerFromLookup, type HandoffFacts } from "../../src/decide/owner.js";
import type { BuildInfo, BuildRef, BuildStatus, JobInfo, Lookup, OwnerState, ResourceVersion } from "../../src/core/model.js";

const SHA = "c1a1m".padEnd(40, "0");
const deployRef: Extract<BuildRef, { kind: "job" }> = { kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "12" };

function build(id: number, job: string | null, status: BuildStatus, extra: Partial<BuildInfo> = {}): BuildInfo {
  return { id, name: String(id), status, team: "main", pipeline: job ? "app" : null, job, instanceVars: null, startTime: 1, endTime: null, ...extra };
}
const found = <T>(value: T): Lookup<T> => ({ kind: "found", value });

// The pool-resource README's pipeline: deploy acquires, test takes it with passed: [deploy], cleanup after test.
const jobs = (extra: JobInfo[] = []): JobInfo[] => [
  { name: "deploy", paused: false, inputs: [], outputs: [{ name: "aws-environments", resource: "aws-environments" }] },
  { name: "test", paused: false, inputs: [{ name: "aws-environments", resource: "aws-environments", passed: ["deploy"] }], outputs: [] },
  ...extra,
];
const cleanup: JobInfo = { name: "cleanup", paused: false, inputs: [{ name: "aws-environments", resource: "aws-environments", passed: ["test"] }], outputs: [] };
const plainGet: JobInfo = { name: "audit", paused: false, inputs: [{ name: "aws-environments", resource: "aws-environments", passed: [] }], outputs: [] };

function facts(inputTo: BuildInfo[], over: Partial<HandoffFacts> = {}): HandoffFacts {
  return {
    claimer: { ref: deployRef, status: "succeeded", id: 12 },
    jobs: jobs([cleanup]),
    resource: "aws-environments",
    sha: SHA,
    versions: found<ResourceVersion[]>([{ id: 5, ref: SHA, enabled: true }]),
    inputTo: found(inputTo),
    ...over,
  };
}

type Want = { kind: OwnerState["kind"]; holderJob?: string; handedOff?: boolean; candidates?: string[]; cause?: string };
const cases: Array<[string, HandoffFacts, Want]> = [
  ["handed on and running", facts([build(20, "test", "started")]), { kind: "running", holderJob: "test", handedOff: true }],
  ["handed on, taker pending after adopting inputs", facts([build(20, "test", "pending")]), { kind: "running", holderJob: "test", handedOff: true }],
  ["handed on, taker failed, nobody left", facts([build(20, "test", "failed")], { jobs: jobs() }), { kind: "finished", holderJob: "test", handedOff: true }],
  ["taker failed: cleanup (passed: [test]) is no candidate", facts([build(20, "test", "failed")]), { kind: "finished", holderJob: "test", handedOff: true }],
  ["waiting: test has not taken it yet", facts([]), { kind: "waiting", holderJob: "deploy", handedOff: false, candidates: ["test"] }],
  ["two hops running: test succeeded, cleanup started", facts([build(20, "test", "succeeded"), build(30, "cleanup", "started")]), { kind: "running", holderJob: "cleanup", handedOff: true }],
  ["two hops waiting: test succeeded, cleanup not yet", facts([build(20, "test", "succeeded")]), { kind: "waiting", holderJob: "test", handedOff: true, candidates: ["cleanup"] }],
  ["two hops done: cleanup succeeded, nobody left", facts([build(20, "test", "succeeded"), build(30, "cleanup", "succeeded")]), { kind: "finished", holderJob: "cleanup", handedOff: true }],
  ["the version is disabled: nobody can take it", facts([], { versions: found([{ id: 5, ref: SHA, enabled: false }]) }), { kind: "finished", holderJob: "deploy", handedOff: false }],
  ["a plain get without passed: is no hand-off", facts([], { jobs: [jobs()[0]!, plainGet] }), { kind: "finished", holderJob: "deploy", handedOff: false }],
  ["pre-5.5 server ignores the filter: other versions are not the claim", facts([], { versions: found([{ id: 9, ref: "f".repeat(40), enabled: true }]) }), { kind: "silent", cause: "handoff-unknown" }],
  ["pre-5.5 server: the claim found in an unfiltered list", facts([], { versions: found([{ id: 9, ref: "f".repeat(40), enabled: true }, { id: 5, ref: SHA, enabled: true }]) }), { kind: "waiting", candidates: ["test"] }],
  ["versions cleared: the timeout decides", facts([], { versions: found([]) }), { kind: "silent", cause: "handoff-unknown" }],
  ["resource renamed (404): the timeout decides", facts([], { versions: { kind: "not-found", detail: "HTTP 404" } }), { kind: "silent", cause: "handoff-unknown" }],
  ["versions lookup failing: kept this run", facts([], { versions: { kind: "transient", detail: "HTTP 502" } }), { kind: "unreachable", cause: "api-error" }],
  ["input_to failing: kept this run", facts([], { inputTo: { kind: "transient", detail: "timeout" } }), { kind: "unreachable", cause: "api-error" }],
  ["versions 401: kept, never by age", facts([], { versions: { kind: "no-access", status: 401, detail: "not authorized" } }), { kind: "unreachable", cause: "no-access" }],
  ["input_to 403: kept, never by age", facts([], { inputTo: { kind: "no-access", status: 403, detail: "forbidden" } }), { kind: "unreachable", cause: "no-access" }],
];

for (const [name, f, want] of cases) {
  test(`hand-off: ${name}`, () => {
    const got = decideHandoff(f);
    assert.equal(got.kind, want.kind);
    if (want.cause !== undefined) assert.equal(got.kind === "silent" || got.kind === "unreachable" ? got.cause : null, want.cause);
    if (want.holderJob !== undefined) {
      assert.ok(got.kind === "running" || got.kind === "finished" || got.kind === "waiting");
      assert.equal(got.holder.ref.kind === "job" ? got.holder.ref.job : null, want.holderJob);
      assert.equal(got.handedOff, want.handedOff);
    }
    if (want.candidates) {
      assert.equal(got.kind, "waiting");
      if (got.kind === "waiting") assert.deepEqual(got.candidates, want.candidates);
    }
  });
}

test("hand-off: an instanced pipeline's holder keeps the instance vars", () => {
  const vars = { branch: "main", num: 9000 };
  const claimer = { ref: { ...deployRef, instanceVars: vars }, status: "succeeded" as const, id: 12 };
  const got = decideHandoff({ ...facts([build(20, "test", "started", { instanceVars: vars })]), claimer });
  assert.equal(got.kind, "running");
  if (got.kind === "running") assert.deepEqual(got.holder.ref, { kind: "job", team: "main", pipeline: "app", instanceVars: vars, job: "test", name: "20" });
});

test("downstreamResources: only jobs with passed: [J] on J's outputs", () => {
  assert.deepEqual(downstreamResources(jobs(), "deploy"), ["aws-environments"]);
  assert.deepEqual(downstreamResources([jobs()[0]!, plainGet], "deploy"), []);
  assert.deepEqual(downstreamResources(jobs(), "test"), []);
  assert.deepEqual(downstreamResources(jobs(), "no-such-job"), []);
});

test("claimResource: a put step named unlike its resource maps through the job's outputs", () => {
  const js: JobInfo[] = [{ name: "deploy", paused: false, inputs: [], outputs: [{ name: "env", resource: "aws-environments" }] }];
  const res = { inputs: [], outputs: [{ name: "env", ref: SHA }, { name: "other", ref: "b".repeat(40) }] };
  assert.equal(claimResource(res, js, "deploy", SHA), "aws-environments");
  assert.equal(claimResource(res, js, "deploy", "b".repeat(40)), "other");
  assert.equal(claimResource(res, js, "deploy", "d".repeat(40)), null);
});

const owner = deployRef;
const lookups: Array<[string, BuildRef | null, Lookup<BuildInfo> | "no-api", string]> = [
  ["no owner in the message", null, found(build(1, "deploy", "started")), "silent/no-owner"],
  ["no API", owner, "no-api", "silent/no-api"],
  ["404", owner, { kind: "not-found", detail: "HTTP 404" }, "silent/not-found"],
  ["401 after a fresh login", owner, { kind: "no-access", status: 401, detail: "not authorized" }, "unreachable/no-access"],
  ["403", owner, { kind: "no-access", status: 403, detail: "forbidden" }, "unreachable/no-access"],
  ["403 for a one-off build", { kind: "one-off", id: "77" }, { kind: "no-access", status: 403, detail: "forbidden" }, "unreachable/no-access"],
  ["transient", owner, { kind: "transient", detail: "HTTP 503 after 3 retries" }, "unreachable/api-error"],
  ["pending", owner, found(build(12, "deploy", "pending")), "running"],
  ["started", owner, found(build(12, "deploy", "started")), "running"],
  ["failed", owner, found(build(12, "deploy", "failed")), "finished"],
  ["errored", owner, found(build(12, "deploy", "errored")), "finished"],
  ["aborted", owner, found(build(12, "deploy", "aborted")), "finished"],
  ["succeeded job build: follow the hand-off", owner, found(build(12, "deploy", "succeeded")), "follow"],
  ["succeeded one-off build: nobody can take it", { kind: "one-off", id: "77" }, found(build(77, null, "succeeded")), "finished"],
];
for (const [name, ref, lookup, want] of lookups) {
  test(`owner lookup: ${name} → ${want}`, () => {
    const step = ownerFromLookup(ref, lookup);
    const got = "done" in step ? (step.done.kind === "silent" || step.done.kind === "unreachable" ? `${step.done.kind}/${step.done.cause}` : step.done.kind) : "follow";
    assert.equal(got, want);
  });
}

test("no access names the team to fix, or the one-off build whose team the claim does not say", () => {
  const job = ownerFromLookup(owner, { kind: "no-access", status: 403, detail: "build main/app/deploy #12: HTTP 403 forbidden" });
  assert.ok("done" in job && job.done.kind === "unreachable");
  assert.match(job.done.why, /^no access to team main: build main\/app\/deploy #12: HTTP 403 forbidden$/);
  assert.deepEqual(job.done.kind === "unreachable" && job.done.access, { team: "main", status: 403 });
  const oneOff = ownerFromLookup({ kind: "one-off", id: "77" }, { kind: "no-access", status: 401, detail: "HTTP 401" });
  assert.ok("done" in oneOff && oneOff.done.kind === "unreachable");
  assert.match(oneOff.done.why, /^no access to one-off build 77 \(its team is not named in the claim\)/);
  assert.deepEqual(oneOff.done.kind === "unreachable" && oneOff.done.access, { team: null, status: 401 });
});

const hosts = ["ci.example.com", "10.0.0.5:8080"];
const foreignCases: Array<[string, string | undefined, string | null]> = [
  ["no Build URL: nothing to compare", undefined, null],
  ["the configured host", "https://ci.example.com", null],
  ["the same host in capitals, with a path prefix", "https://CI.Example.com/concourse", null],
  ["the default port written out", "https://ci.example.com:443", null],
  ["the external_url's host and port", "http://10.0.0.5:8080", null],
  ["another host", "https://ci.other.org", "ci.other.org"],
  ["the same name on another port", "https://ci.example.com:8443", "ci.example.com:8443"],
  ["the same address on another port", "http://10.0.0.5:9090", "10.0.0.5:9090"],
  ["a suffix is not the host", "https://ci.example.com.evil.org", "ci.example.com.evil.org"],
  ["not http(s)", "ftp://ci.example.com", "ftp://ci.example.com"],
];
for (const [name, concourse, want] of foreignCases) {
  test(`foreign Concourse: ${name}`, () => assert.equal(foreignConcourse(concourse, hosts), want));
}
