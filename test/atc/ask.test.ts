// What following a hand-off costs, counted at the real HTTP server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startFakeAtc } from "../support/atc-server.js";
import { connectAtc } from "../../src/io/atc/client.js";
import { askOwner, askOwners } from "../../src/io/atc/ask.js";
import type { ClaimedLock, ParsedClaim } from "../../src/core/model.js";

const user = { username: "u", password: "pw-123456", teams: ["main"] };
const sha = (n: number) => n.toString(16).padStart(40, "0");
function lock(n: number): ClaimedLock {
  return { pool: "p", name: `l${n}`, path: `p/claimed/l${n}`, claim: { sha: sha(n), committedAt: new Date(), message: "" }, editedAfterClaim: [], problem: null };
}
function claim(pipeline: string, job: string, name: string, vars: Record<string, string> | null = null): ParsedClaim {
  return { operation: "claiming", owner: { kind: "job", team: "main", pipeline, instanceVars: vars, job, name }, format: "team-build", note: null };
}

test("no job downstream: one jobs list per pipeline, shared by all its locks, and nothing else", async () => {
  const atc = await startFakeAtc({ version: "8.2.5", users: [user], pipelines: [{ team: "main", name: "solo", jobs: [{ name: "deploy", outputs: [{ name: "env", resource: "envs" }] }] }] });
  const client = await connectAtc({ url: atc.url, auth: { kind: "password", ...user }, insecure: false, caCert: null, concurrency: 16, timeoutMs: 5000, retries: 0 });
  try {
    const items = [1, 2, 3, 4, 5].map((n) => {
      atc.addBuild({ team: "main", pipeline: "solo", job: "deploy", name: String(n), status: "succeeded", outputs: [{ name: "env", resource: "envs", ref: sha(n) }] });
      return { lock: lock(n), claim: claim("solo", "deploy", String(n)) };
    });
    atc.clearRecords();
    const owners = await askOwners(client, items);
    assert.deepEqual(owners.map((o) => o.kind), ["finished", "finished", "finished", "finished", "finished"]);
    const paths = atc.requests.map((r) => r.path.split("?")[0]);
    assert.equal(paths.filter((p) => p?.endsWith("/pipelines/solo/jobs")).length, 1);
    assert.equal(paths.filter((p) => /\/builds\/\d+$/.test(p ?? "")).length, 5, "one owner lookup per lock");
    assert.equal(atc.requests.length, 6);
  } finally {
    await client.close();
    await atc.close();
  }
});

test("a handed-off lock costs three requests beyond the owner lookup and the jobs list; an instanced pipeline sends its vars", async () => {
  const vars = { region: "eu" };
  const atc = await startFakeAtc({
    version: "8.2.5",
    users: [user],
    pipelines: [{
      team: "main", name: "app", instanceVars: vars,
      jobs: [
        { name: "deploy", outputs: [{ name: "env", resource: "aws-environments" }] },
        { name: "test", inputs: [{ name: "aws-environments", resource: "aws-environments", passed: ["deploy"] }] },
      ],
    }],
  });
  const client = await connectAtc({ url: atc.url, auth: { kind: "password", ...user }, insecure: false, caCert: null, concurrency: 16, timeoutMs: 5000, retries: 0 });
  try {
    atc.addBuild({ team: "main", pipeline: "app", instanceVars: vars, job: "deploy", name: "12", status: "succeeded", outputs: [{ name: "env", resource: "aws-environments", ref: sha(1) }] });
    atc.addBuild({ team: "main", pipeline: "app", instanceVars: vars, job: "test", name: "7", status: "started", inputs: [{ name: "aws-environments", resource: "aws-environments", ref: sha(1) }] });
    atc.clearRecords();
    const owner = await askOwner(client, lock(1), claim("app", "deploy", "12", vars));
    assert.equal(owner.kind, "running");
    if (owner.kind === "running") {
      assert.equal(owner.handedOff, true);
      assert.deepEqual(owner.holder.ref, { kind: "job", team: "main", pipeline: "app", instanceVars: vars, job: "test", name: "7" });
    }
    assert.equal(atc.requests.length, 5, atc.requests.map((r) => r.path).join("\n"));
    for (const r of atc.requests.filter((r) => r.path.includes("/pipelines/"))) assert.match(r.path, /vars\.region=%22eu%22/);
  } finally {
    await client.close();
    await atc.close();
  }
});

test("failed, errored and aborted owners cost no hand-off request", async () => {
  const atc = await startFakeAtc({ version: "6.7.9", users: [user], pipelines: [{ team: "main", name: "app", jobs: [{ name: "deploy", outputs: [{ name: "env", resource: "r" }] }, { name: "test", inputs: [{ name: "r", resource: "r", passed: ["deploy"] }] }] }] });
  const client = await connectAtc({ url: atc.url, auth: { kind: "password", ...user }, insecure: false, caCert: null, concurrency: 16, timeoutMs: 5000, retries: 0 });
  try {
    const statuses = ["failed", "errored", "aborted"] as const;
    statuses.forEach((status, i) => atc.addBuild({ team: "main", pipeline: "app", job: "deploy", name: String(i + 1), status }));
    atc.clearRecords();
    const owners = await askOwners(client, statuses.map((_, i) => ({ lock: lock(i + 1), claim: claim("app", "deploy", String(i + 1)) })));
    assert.deepEqual(owners.map((o) => o.kind), ["finished", "finished", "finished"]);
    assert.equal(atc.requests.length, 3);
  } finally {
    await client.close();
    await atc.close();
  }
});
