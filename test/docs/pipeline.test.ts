// docs/pipeline.yml is a pipeline people set as it is, and docs/concourse-task.md documents its
// variables: both must only name variables pool-boy reads, and no secret may be written in them.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { ENV } from "../../src/decide/config.js";
import { TRANSPORT_ENV } from "../../src/io/git/transport.js";
import { SUMMARY_FILE_ENV } from "../../src/cli/summary-file.js";
import { SOURCE_KEYS, SECRET_KEYS } from "../../src/resource/source.js";

const ROOT = new URL("../../../", import.meta.url);
const PIPELINE_TEXT = readFileSync(new URL("docs/pipeline.yml", ROOT), "utf8");
const DOC = readFileSync(new URL("docs/concourse-task.md", ROOT), "utf8");

/** Every environment variable the CLI reads. */
const KNOWN = new Set<string>([...Object.values(ENV), ...Object.values(TRANSPORT_ENV), SUMMARY_FILE_ENV]);
/** Variables whose value is a secret (the *_FILE variables hold paths, not secrets). */
const isSecretName = (name: string): boolean => /PASSWORD|TOKEN|PRIVATE_KEY|SECRET|CREDENTIAL/.test(name) && !name.endsWith("_FILE");
/** What the brief of the scheduled task names: the variables a production task sets. */
const TASK_VARIABLES = [
  ENV.repo,
  ENV.branch,
  ENV.pools,
  TRANSPORT_ENV.sshPrivateKey,
  TRANSPORT_ENV.sshKnownHosts,
  ENV.concourseUrl,
  ENV.username,
  ENV.password,
  ENV.cacheDir,
];
const VAR = /^\(\([A-Za-z0-9_.\/-]+\)\)$/;

type Node = Record<string, unknown>;
function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function node(value: unknown, what: string): Node {
  assert.ok(isNode(value), `${what} is a mapping`);
  return value;
}
function list(value: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(value), `${what} is a list`);
  return value;
}
function text(value: unknown, what: string): string {
  assert.equal(typeof value, "string", `${what} is a string`);
  return value as string;
}

/** Every step of a plan, with those inside in_parallel/do/try and step hooks. */
function steps(plan: unknown[]): Node[] {
  const out: Node[] = [];
  const visit = (step: unknown): void => {
    if (!isNode(step)) return;
    out.push(step);
    const parallel = step["in_parallel"];
    const nested = Array.isArray(parallel) ? parallel : isNode(parallel) && Array.isArray(parallel["steps"]) ? parallel["steps"] : [];
    for (const inner of [...nested, ...(Array.isArray(step["do"]) ? step["do"] : [])]) visit(inner);
    for (const hook of ["try", "on_success", "on_failure", "on_error", "on_abort", "ensure"]) visit(step[hook]);
  };
  for (const step of plan) visit(step);
  return out;
}

/** Every string in the document, with where it is. */
function strings(value: unknown, path = "$"): Array<[string, string]> {
  if (typeof value === "string") return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (isNode(value)) return Object.entries(value).flatMap(([k, v]) => strings(v, `${path}.${k}`));
  return [];
}

const doc = node(parse(PIPELINE_TEXT), "the pipeline");
const resources = list(doc["resources"], "resources").map((r, i) => node(r, `resources[${i}]`));
const resourceTypes = list(doc["resource_types"] ?? [], "resource_types").map((r, i) => node(r, `resource_types[${i}]`));
const jobs = list(doc["jobs"], "jobs").map((j, i) => node(j, `jobs[${i}]`));
const resource = (name: string): Node => {
  const found = resources.find((r) => r["name"] === name);
  assert.ok(found, `resource ${name} is declared`);
  return found;
};

const job = (name: string): Node => {
  const found = jobs.find((j) => j["name"] === name);
  assert.ok(found, `job ${name} is declared`);
  return found;
};

