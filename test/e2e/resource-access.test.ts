// The resource when Concourse refuses to show a lock's build (401/403): the locks are kept, the
// rest is released, and a put fails (exit 5, like the CLI) so that a person notices; check and
// get succeed and say it.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAll } from "../support/cleanup.js";
import { createPoolRepo, filesAt, type PoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import { runResource } from "../support/resource.js";

const USER = { username: "pool-boy", password: "access-secret-42", teams: ["main"] };
const HOUR = 3_600_000;

describe("the resource without access to a team", () => {
  let repo: PoolRepo;
  let atc: FakeAtc;
  let tmp: string;
  let env: Record<string, string>;
  let source: Record<string, unknown>;

  before(async () => {
    const now = Date.now();
    repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1", "env-2", "env-3"] } }, date: new Date(now - 48 * HOUR) });
    atc = await startFakeAtc({ version: "8.2.5", users: [USER], teams: ["secret"] });
    const c = await repo.claimer();
    const hidden = atc.addBuild({ team: "secret", pipeline: "app", job: "deploy", status: "started" });
    await c.claim("aws", "env-1", `secret/app/deploy build ${hidden.name} claiming: env-1`, new Date(now - 5 * HOUR));
    const done = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "succeeded" });
    await c.claim("aws", "env-2", `main/app/deploy build ${done.name} claiming: env-2`, new Date(now - 5 * HOUR));
    tmp = await mkdtemp(join(tmpdir(), "pool-boy-resource-access-"));
    env = { HOME: join(repo.root, "home"), TMPDIR: tmp, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: join(repo.root, "no-global-gitconfig") };
    source = { uri: repo.path, branch: "main", pools: { aws: "2h" }, concourse_url: atc.url, concourse_username: USER.username, concourse_password: USER.password };
  });
  after(async () => {
    await closeAll(
      () => atc?.close(),
      () => repo?.cleanup(),
      () => tmp && rm(tmp, { recursive: true, force: true }),
    );
  });

  test("check and get succeed; get's summary.txt says which team could not be read", async () => {
    const checked = await runResource("check", { source }, env);
    assert.equal(checked.code, 0, checked.stderr);
    const dir = join(tmp, "get");
    const got = await runResource("in", { source, params: {} }, env, { dir });
    assert.equal(got.code, 0, got.stderr);
    const summary = await readFile(join(dir, "summary.txt"), "utf8");
    assert.match(summary, /no access|refused/i);
    assert.match(summary, /secret/);
  });

  test("put releases what it may, then fails (exit 5) with the reason on stderr and nothing on stdout", async () => {
    const r = await runResource("out", { source, params: {} }, env, { dir: join(tmp, "put") });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, "", "Concourse reads stdout only on success");
    assert.match(r.stderr, /1 lock was kept without a judgement: Concourse refused access to secret/);
    const files = await filesAt(repo.path, "HEAD");
    assert.ok(files.includes("aws/unclaimed/env-2"), "the judged lock was released first");
    assert.ok(files.includes("aws/claimed/env-1"), "the lock nobody could judge is kept");
  });
});
