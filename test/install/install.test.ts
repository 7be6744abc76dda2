// Installing the command, as the README says: the packed tarball (`npm pack`, which builds
// dist/src through `prepare`) installed with `npm install -g` into a temporary prefix, and the
// installed `pool-boy` run from a directory outside the checkout. The dependencies come from
// npm's cache (filled by `npm ci`) or the registry.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { needs, programPath, NPM } from "../support/programs.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const requirement = needs([NPM]);

let scratch: string;
let tarball: string;
let prefix: string;
let elsewhere: string;

/** npm without the environment of an `npm test` around it (its npm_config_* would steer this npm). */
function npmEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^npm_/i.test(key) && key !== "NODE_TEST_CONTEXT") env[key] = value;
  }
  return env;
}

before(async () => {
  if (!requirement.ready()) return;
  scratch = await mkdtemp(join(tmpdir(), "pool-boy-install-"));
  prefix = join(scratch, "prefix");
  elsewhere = await mkdtemp(join(scratch, "elsewhere-"));
  // dist/src is built already (the test command compiles first): pack it as it is, without
  // running `prepare`, which would compile into dist/ while other test files run from it.
  const { stdout } = await run(programPath(NPM), ["pack", "--ignore-scripts", "--silent", "--pack-destination", scratch], { cwd: ROOT, env: npmEnv() });
  tarball = join(scratch, stdout.trim().split("\n").pop() ?? "");
  await run(programPath(NPM), ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], {
    cwd: elsewhere,
    env: npmEnv(),
    timeout: 240_000,
  });
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("npm pack, then npm install -g", requirement, () => {
  test("the tarball holds the built command and the docs, no tests and no sources", async () => {
    const { stdout } = await run("tar", ["-tzf", tarball]);
    const files = stdout.trim().split("\n");
    for (const needed of ["package/bin/pool-boy.js", "package/dist/src/cli/main.js", "package/dist/src/run.js", "package/README.md", "package/package.json"]) {
      assert.ok(files.includes(needed), `${needed} is packed`);
    }
    assert.deepEqual(files.filter((f) => /^package\/(dist\/test|dist\/bench|src|test)\//.test(f) || f.endsWith(".map") || f.endsWith(".ts")), []);
  });

  test("the installed pool-boy runs outside the checkout: --version and --help", async () => {
    const bin = join(prefix, "bin", "pool-boy");
    const version = (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: elsewhere, NO_COLOR: "1" };
    const shown = await run(bin, ["--version"], { cwd: elsewhere, env });
    assert.equal(shown.stdout.trim(), version);
    const help = await run(bin, ["--help"], { cwd: elsewhere, env });
    assert.match(help.stdout, /Usage: pool-boy/);
    assert.match(help.stdout, /\bclean\b/);
    assert.match(help.stdout, /\bstatus\b/);
    // installed, not linked to this checkout
    const installed = join(prefix, "lib", "node_modules", "pool-boy");
    assert.ok((await readdir(join(installed, "dist", "src"))).includes("cli"));
    assert.ok(!(await readdir(installed)).includes("test"));
  });
});
