// Paths under /proc (where node's recursive mkdir spins for ever): --cache-dir and the resource's
// TMPDIR are refused with exit 2 and the path, in seconds. Every run has a time limit.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAll } from "../support/cleanup.js";
import { createPoolRepo, type PoolRepo } from "../support/pool-repo.js";
import { poolBoy } from "../support/cli.js";
import { runResource } from "../support/resource.js";

describe("paths under /proc", { skip: process.platform !== "linux" }, () => {
  let repo: PoolRepo;
  let home: string;
  before(async () => {
    repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1"] } } });
    home = await mkdtemp(join(tmpdir(), "pool-boy-proc-"));
  });
  after(async () => closeAll(() => repo?.cleanup(), () => home && rm(home, { recursive: true, force: true })));

  test("status --cache-dir /proc/…: exit 2 naming the path", async () => {
    const r = await poolBoy(["status", "--repo", repo.path, "--pools", "aws:1h", "--cache-dir", "/proc/pool-boy-test/cache"], { HOME: home }, { timeoutMs: 10_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--cache-dir \/proc\/pool-boy-test\/cache: cannot create its folder \/proc\/pool-boy-test: the file system does not allow creating \/proc\/pool-boy-test/);
  });

  test("the resource's check with TMPDIR=/proc: exit 2 naming the path", async () => {
    const r = await runResource("check", { source: { uri: repo.path, pools: "aws:1h" } }, { HOME: home, TMPDIR: "/proc" }, { timeoutMs: 10_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /TMPDIR \/proc: cannot create \/proc\/pool-boy-resource: the file system does not allow creating \/proc\/pool-boy-resource/);
    assert.equal(r.stdout, "");
  });
});
