// put's params.pools narrows whatever the source names: source.pools as a spec, as a map with
// settings (release-to), or source.config; a pool the source does not cover is still refused.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAll } from "../support/cleanup.js";
import { createPoolRepo, filesAt, type PoolRepo } from "../support/pool-repo.js";
import { runResource, output } from "../support/resource.js";

const HOUR = 3_600_000;
const meta = (m: Array<{ name: string; value: string }>, name: string) => m.find((e) => e.name === name)?.value;

describe("put's params.pools narrows every form of the source", () => {
  let repo: PoolRepo;
  let tmp: string;
  let env: Record<string, string>;

  before(async () => {
    const now = Date.now();
    repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1"] }, "aws-dirty": { unclaimed: [] }, gcp: { unclaimed: ["vm-1"] } }, date: new Date(now - 48 * HOUR) });
    const c = await repo.claimer();
    await c.claim("aws", "env-1", "claimed by hand", new Date(now - 5 * HOUR));
    await c.claim("gcp", "vm-1", "claimed by hand", new Date(now - 5 * HOUR));
    tmp = await mkdtemp(join(tmpdir(), "pool-boy-resource-narrow-"));
    env = { HOME: join(repo.root, "home"), TMPDIR: tmp, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: join(repo.root, "no-global-gitconfig") };
  });
  after(async () => {
    await closeAll(
      () => repo?.cleanup(),
      () => tmp && rm(tmp, { recursive: true, force: true }),
    );
  });

  test("source.config: params.pools picks gcp alone (dry run)", async () => {
    const source = { uri: repo.path, config: "pools:\n  aws: 1h\n  gcp: 1h\n" };
    const r = await runResource("out", { source, params: { pools: ["gcp"], dry_run: true } }, env, { dir: join(tmp, "put") });
    assert.equal(r.code, 0, r.stderr);
    const out = output<{ metadata: Array<{ name: string; value: string }> }>(r);
    assert.equal(meta(out.metadata, "would release"), "1");
    assert.match(meta(out.metadata, "gcp/vm-1") ?? "", /^stale: /);
    assert.equal(meta(out.metadata, "aws/env-1"), undefined);
    const refused = await runResource("out", { source, params: { pools: ["azure"] } }, env, { dir: join(tmp, "put") });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /params\.pools: "azure" is not in source\.config \(aws, gcp\)/);
  });

  test("source.pools with release-to: params.pools picks aws alone, and its quarantine holds", async () => {
    const source = { uri: repo.path, pools: { aws: { timeout: "1h", "release-to": "aws-dirty" }, gcp: "1h" } };
    const r = await runResource("out", { source, params: { pools: "aws" } }, env, { dir: join(tmp, "put") });
    assert.equal(r.code, 0, r.stderr);
    const out = output<{ metadata: Array<{ name: string; value: string }> }>(r);
    assert.equal(meta(out.metadata, "released"), "1");
    const files = await filesAt(repo.path, "HEAD");
    assert.ok(files.includes("aws-dirty/unclaimed/env-1"), files.join(", "));
    assert.ok(files.includes("gcp/claimed/vm-1"), "gcp is not touched");
    const refused = await runResource("out", { source, params: { pools: ["azure"] } }, env, { dir: join(tmp, "put") });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /params\.pools: "azure" is not in source\.pools \(aws, gcp\)/);
  });
});
