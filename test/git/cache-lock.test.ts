import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, access } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { lockCache } from "../../src/io/git/cache-lock.js";
import { PoolBoyError } from "../../src/core/errors.js";

async function scratch(): Promise<{ cache: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "pool-boy-lock-"));
  return { cache: join(dir, "cache"), done: () => rm(dir, { recursive: true, force: true }) };
}
const quiet = { log: () => undefined };

test("a second run waits for the first, then takes the lock", async () => {
  const { cache, done } = await scratch();
  try {
    const release = await lockCache(cache, { waitMs: 1000, ...quiet });
    const holder = JSON.parse(await readFile(`${cache}.lock`, "utf8")) as { pid: number };
    assert.equal(holder.pid, process.pid);
    const lines: string[] = [];
    const second = lockCache(cache, { waitMs: 5000, log: (l) => lines.push(l) });
    await new Promise((r) => setTimeout(r, 300));
    await release();
    const releaseSecond = await second;
    assert.match(lines.join("\n"), /waiting for the cache/);
    await releaseSecond();
    await assert.rejects(access(`${cache}.lock`), "released locks are removed");
  } finally {
    await done();
  }
});

test("a run that waited too long says who holds the cache and how to clear it", async () => {
  const { cache, done } = await scratch();
  try {
    const release = await lockCache(cache, { waitMs: 1000, ...quiet });
    const err = await lockCache(cache, { waitMs: 300, ...quiet }).then(
      () => assert.fail("expected the lock to be refused"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PoolBoyError);
    assert.match(err.message, new RegExp(`in use by pid ${process.pid} on `));
    assert.match(err.hint ?? "", /remove .*cache\.lock if no pool-boy run is going on/);
    await release();
  } finally {
    await done();
  }
});

test("a lock left by a dead run on this host, or an old one, is taken over", async () => {
  const { cache, done } = await scratch();
  try {
    // A pid that is not running: far above any pid_max in use here.
    await writeFile(`${cache}.lock`, JSON.stringify({ pid: 2 ** 30, host: hostname(), since: new Date().toISOString() }));
    const lines: string[] = [];
    const release = await lockCache(cache, { waitMs: 0, log: (l) => lines.push(l) });
    assert.match(lines.join("\n"), /taking over the cache lock/);
    await release();
    await writeFile(`${cache}.lock`, JSON.stringify({ pid: 1, host: "another-host", since: new Date(Date.now() - 3_600_000).toISOString() }));
    await (await lockCache(cache, { waitMs: 0, ...quiet }))();
  } finally {
    await done();
  }
});