describe("docs/pipeline.yml: the task form", () => {
  assert.equal(jobs.length, 2, "two jobs: the task form and the resource form");
  const job = jobs.find((j) => j["name"] === "release-stale-locks")!;
  assert.ok(job, "the task form's job");
  const plan = steps(list(job["plan"], "the job's plan"));
  const tasks = plan.filter((s) => "task" in s);
  assert.equal(tasks.length, 1, "one task");
  const task = tasks[0]!;
  const config = node(task["config"], "the task's config");
  const params = node(config["params"], "the task's params");
  const run = node(config["run"], "the task's run");

  test("runs every 10 minutes, never two at once", () => {
    const time = resources.filter((r) => r["type"] === "time");
    assert.equal(time.length, 1, "one time resource");
    assert.equal(node(time[0]!["source"], "its source")["interval"], "10m");
    const get = plan.find((s) => s["get"] === time[0]!["name"]);
    assert.ok(get, "the job gets the time resource");
    assert.equal(get["trigger"], true, "and is triggered by it");
    assert.equal(job["max_in_flight"], 1);
    assert.notEqual(job["serial"], false);
  });

  test("the task runs the pool-boy image as `pool-boy clean`, with no flags", () => {
    const imageName = text(task["image"], "the task's image");
    assert.ok(plan.some((s) => s["get"] === imageName), "the image is fetched by the plan");
    const image = resource(imageName);
    assert.equal(image["type"], "registry-image");
    const repository = text(node(image["source"], "the image's source")["repository"], "the image's repository");
    assert.match(repository, /^ghcr\.io\/OWNER\/pool-boy$/, "a clear placeholder for where the image is published");
    assert.match(PIPELINE_TEXT, /ghcr\.io\/OWNER\/pool-boy.*PLACEHOLDER/, "said so next to it");
    assert.equal(config["platform"], "linux");
    assert.equal(run["path"], "pool-boy");
    assert.deepEqual(run["args"], ["clean"], "configured by the environment only");
  });

  test("its params are exactly variables pool-boy reads, with the scheduled task's ones among them", () => {
    const names = Object.keys(params);
    assert.deepEqual(names.filter((n) => !KNOWN.has(n)), [], "every param is a variable pool-boy reads");
    for (const name of TASK_VARIABLES) assert.ok(names.includes(name), `${name} is set`);
    for (const [name, value] of Object.entries(params)) assert.equal(typeof value, "string", `${name} is a string (Concourse passes params as text)`);
  });

  test("every secret is a ((var)), never a literal", () => {
    const secrets = Object.keys(params).filter(isSecretName);
    assert.ok(secrets.includes(ENV.password) && secrets.includes(TRANSPORT_ENV.sshPrivateKey), `secrets: ${secrets.join(", ")}`);
    for (const name of secrets) assert.match(text(params[name], name), VAR, `${name} comes from the credential manager`);
    // The repository URL may carry credentials: it is a ((var)) too.
    assert.match(text(params[ENV.repo], ENV.repo), VAR);
    for (const [where, value] of strings(doc)) {
      assert.doesNotMatch(value, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `${where}: no key in the pipeline`);
      assert.doesNotMatch(value, /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]+:[^\s/@]+@/i, `${where}: no credentials inside a URL`);
      assert.doesNotMatch(value, /hooks\.slack\.com|\bBearer\s+\S/i, `${where}: no webhook or token written out`);
    }
  });

  test("the task cache is the one pool-boy uses", () => {
    const caches = list(config["caches"], "the task's caches").map((c, i) => text(node(c, `caches[${i}]`)["path"], "a cache path"));
    assert.ok(caches.includes(text(params[ENV.cacheDir], ENV.cacheDir)), `${ENV.cacheDir} names a task cache (${caches.join(", ")})`);
  });

  test("a failed or errored build alerts through a declared notification resource whose webhook is a ((var))", () => {
    for (const hook of ["on_failure", "on_error"]) {
      const put = node(job[hook], `the job's ${hook}`);
      const target = resource(text(put["put"], `${hook}: put`));
      const type = text(target["type"], "the alert's type");
      assert.ok(resourceTypes.some((t) => t["name"] === type), `the alert's type ${type} is declared`);
      for (const [where, value] of strings(target["source"], "source")) assert.match(value, VAR, `the alert's ${where} is a ((var))`);
      assert.ok(isNode(put["params"]), `${hook} says something`);
    }
  });

  test("the failure alert carries the summary the task writes into its output", () => {
    const file = text(params[SUMMARY_FILE_ENV], SUMMARY_FILE_ENV);
    const outputs = list(config["outputs"], "the task's outputs").map((o, i) => text(node(o, `outputs[${i}]`)["name"], "an output name"));
    assert.ok(outputs.includes(file.split("/")[0]!), `${file} is in a task output (${outputs.join(", ")})`);
    const failure = node(node(job["on_failure"], "on_failure")["params"], "on_failure params");
    assert.equal(failure["text_file"], file);
    assert.match(text(failure["text"], "text"), /\$TEXT_FILE_CONTENT/);
  });
});

