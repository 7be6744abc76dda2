// The test command on a fresh machine: scripts/run-tests.mjs, spawned as `npm test` would, with a
// PATH that holds only node, git and sh (no sshd, ssh, openssl, promtool, Pushgateway, podman).
// Tests that need a missing program are skipped with a reason naming the Debian package, except
// with CI=true, where they fail. And the runner never hangs: not on a hook that fails after
// starting a server, not on a test that never ends.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { programPath } from "../support/programs.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const RUNNER = join(ROOT, "scripts", "run-tests.mjs");

interface Run {
  code: number | null;
  output: string;
  ms: number;
}

/** The runner with only `env` (no NODE_TEST_CONTEXT from the test run around it); killed after `limitMs`. */
function runner(args: string[], env: Record<string, string>, limitMs = 120_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, ...args], { cwd: ROOT, env: { NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

let scratch: string;
/** A PATH of a fresh machine: node, git and sh, nothing else. */
let bare: string;
let home: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "pool-boy-runner-"));
  bare = join(scratch, "bin");
  home = join(scratch, "home");
  await mkdir(bare);
  await mkdir(home);
  await symlink(process.execPath, join(bare, "node"));
  await symlink(programPath({ name: "git", debianPackage: "git" }), join(bare, "git"));
  await symlink(programPath({ name: "sh", debianPackage: "dash" }), join(bare, "sh"));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

// Small files that need sshd, ssh-keygen and openssl: real tests, not stand-ins.
const FILES = ["git/transport-https.test", "e2e/ssh.test", "atc/login.test"];

describe("on a machine with only node, git and sh", () => {
  test("tests needing a missing program are skipped, naming the Debian package; the run passes", async () => {
    const run = await runner(FILES, { PATH: bare, HOME: home });
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /# needs openssl: apt-get install openssl/);
    assert.match(run.output, /# needs sshd, ssh, ssh-keygen: apt-get install openssh-server openssh-client/);
    // the summary at the end lists the skipped tests under their reasons
    const summary = run.output.slice(run.output.search(/^skipped \d+ tests/m));
    assert.match(summary, /^skipped \d+ tests .*bash \.ci\/run/m);
    assert.match(summary, /^ {2}needs openssl: apt-get install openssl\n {4}- TLS: verified by default/m);
    assert.match(summary, /^ {4}- pool-boy clean as a scheduled task, git over ssh/m);
  });

  test("with CI=true the same tests fail, naming what is missing", async () => {
    const run = await runner(FILES, { PATH: bare, HOME: home, CI: "true" });
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /CI=true and this machine cannot run these tests: needs sshd, ssh, ssh-keygen: apt-get install openssh-server openssh-client/);
    assert.match(run.output, /CI=true and this machine cannot run these tests: needs openssl: apt-get install openssl/);
    assert.doesNotMatch(run.output, /# needs /, "nothing skipped");
  });
});

describe("no hang", () => {
  test("a before hook that fails after starting a server, leaving it open, ends the run failed", async () => {
    const file = join(scratch, "leaky.test.mjs");
    await writeFile(
      file,
      `import { before, test } from "node:test";
import { createServer } from "node:http";
before(async () => {
  await new Promise((resolve) => createServer().listen(0, "127.0.0.1", resolve));
  throw new Error("the second server did not start");
});
test("never runs", () => {});
`,
    );
    // The open server keeps the file's process alive: the time limit ends it, failed.
    const run = await runner(["--timeout", "5", file], { PATH: bare, HOME: home }, 60_000);
    assert.equal(run.code, 1, run.output);
    // Node 20 prints the hook's error; Node 24 prints it only when the file ends, which the kill preempts
    assert.match(run.output, /the second server did not start|✖ never runs/);
    assert.ok(run.ms < 40_000, `ended after ${run.ms} ms`);
  });

  test("a test that never ends fails at the time limit", async () => {
    const file = join(scratch, "stuck.test.mjs");
    await writeFile(file, `import { test } from "node:test";\ntest("waits for ever", () => new Promise(() => setInterval(() => {}, 1000)));\n`);
    const run = await runner(["--timeout", "2", file], { PATH: bare, HOME: home }, 60_000);
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /timed out after 2000ms|✖ waits for ever/);
    assert.ok(run.ms < 30_000, `ended after ${run.ms} ms`);
  });
});
