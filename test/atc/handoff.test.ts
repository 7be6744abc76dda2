import { test } from "node:test";
import assert from "node:assert/strict";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import { connectAtc, type AtcClient } from "../../src/io/atc/client.js";
import type { InstanceVars, JobInfo } from "../../src/core/model.js";

const PASSWORD = "handoff-test-Pa55word";
const CLAIM = "3f786850e387550fdab836ed7e6dc881de23001b";
const POOL = "aws-environments";

/** The pool-resource README's hand-off: deploy claims, test takes it with passed, cleanup after test. */
function handoffPipeline(fake: FakeAtc, instanceVars: InstanceVars | null) {
  const base = { team: "main", pipeline: "envs", instanceVars };
  fake.addPipeline({
    team: "main",
    name: "envs",
    instanceVars,
    jobs: [
      { name: "deploy", inputs: [{ name: "src", resource: "repo", trigger: true }], outputs: [{ name: "env", resource: POOL }] },
      { name: "test", inputs: [{ name: "env", resource: POOL, passed: ["deploy"], trigger: true }] },
      { name: "cleanup", paused: true, inputs: [{ name: "env", resource: POOL, passed: ["test"] }], outputs: [{ name: "release", resource: POOL }] },
    ],
  });
  const deploy = fake.addBuild({
    ...base,
    job: "deploy",
    status: "succeeded",
    inputs: [{ name: "src", resource: "repo", ref: "a".repeat(40) }],
    outputs: [{ name: "env", resource: POOL, ref: CLAIM, metadata: [{ name: "lock_name", value: "env-1" }] }],
  });
  const taker = fake.addBuild({ ...base, job: "test", status: "started", inputs: [{ name: "env", resource: POOL, ref: CLAIM }] });
  // pending builds have not adopted their inputs: input_to does not show them
  fake.addBuild({ ...base, job: "cleanup", status: "pending", inputs: [{ name: "env", resource: POOL, ref: CLAIM }] });
  return { deploy, taker };
}

const JOBS: JobInfo[] = [
  { name: "deploy", paused: false, inputs: [{ name: "src", resource: "repo", passed: [] }], outputs: [{ name: "env", resource: POOL }] },
  { name: "test", paused: false, inputs: [{ name: "env", resource: POOL, passed: ["deploy"] }], outputs: [] },
  { name: "cleanup", paused: true, inputs: [{ name: "env", resource: POOL, passed: ["test"] }], outputs: [{ name: "release", resource: POOL }] },
];

async function setup(version: string, infoDown = false): Promise<{ fake: FakeAtc; client: AtcClient; done: () => Promise<void> }> {
  const fake = await startFakeAtc({ version, users: [{ username: "ci", password: PASSWORD, teams: ["main"] }] });
  if (infoDown) fake.inject({ kind: "status", status: 503 }, { times: 10, path: "/api/v1/info" });
  const client = await connectAtc({ url: fake.url, auth: { kind: "password", username: "ci", password: PASSWORD }, insecure: false, caCert: null, concurrency: 8, timeoutMs: 5000, retries: 1, retryDelayMs: 5 }).catch(
    async (error: unknown) => {
      // a listening API server keeps the test process alive
      await fake.close();
      throw error;
    },
  );
  return {
    fake,
    client,
    done: async () => {
      await client.close();
      await fake.close();
    },
  };
}

for (const [version, vars] of [["5.8.0", null], ["6.7.9", null], ["7.11.2", { branch: "main" }], ["8.2.5", { branch: "main", num: 2 }]] as const) {
  test(`hand-off endpoints on ${version}${vars ? " (instanced)" : ""}: jobs, build resources, the claim's version, its takers`, async () => {
    const { fake, client, done } = await setup(version);
    try {
      const { deploy, taker } = handoffPipeline(fake, vars);
      fake.clearRecords();

      assert.deepEqual(await client.jobs("main", "envs", vars), { kind: "found", value: JOBS });

      const resources = await client.buildResources(deploy.id);
      assert.deepEqual(resources, { kind: "found", value: { inputs: [{ name: "src", ref: "a".repeat(40) }], outputs: [{ name: "env", ref: CLAIM }] } });

      const versions = await client.versions("main", "envs", vars, POOL, CLAIM);
      const id = fake.versionId({ team: "main", pipeline: "envs", instanceVars: vars }, POOL, CLAIM);
      // only id, ref and enabled: the put's metadata is dropped
      assert.deepEqual(versions, { kind: "found", value: [{ id, ref: CLAIM, enabled: true }] });
      assert.match(fake.requests.at(-1)?.path ?? "", new RegExp(`/resources/${POOL}/versions\\?.*filter=ref%3A${CLAIM}&limit=1`));

      const takers = await client.inputTo("main", "envs", vars, POOL, id ?? 0);
      assert.equal(takers.kind, "found");
      if (takers.kind !== "found") return;
      assert.deepEqual(
        takers.value.map((b) => [b.id, b.job, b.status, b.instanceVars]),
        [[taker.id, "test", "started", version.startsWith("5") || version.startsWith("6") ? null : vars]],
      );
      assert.equal(fake.requests.length, 4);
    } finally {
      await done();
    }
  });
}

