import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile, access, utimes } from "node:fs/promises";
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

// A run killed between creating its lock file and writing it, or one that could not write (a
// full disk), leaves a file nobody can read a holder from: judged by its mtime.
test("an empty lock file that has not changed for a while is taken over", async () => {
  const { cache, done } = await scratch();
  try {
    await writeFile(`${cache}.lock`, "");
    const old = new Date(Date.now() - 60_000);
    await utimes(`${cache}.lock`, old, old);
    const lines: string[] = [];
    const started = Date.now();
    const release = await lockCache(cache, { waitMs: 5000, log: (l) => lines.push(l), unreadableStaleMs: 30_000 });
    assert.ok(Date.now() - started < 2000, "taken over at once, no waiting");
    assert.match(lines.join("\n"), /taking over the cache lock .*cache\.lock: empty, last written \d+ s ago/);
    assert.equal((JSON.parse(await readFile(`${cache}.lock`, "utf8")) as { pid: number }).pid, process.pid);
    await release();
  } finally {
    await done();
  }
});

test("an empty lock file just written is another run's: wait, then refuse", async () => {
  const { cache, done } = await scratch();
  try {
    await writeFile(`${cache}.lock`, "");
    const err = await lockCache(cache, { waitMs: 400, ...quiet, unreadableStaleMs: 30_000 }).then(
      () => assert.fail("expected the lock to be refused"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PoolBoyError);
    assert.match(err.message, /in use by another run \(its lock file is empty\)/);
    assert.equal(await readFile(`${cache}.lock`, "utf8"), "", "left alone");
  } finally {
    await done();
  }
});

test("an empty lock file that goes stale while a run waits is taken over then", async () => {
  const { cache, done } = await scratch();
  try {
    await writeFile(`${cache}.lock`, "");
    const started = Date.now();
    const release = await lockCache(cache, { waitMs: 5000, ...quiet, unreadableStaleMs: 600 });
    assert.ok(Date.now() - started >= 500, "waited for it to go stale");
    await release();
  } finally {
    await done();
  }
});

test("half-written or foreign content is judged by its age too; a valid lock of a live run is not", async () => {
  const cases: Array<[string, string]> = [
    ["half written", '{"pid": 12'],
    ["JSON of another kind", '{"owner": "someone"}'],
    ["a pid that is no pid", JSON.stringify({ pid: "12", host: hostname(), since: new Date().toISOString() })],
    ["a date that is no date", JSON.stringify({ pid: 1, host: "another-host", since: "yesterday" })],
    ["binary", "\u0000\u0001\u0002"],
  ];
  for (const [name, content] of cases) {
    const { cache, done } = await scratch();
    try {
      await writeFile(`${cache}.lock`, content);
      // fresh: waited on
      await assert.rejects(lockCache(cache, { waitMs: 250, ...quiet }), /in use by another run \(its lock file is not a lock written by pool-boy\)/, name);
      const old = new Date(Date.now() - 120_000);
      await utimes(`${cache}.lock`, old, old);
      await (await lockCache(cache, { waitMs: 0, ...quiet }))();
    } finally {
      await done();
    }
  }
  const { cache, done } = await scratch();
  try {
    // this process is alive: an old mtime does not matter when the holder can be read
    await writeFile(`${cache}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    const old = new Date(Date.now() - 3_600_000);
    await utimes(`${cache}.lock`, old, old);
    await assert.rejects(lockCache(cache, { waitMs: 250, ...quiet }), new RegExp(`in use by pid ${process.pid}`));
  } finally {
    await done();
  }
});

test("a lock path that cannot be read as a file (a directory): waited on while fresh, then a clear refusal", async () => {
  const { cache, done } = await scratch();
  try {
    await mkdir(`${cache}.lock`);
    await assert.rejects(lockCache(cache, { waitMs: 250, ...quiet }), /its lock file is unreadable \(EISDIR\)/);
    const old = new Date(Date.now() - 120_000);
    await utimes(`${cache}.lock`, old, old);
    // not a file pool-boy made: never removed, and the message says what to do
    await assert.rejects(lockCache(cache, { waitMs: 0, ...quiet }), (err: unknown) => {
      assert.ok(err instanceof PoolBoyError);
      assert.equal(err.kind, "config");
      assert.match(err.message, /--cache-dir: cannot remove the stale lock .*cache\.lock/);
      return true;
    });
    await access(`${cache}.lock`);
  } finally {
    await done();
  }
});

test("release removes only its own lock, not one another run took over meanwhile", async () => {
  const { cache, done } = await scratch();
  try {
    const release = await lockCache(cache, { waitMs: 0, ...quiet });
    const other = JSON.stringify({ pid: 1, host: "another-host", since: new Date().toISOString() });
    await writeFile(`${cache}.lock`, other);
    await release();
    assert.equal(await readFile(`${cache}.lock`, "utf8"), other);
  } finally {
    await done();
  }
});