describe("docs/pipeline.yml: the resource form", () => {
  const form = job("release-stale-locks-on-change");
  const plan = steps(list(form["plan"], "the resource job's plan"));
  const type = resourceTypes.find((t) => t["name"] === "pool-boy");
  const stale = resources.find((r) => r["type"] === "pool-boy");

  test("the pool-boy image is declared as a resource type, from the same placeholder as the task's image", () => {
    assert.ok(type, "resource_types has pool-boy");
    assert.equal(type["type"], "registry-image");
    const source = node(type["source"], "its source");
    assert.equal(source["repository"], node(resource("pool-boy-image")["source"], "the task image's source")["repository"]);
  });

  test("a resource of that type, whose source uses only the resource's keys, secrets as ((vars))", () => {
    assert.ok(stale, "a resource of type pool-boy");
    const source = node(stale["source"], "its source");
    const keys = Object.keys(source);
    assert.deepEqual(keys.filter((k) => !(SOURCE_KEYS as readonly string[]).includes(k)), [], "only keys the resource reads");
    for (const key of ["uri", "pools", "private_key", "concourse_url", "concourse_username", "concourse_password"]) assert.ok(keys.includes(key), key);
    for (const key of [...SECRET_KEYS, "uri"]) if (key in source) assert.match(text(source[key], key), VAR, `source.${key} is a ((var))`);
  });

  test("the job triggers on the resource, then puts to it, never two at once", () => {
    const get = plan.find((s) => s["get"] === stale!["name"]);
    assert.ok(get, "gets the resource");
    assert.equal(get["trigger"], true);
    const put = plan.find((s) => s["put"] === stale!["name"]);
    assert.ok(put, "puts to the resource (clean)");
    assert.equal(form["max_in_flight"], 1);
    assert.ok(!plan.some((s) => "task" in s), "no task in the resource form");
  });

  test("the notification reads the get's summary.txt", () => {
    const success = node(node(form["on_success"], "on_success")["params"], "on_success params");
    assert.equal(success["text_file"], `${stale!["name"]}/summary.txt`);
    assert.match(text(success["text"], "text"), /\$TEXT_FILE_CONTENT/);
    for (const hook of ["on_success", "on_failure", "on_error"]) resource(text(node(form[hook], hook)["put"], `${hook}: put`));
  });
});

describe("docs/concourse-task.md", () => {
  const section = DOC.slice(DOC.indexOf("### Variables"), DOC.indexOf("\n### ", DOC.indexOf("### Variables") + 1));
  const rows = section
    .split("\n")
    .filter((line) => /^\| `[A-Z0-9_]+` \|/.test(line))
    .map((line) => line.split("|").map((cell) => cell.trim()));
  const documented = rows.map((cells) => (cells[1] ?? "").replace(/`/g, ""));

  test("the variables table names only variables pool-boy reads", () => {
    assert.ok(rows.length >= TASK_VARIABLES.length, "the table has rows");
    assert.deepEqual(documented.filter((n) => !KNOWN.has(n)), []);
    assert.equal(new Set(documented).size, documented.length, "each once");
  });

  test("every variable of the pipeline is documented, and the secret column is right", () => {
    const pipelineParams = Object.keys(node(node(steps(list(job("release-stale-locks")["plan"], "plan")).find((s) => "task" in s)!["config"], "config")["params"], "params"));
    for (const name of pipelineParams) assert.ok(documented.includes(name), `${name} is in the table`);
    for (const cells of rows) {
      const name = (cells[1] ?? "").replace(/`/g, "");
      const secret = cells[4] ?? "";
      if (isSecretName(name)) assert.match(secret, /^\*\*yes\*\*/, `${name} is marked secret`);
      else assert.match(secret, /^no\b/, `${name} is not marked secret`);
      assert.ok((cells[2] ?? "").length > 0 && (cells[3] ?? "").length > 0, `${name}: meaning and required? are filled in`);
    }
  });

  test("it covers the task, host keys, HTTPS, the cache, exit codes and the alert", () => {
    for (const heading of ["### Variables", "### SSH host keys", "### HTTPS credentials", "### The cache", "### Exit codes and the alert"]) {
      assert.ok(DOC.includes(`\n${heading}\n`), heading);
    }
    assert.match(DOC, /ssh-keyscan -p 22 /);
    assert.match(DOC, /ssh-keygen -lf/);
    for (const host of ["github.com", "gitlab.com", "bitbucket.org"]) assert.ok(DOC.includes(`**${host}**`), host);
    for (const code of ["0", "1", "2", "3", "4"]) assert.match(DOC, new RegExp(`^\\| ${code} \\|`, "m"), `exit code ${code}`);
  });
});
