import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigFile, mergePolicies, layerFromSelection, type ConfigLayer } from "../../src/decide/config-file.js";
import { parsePools } from "../../src/decide/config.js";

test("a valid file: durations, shorthand, off, release-to", () => {
  const r = parseConfigFile(`pools:\n  "*": {timeout: 2h}\n  aws:\n    timeout: 90m\n    keep-failed: 1d\n    release-to: aws-dirty\n  gcp: 45\n  slow: {timeout: never, keep-failed: off}\n`, "c.yaml");
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(Object.fromEntries(r.value.pools), {
    "*": { timeout: 7200 },
    aws: { timeout: 5400, keepFailed: 86400, releaseTo: "aws-dirty" },
    gcp: { timeout: 2700 },
    slow: { timeout: null, keepFailed: null },
  });
});

test("an empty file and an empty pools: are valid and say nothing", () => {
  for (const text of ["", "# nothing\n", "pools:\n"]) {
    const r = parseConfigFile(text, "c.yaml");
    assert.ok(r.ok, text);
    assert.equal(r.value.pools.size, 0);
  }
});

const bad: Array<[name: string, text: string, want: RegExp[]]> = [
  ["not YAML", "pools: [\n", [/^c\.yaml:\d+: not valid YAML/]],
  ["not a mapping", "- a\n- b\n", [/^c\.yaml:1: the file must be a mapping/]],
  ["unknown top-level key", "pool:\n  aws: 2h\n", [/^c\.yaml:1: pool: unknown key/]],
  ["pools not a mapping", "pools: [aws]\n", [/^c\.yaml:1: pools: must be a mapping/]],
  ["a bad duration", "pools:\n  aws: {timeout: 9x}\n", [/^c\.yaml:2: pools\.aws\.timeout: "9x" is not a duration/]],
  // the same bounds as --pools: a timeout of 0s would release at once every lock nobody vouches for
  ["a timeout under a minute", "pools:\n  aws: {timeout: 0s}\n", [/^c\.yaml:2: pools\.aws\.timeout: "0s" is shorter than the shortest timeout, 1m/]],
  ["a * timeout under a minute", 'pools:\n  "*": 30s\n', [/^c\.yaml:2: pools\.\*: "30s" is shorter than the shortest timeout/]],
  ["a timeout over a year", "pools:\n  aws: {timeout: 400d}\n", [/^c\.yaml:2: pools\.aws\.timeout: "400d" is longer than the longest timeout/]],
  ["a misspelt setting", "pools:\n  aws:\n    timout: 2h\n", [/^c\.yaml:3: pools\.aws\.timout: unknown setting \(did you mean timeout\?\)/]],
  ["keep-failed never is ambiguous", "pools:\n  aws: {keep-failed: never}\n", [/keep-failed: "never" is ambiguous/]],
  ["release-to itself", "pools:\n  aws: {release-to: aws}\n", [/^c\.yaml:2: pools\.aws\.release-to: "aws" is the pool itself/]],
  ["release-to a path", "pools:\n  aws: {release-to: ../x}\n", [/release-to: "\.\.\/x" is not a pool name/]],
  ["a bad pool name", "pools:\n  .hidden: 2h\n", [/^c\.yaml:2: pools: "\.hidden" is not a pool name/]],
  ["a pool twice", "pools:\n  aws: 2h\n  aws: 3h\n", [/^c\.yaml:3: pools\.aws: the pool is given twice/]],
  ["a setting twice", "pools:\n  aws:\n    timeout: 2h\n    timeout: 3h\n", [/^c\.yaml:4: pools\.aws\.timeout: given twice/]],
  [
    "every problem at once",
    "pools:\n  aws:\n    timeout: 9x\n    keep-faild: 1d\n  gcp:\n    release-to: gcp\n",
    [/^c\.yaml:3: .*timeout/, /^c\.yaml:4: .*keep-faild: unknown setting \(did you mean keep-failed\?\)/, /^c\.yaml:6: .*release-to/],
  ],
];
for (const [name, text, want] of bad)
  test(`config file: ${name} is refused, naming the line`, () => {
    const r = parseConfigFile(text, "c.yaml");
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.problems.length, want.length, r.problems.join("\n"));
    want.forEach((re, i) => assert.match(r.problems[i] ?? "", re));
  });

