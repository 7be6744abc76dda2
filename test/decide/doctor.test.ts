import { test } from "node:test";
import assert from "node:assert/strict";
import { diagnose, type DoctorInput } from "../../src/decide/doctor.js";
import type { BuildRef, Hold, ParsedClaim } from "../../src/core/model.js";

const NOW = new Date("2026-11-30T12:00:00Z");
type Entry = DoctorInput["entries"][number];

/** Tree entries from file paths (folders added), "path@120000" for a symlink. */
function tree(...files: string[]): Entry[] {
  const out = new Map<string, Entry>();
  for (const spec of files) {
    const [path, mode = "100644"] = spec.split("@") as [string, string?];
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) out.set(parts.slice(0, i).join("/"), { path: parts.slice(0, i).join("/"), type: "tree", mode: "040000" });
    out.set(path, { path, type: "blob", mode });
  }
  return [...out.values()];
}
const healthy = ["aws/claimed/.gitkeep", "aws/unclaimed/.gitkeep", "aws/unclaimed/env-1", "aws/claimed/env-2"];
const build = (name: string): BuildRef => ({ kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", name });
const claim = (owner: BuildRef | null): ParsedClaim => ({ operation: "claiming", owner, format: owner ? "team-build" : "none", note: owner ? null : "free text" });
const hold = (name: string, untilMinutes: number | null): Hold => ({ pool: "aws", name, path: `.pool-boy/holds/aws/${name}`, by: "bob", reason: "x", since: new Date(0), until: untilMinutes === null ? null : new Date(NOW.getTime() + untilMinutes * 60_000), claim: null });

function input(over: Partial<DoctorInput> = {}): DoctorInput {
  return { entries: tree(...healthy), claims: [{ pool: "aws", name: "env-2", claim: claim(build("1")) }], holds: [], holdProblems: [], missingPools: [], now: NOW, ...over };
}

type Case = [name: string, input: DoctorInput, want: string[]];
const cases: Case[] = [
  ["a healthy pool: nothing", input(), []],
  ["a lock in claimed/ and unclaimed/", input({ entries: tree(...healthy, "aws/unclaimed/env-2") }), ["error claimed-and-unclaimed aws/claimed/env-2"]],
  ["a pool without unclaimed/", input({ entries: tree("gcp/claimed/.gitkeep", "gcp/claimed/vm-1"), claims: [] }), ["error missing-folder gcp/unclaimed/", "warning exhausted gcp/unclaimed/"]],
  ["claimed/ without .gitkeep", input({ entries: tree("aws/unclaimed/.gitkeep", "aws/unclaimed/env-1", "aws/claimed/env-2") }), ["warning missing-gitkeep aws/claimed/.gitkeep"]],
  ["stray file, folder, symlink and dot-file", input({ entries: tree(...healthy, "aws/README.md", "aws/claimed/sub/x", "aws/unclaimed/link@120000", "aws/unclaimed/.DS_Store") }), ["warning stray aws/README.md", "warning stray aws/claimed/sub", "warning stray aws/unclaimed/.DS_Store", "warning stray aws/unclaimed/link"]],
  ["one build holding two locks of a pool", input({ entries: tree(...healthy, "aws/claimed/env-3"), claims: [{ pool: "aws", name: "env-2", claim: claim(build("1")) }, { pool: "aws", name: "env-3", claim: claim(build("1")) }] }), ["warning several-locks-one-build -"]],
  ["two builds, two locks: fine", input({ entries: tree(...healthy, "aws/claimed/env-3"), claims: [{ pool: "aws", name: "env-2", claim: claim(build("1")) }, { pool: "aws", name: "env-3", claim: claim(build("2")) }] }), []],
  ["an exhausted pool", input({ entries: tree("aws/claimed/.gitkeep", "aws/unclaimed/.gitkeep", "aws/claimed/env-2") }), ["warning exhausted aws/unclaimed/"]],
  ["a claim in no known format", input({ claims: [{ pool: "aws", name: "env-2", claim: claim(null) }] }), ["warning unknown-claim aws/claimed/env-2"]],
  ["a claim with no commit", input({ claims: [{ pool: "aws", name: "env-2", claim: null }] }), ["warning unknown-claim aws/claimed/env-2"]],
  ["an active hold on a claimed lock: fine", input({ holds: [hold("env-2", 60)] }), []],
  ["an expired hold", input({ holds: [hold("env-2", -60)] }), ["warning hold-expired .pool-boy/holds/aws/env-2"]],
  ["a hold on a lock that is not claimed", input({ holds: [hold("env-1", null)] }), ["warning hold-lock-missing .pool-boy/holds/aws/env-1"]],
  ["an unreadable hold", input({ holds: [hold("env-2", null)], holdProblems: [{ path: ".pool-boy/holds/aws/env-2", problem: "not a mapping" }] }), ["error hold-unreadable .pool-boy/holds/aws/env-2"]],
  ["a config file naming a missing pool", input({ missingPools: [{ pool: "retired", source: ".pool-boy/config.yaml" }] }), ["warning config-unknown-pool -"]],
  ["the repository's config file cannot be read", input({ repoConfigProblems: [".pool-boy/config.yaml:3: pools.aws.timeout: \"9x\" is not a duration"] }), ["error config-invalid .pool-boy/config.yaml"]],
  ["top-level folders that are not pools, and .pool-boy/, are not looked at", input({ entries: tree(...healthy, "docs/README.md", ".pool-boy/config.yaml") }), []],
];
for (const [name, i, want] of cases)
  test(`doctor: ${name}`, () => {
    const got = diagnose(i).map((f) => `${f.severity} ${f.code} ${f.path ?? "-"}`);
    assert.deepEqual(got, want);
  });

test("every finding has words and a fix", () => {
  const all = diagnose(input({ entries: tree("aws/claimed/env-2", "aws/unclaimed/env-2", "aws/x"), holds: [hold("env-9", -1)], missingPools: [{ pool: "p", source: "--config c.yaml" }] }));
  assert.ok(all.length >= 4);
  for (const f of all) {
    assert.ok(f.message.length > 10, f.code);
    assert.ok(f.fix.length > 5, f.code);
  }
  assert.equal(all[0]?.severity, "error", "errors first");
  assert.match(all.find((f) => f.code === "config-unknown-pool")?.fix ?? "", /remove "p" from c\.yaml/);
});