test("before 5.5 the filter is ignored: the client reads pages and keeps only the claim's version", async () => {
  const { fake, client, done } = await setup("5.4.0");
  try {
    handoffPipeline(fake, null);
    // 150 newer versions push the claim to the second page of 100
    for (let i = 0; i < 150; i++) fake.addVersion({ team: "main", pipeline: "envs" }, POOL, i.toString(16).padStart(40, "0"));
    fake.clearRecords();
    const versions = await client.versions("main", "envs", null, POOL, CLAIM);
    assert.deepEqual(versions, { kind: "found", value: [{ id: fake.versionId({ team: "main", pipeline: "envs" }, POOL, CLAIM), ref: CLAIM, enabled: true }] });
    assert.deepEqual(
      fake.requests.map((r) => r.path.replace(/since=\d+/, "since=N")),
      [`/api/v1/teams/main/pipelines/envs/resources/${POOL}/versions?filter=ref%3A${CLAIM}&limit=100`, `/api/v1/teams/main/pipelines/envs/resources/${POOL}/versions?since=N&limit=100`],
    );
    // a sha no version has: every page read, nothing kept
    assert.deepEqual(await client.versions("main", "envs", null, POOL, "f".repeat(40)), { kind: "found", value: [] });
  } finally {
    await done();
  }
});

test("5.0 always sends metadata; it is dropped, and a disabled version says so", async () => {
  const { fake, client, done } = await setup("5.0.0");
  try {
    handoffPipeline(fake, null);
    fake.setVersionEnabled({ team: "main", pipeline: "envs" }, POOL, CLAIM, false);
    const versions = await client.versions("main", "envs", null, POOL, CLAIM);
    assert.ok(versions.kind === "found");
    assert.deepEqual(versions.value.map((v) => Object.keys(v).sort()), [["enabled", "id", "ref"]]);
    assert.equal(versions.value[0]?.enabled, false);
  } finally {
    await done();
  }
});

test("version unknown (info down) on 8.2: the filter is sent with a page of 100 and still works", async () => {
  const { fake, client, done } = await setup("8.2.5", true);
  try {
    handoffPipeline(fake, null);
    fake.clearRecords();
    const versions = await client.versions("main", "envs", null, POOL, CLAIM);
    assert.ok(versions.kind === "found" && versions.value.length === 1);
    assert.equal(fake.requests.length, 1);
    assert.match(fake.requests[0]?.path ?? "", /limit=100/);
  } finally {
    await done();
  }
});

test("missing things: unknown resource 404, unknown version id gives no takers, instanced pipeline without vars 404", async () => {
  const { fake, client, done } = await setup("8.2.5");
  try {
    handoffPipeline(fake, { branch: "main" });
    assert.equal((await client.versions("main", "envs", { branch: "main" }, "renamed", CLAIM)).kind, "not-found");
    assert.deepEqual(await client.inputTo("main", "envs", { branch: "main" }, POOL, 9999), { kind: "found", value: [] });
    assert.equal((await client.jobs("main", "envs", null)).kind, "not-found");
    assert.equal((await client.buildResources(424242)).kind, "not-found");
  } finally {
    await done();
  }
});

test("never keeps source or anything else a job answer carries", async () => {
  const { fake, client, done } = await setup("8.2.5");
  try {
    handoffPipeline(fake, null);
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    const hostile = [
      {
        id: 1,
        name: "deploy",
        source: { uri: "git@github.com:org/locks.git", private_key: key },
        inputs: [{ name: "env", resource: POOL, passed: ["x"], source: { private_key: key }, params: { depth: 1 }, version: { ref: CLAIM } }],
        outputs: [{ name: "env", resource: POOL, source: { private_key: key } }],
        next_build: { id: 2, name: "2", status: "started", team_name: "main" },
      },
    ];
    fake.inject({ kind: "status", status: 200, body: JSON.stringify(hostile), contentType: "application/json" }, { path: "/pipelines/envs/jobs" });
    const jobs = await client.jobs("main", "envs", null);
    assert.deepEqual(jobs, { kind: "found", value: [{ name: "deploy", paused: false, inputs: [{ name: "env", resource: POOL, passed: ["x"] }], outputs: [{ name: "env", resource: POOL }] }] });
    assert.ok(!JSON.stringify(jobs).includes("PRIVATE KEY"));
  } finally {
    await done();
  }
});

test("a jobs answer of the wrong shape is transient, not a crash", async () => {
  const { fake, client, done } = await setup("8.2.5");
  try {
    fake.inject({ kind: "status", status: 200, body: JSON.stringify([{ name: "deploy", inputs: [{ name: "env", resource: POOL, passed: "deploy" }] }]) }, { path: "/jobs" });
    const jobs = await client.jobs("main", "envs", null);
    assert.equal(jobs.kind, "transient");
    assert.match(jobs.kind === "transient" ? jobs.detail : "", /passed that is not a list/);
  } finally {
    await done();
  }
});
