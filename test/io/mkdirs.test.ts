// mkdir -p, bounded: creates what is missing once each, and refuses clearly (never spins) where
// the file system will not create a folder (/proc), a part of the path is a file, or it may not.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdirs } from "../../src/io/mkdirs.js";
import { PoolBoyError } from "../../src/core/errors.js";

/** The promise's outcome, or a failure after `ms`: a spinning mkdir fails the test instead of hanging it. */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const options = { given: "--cache-dir X", hint: "choose another" };

describe("mkdirs", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pool-boy-mkdirs-"));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("creates every missing folder, with the mode given; an existing folder is fine", async () => {
    const deep = join(dir, "a", "b", "c");
    await within(5000, mkdirs(deep, { ...options, mode: 0o700 }));
    assert.ok((await stat(deep)).isDirectory());
    assert.equal((await stat(join(dir, "a"))).mode & 0o777, 0o700);
    await within(5000, mkdirs(deep, options));
    await within(5000, mkdirs(dir, options));
  });

  test("under /proc: refused at once (exit 2), naming the path, instead of spinning", { skip: process.platform !== "linux" }, async () => {
    const err = await within(5000, mkdirs("/proc/pool-boy-test/a/b", options).then(() => null, (e: unknown) => e));
    assert.ok(err instanceof PoolBoyError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^--cache-dir X: cannot create \/proc\/pool-boy-test\/a\/b: the file system does not allow creating \/proc\/pool-boy-test$/);
    assert.equal(err.hint, "choose another");
  });

  test("a file in the path: refused, naming it", async () => {
    await writeFile(join(dir, "file"), "x");
    const err = await within(5000, mkdirs(join(dir, "file", "sub"), options).then(() => null, (e: unknown) => e));
    assert.ok(err instanceof PoolBoyError, String(err));
    assert.match(err.message, /cannot create .*file\/sub: a part of that path is a file, not a directory/);
  });
});