function layer(source: string, text: string): ConfigLayer {
  const r = parseConfigFile(text, source);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return { ...r.value, source };
}
const flags = (spec: string) => {
  const r = parsePools(spec, "--pools");
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return layerFromSelection(r.value, "--pools");
};

type Case = [name: string, layers: ConfigLayer[], pool: string, want: { timeout: number | null; keepFailed: number | null; releaseTo: string | null; from: string }];
const H = 3600;
const precedence: Case[] = [
  ["--pools wins over --config for the same pool", [flags("aws:1h"), layer("--config c", "pools:\n  aws: 2h\n")], "aws", { timeout: H, keepFailed: null, releaseTo: null, from: "--pools" }],
  ["--pools * wins over --config's named pool (layers first)", [flags("*:1h"), layer("--config c", "pools:\n  aws: 2h\n")], "aws", { timeout: H, keepFailed: null, releaseTo: null, from: '--pools "*"' }],
  ["--config wins over the repository's file", [layer("--config c", "pools:\n  aws: 2h\n"), layer("repo", "pools:\n  aws: 3h\n")], "aws", { timeout: 2 * H, keepFailed: null, releaseTo: null, from: "--config c" }],
  ["a setting only the repository's file has comes from it", [flags("aws:1h"), layer("repo", "pools:\n  aws: {keep-failed: 1d, release-to: dirty}\n")], "aws", { timeout: H, keepFailed: 86400, releaseTo: "dirty", from: "--pools" }],
  ["within a layer, the named pool wins over *", [layer("repo", 'pools:\n  "*": 1h\n  aws: 2h\n')], "aws", { timeout: 2 * H, keepFailed: null, releaseTo: null, from: "repo" }],
  ["no layer says: never, off, its own pool", [layer("repo", "pools:\n  aws: {release-to: dirty}\n")], "aws", { timeout: null, keepFailed: null, releaseTo: "dirty", from: "default" }],
  ["a * release-to never sends a pool to itself", [layer("repo", 'pools:\n  "*": {release-to: dirty}\n')], "dirty", { timeout: null, keepFailed: null, releaseTo: null, from: "default" }],
];
for (const [name, layers, pool, want] of precedence)
  test(`precedence: ${name}`, () => {
    const { policies } = mergePolicies(["aws", "dirty", "gcp"], layers);
    const p = policies.find((x) => x.pool === pool);
    assert.ok(p, `${pool} in ${policies.map((x) => x.pool).join(",")}`);
    assert.deepEqual({ timeout: p.timeoutSeconds, keepFailed: p.keepFailedSeconds, releaseTo: p.releaseTo, from: p.sources?.timeout }, want);
  });

test("which pools: those of the highest layer that names any; missing ones from files are reported, from --pools required", () => {
  const m = mergePolicies(["aws", "gcp"], [flags("aws:1h,gone:1h"), layer("repo", "pools:\n  retired: 1h\n  gcp: 1h\n")]);
  assert.deepEqual(m.policies.map((p) => p.pool), ["aws"], "--pools aws looks at aws alone");
  const fromConfig = mergePolicies(["aws", "gcp"], [layer("--config c", "pools:\n  gcp: 1h\n"), layer("repo", 'pools:\n  "*": 2h\n')]);
  assert.deepEqual(fromConfig.policies.map((p) => [p.pool, p.timeoutSeconds]), [["gcp", 3600]]);
  const fromRepo = mergePolicies(["aws", "gcp"], [layer("--config c", "pools:\n"), layer("repo", "pools:\n  gcp: 1h\n")]);
  assert.deepEqual(fromRepo.policies.map((p) => p.pool), ["gcp"], "a file that names no pool leaves the choice to the next");
  assert.deepEqual(m.required, [{ pool: "gone", source: "--pools" }]);
  assert.deepEqual(m.missing, [{ pool: "retired", source: "repo" }]);
  const all = mergePolicies(["aws", "gcp"], [layer("repo", 'pools:\n  "*": 1h\n')]);
  assert.deepEqual(all.policies.map((p) => p.pool), ["aws", "gcp"]);
});
