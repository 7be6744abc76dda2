// Bad input, --json on failure, closed pipes and hostile repository text, through the built CLI.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPoolRepo, type PoolRepo } from "../support/pool-repo.js";
import { poolBoy, BIN, type CliRun } from "../support/cli.js";
import { startFakeAtc } from "../support/atc-server.js";

const NO_STACK = /\n\s+at .*:\d+:\d+\)?|EPIPE|Unhandled 'error'/;

interface FailureDoc {
  command: string | null;
  repo?: string;
  locks?: unknown[];
  error: { kind: string; message: string; hint: string | null; exitCode: number; problems?: string[] };
}
function failure(run: CliRun): FailureDoc {
  let doc: FailureDoc;
  try {
    doc = JSON.parse(run.stdout) as FailureDoc;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
  assert.equal(typeof doc.error, "object", run.stdout);
  assert.equal(doc.error.exitCode, run.code, "the document's exitCode is the process's");
  assert.ok(doc.error.message.length > 0);
  return doc;
}

async function smallRepo(): Promise<PoolRepo> {
  const repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1", "env-2"] } }, date: new Date(Date.now() - 10 * 86400_000) });
  const c = await repo.claimer();
  await c.claim("aws", "env-1", "main/app/deploy build 1 claiming: env-1", new Date(Date.now() - 3 * 86400_000));
  return repo;
}

describe("pool timeouts and option bounds through the CLI", () => {
  let repo: PoolRepo;
  before(async () => {
    repo = await smallRepo();
  });
  after(async () => repo.cleanup());

  const refused: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["aws:00", ["--pools", "aws:00"], {}, /--pools: "aws:00": "00" is shorter than the shortest timeout, 1m/],
    ["aws:0.4s", ["--pools", "aws:0.4s"], {}, /"0\.4s" is shorter than the shortest timeout/],
    ["400 digits", ["--pools", `aws:${"9".repeat(400)}`], {}, /is longer than the longest timeout, 365d/],
    ["POOLS=:5", [], { POOLS: ":5" }, /^pool-boy: POOLS: ":5" names no pool before the ":" \(write POOL:TIMEOUT, e\.g\. "workers:5"/m],
    ["--api-timeout 25d", ["--api-timeout", "25d", "--concourse-url", "http://127.0.0.1:9"], {}, /--api-timeout: "25d" is longer than the longest request timeout, 1h/],
    ["POOL_BOY_API_RETRIES=99", ["--concourse-url", "http://127.0.0.1:9"], { POOL_BOY_API_RETRIES: "99" }, /^pool-boy: POOL_BOY_API_RETRIES: "99" is out of range/m],
    ["--concurrency 0", ["--concourse-url", "http://127.0.0.1:9", "--concurrency", "0"], {}, /--concurrency: "0" is out of range/],
    ["--max-attempts 1000", ["--max-attempts", "1000"], {}, /--max-attempts: "1000" is out of range/],
  ];
  for (const [name, args, env, message] of refused) {
    test(`${name}: exit 2, nothing changed`, async () => {
      const head = await repo.head();
      const run = await poolBoy(["clean", "--repo", repo.path, ...(args.includes("--pools") || env.POOLS ? [] : ["--pools", "aws:2h"]), ...args], { HOME: "/nonexistent", ...env });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, "");
      assert.equal(await repo.head(), head);
    });
  }

  test("the edges are accepted: 1m and 365d", async () => {
    const run = await poolBoy(["status", "--json", "--repo", repo.path, "--pools", "aws:1m"], { HOME: "/nonexistent" });
    assert.equal(run.code, 0, run.stderr);
    const longest = await poolBoy(["status", "--json", "--repo", repo.path, "--pools", "aws:365d"], { HOME: "/nonexistent" });
    assert.equal(longest.code, 0, longest.stderr);
    assert.equal((JSON.parse(longest.stdout) as { locks: Array<{ timeoutSeconds: number }> }).locks[0]?.timeoutSeconds, 365 * 86400);
  });
});

describe("messages name the input given", () => {
  test("a bad api in .flyrc names the target and the file, not CONCOURSE_BASE_URL", async () => {
    const home = await mkdtemp(join(tmpdir(), "pool-boy-flyrc-"));
    try {
      await writeFile(join(home, ".flyrc"), "targets:\n  ci:\n    api: ci.example.com\n    team: main\n    token:\n      type: bearer\n      value: tok-abcdef-123\n");
      const run = await poolBoy(["status", "--repo", "/nonexistent.git", "--pools", "aws:2h"], { HOME: home, POOL_BOY_TARGET: "ci" });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`^pool-boy: POOL_BOY_TARGET=ci: the target's api "ci\\.example\\.com" in ${join(home, ".flyrc").replace(/[.]/g, "\\.")} is not an http\\(s\\) URL`, "m"));
      assert.doesNotMatch(run.stderr, /CONCOURSE_BASE_URL|tok-abcdef-123/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe("--json prints one document on failure too", () => {
  let repo: PoolRepo;
  before(async () => {
    repo = await smallRepo();
  });
  after(async () => repo.cleanup());

  test("exit 2, configuration: every problem, as a list", async () => {
    const run = await poolBoy(["clean", "--json", "--pools", "aws:00,gcp"], { HOME: "/nonexistent" });
    assert.equal(run.code, 2);
    const doc = failure(run);
    assert.equal(doc.command, "clean");
    assert.equal(doc.error.kind, "config");
    assert.equal(doc.error.problems?.length, 3, JSON.stringify(doc.error.problems));
    assert.match(doc.error.problems?.join("\n") ?? "", /--repo \(or POOL_REPO\) is required/);
    assert.match(doc.error.message, /^3 problems in the configuration: /);
    assert.match(doc.error.hint ?? "", /--help/);
    assert.match(run.stderr, /^pool-boy: --repo/m, "the message is on stderr too");
  });

  test("exit 2, POOL_BOY_JSON and an unknown flag", async () => {
    const run = await poolBoy(["status", "--frobnicate"], { POOL_BOY_JSON: "true" });
    assert.equal(run.code, 2);
    const doc = failure(run);
    assert.deepEqual(doc, { command: "status", error: { kind: "usage", message: "unknown option '--frobnicate'", hint: "run pool-boy --help for usage", exitCode: 2 } });
  });

  test("exit 2, a secret as a flag: refused and never echoed", async () => {
    const run = await poolBoy(["status", "--json", "--password", "hunter2-secret"], {});
    assert.equal(run.code, 2);
    const doc = failure(run);
    assert.equal(doc.error.kind, "usage");
    assert.doesNotMatch(run.stdout + run.stderr, /hunter2-secret/);
  });

  test("exit 2, no command at all, with POOL_BOY_JSON", async () => {
    const run = await poolBoy([], { POOL_BOY_JSON: "1" });
    assert.equal(run.code, 2);
    assert.equal(failure(run).error.kind, "usage");
  });

  test("exit 3, a repository that cannot be read: the command and repository it got to", async () => {
    const run = await poolBoy(["status", "--json", "--repo", "http://127.0.0.1:1/pool.git", "--pools", "aws:2h"], { HOME: "/nonexistent" });
    assert.equal(run.code, 3, run.stderr);
    const doc = failure(run);
    assert.equal(doc.error.kind, "git");
    assert.equal(doc.command, "status");
    assert.equal(doc.repo, "http://127.0.0.1:1/pool.git");
    assert.match(doc.error.message, /127\.0\.0\.1:1/);
  });

  test("exit 3, a Concourse that is down; credentials in the URL are never shown", async () => {
    const head = await repo.head();
    const run = await poolBoy(["clean", "--json", "--repo", repo.path, "--pools", "aws:2h"], {
      HOME: "/nonexistent",
      CONCOURSE_BASE_URL: "http://127.0.0.1:9",
      CONCOURSE_USERNAME: "bot",
      CONCOURSE_PASSWORD: "pw-never-shown-789",
      POOL_BOY_API_RETRIES: "0",
    });
    assert.equal(run.code, 3, run.stderr);
    const doc = failure(run);
    assert.equal(doc.error.kind, "atc");
    assert.match(doc.error.message, /cannot reach Concourse at http:\/\/127\.0\.0\.1:9/);
    assert.match(doc.error.hint ?? "", /CONCOURSE_BASE_URL/, "names the variable the URL came from");
    assert.doesNotMatch(run.stdout + run.stderr, /pw-never-shown-789/);
    assert.equal(await repo.head(), head);
  });

  test("exit 4, metrics failed after the run: the whole result and the error, in one document", async () => {
    const run = await poolBoy(["status", "--json", "--repo", repo.path, "--pools", "aws:2h", "--metrics-file", "/nonexistent/dir/pool-boy.prom"], { HOME: "/nonexistent" });
    assert.equal(run.code, 4, run.stderr);
    const doc = failure(run);
    assert.equal(doc.error.kind, "metrics");
    assert.equal(doc.locks?.length, 1, "what the run had");
  });

  test("exit 3 after the judgement (the push is refused by a hook): what was judged, nothing released", async () => {
    const hooked = await smallRepo();
    try {
      const hook = join(hooked.path, "hooks", "pre-receive");
      await writeFile(hook, "#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n", { mode: 0o755 });
      const head = await hooked.head();
      const run = await poolBoy(["clean", "--json", "--repo", hooked.path, "--pools", "aws:2h"], { HOME: "/nonexistent" });
      assert.equal(run.code, 3, run.stderr);
      const doc = failure(run) as Omit<FailureDoc, "locks"> & { locks: Array<{ name: string; verdict: string }>; released: unknown[]; commits: unknown[] };
      assert.equal(doc.error.kind, "git");
      assert.deepEqual(doc.locks.map((l) => `${l.name}/${l.verdict}`), ["env-1/release"], "the judgement it had");
      assert.deepEqual(doc.released, [], "nothing released");
      assert.deepEqual(doc.commits, []);
      assert.equal(await hooked.head(), head);
    } finally {
      await hooked.cleanup();
    }
  });

  test("without --json, stdout stays empty on failure", async () => {
    const run = await poolBoy(["status", "--repo", "http://127.0.0.1:1/pool.git", "--pools", "aws:2h"], { HOME: "/nonexistent" });
    assert.equal(run.code, 3);
    assert.equal(run.stdout, "");
  });
});

/** Runs the CLI with stdout or stderr a real pipe whose reading end is closed early. */
function closedPipe(args: string[], env: Record<string, string>, which: "stdout" | "stderr", after: "at once" | "first bytes"): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const closed = child[which];
    const other = which === "stdout" ? child.stderr : child.stdout;
    let kept = "";
    other.on("data", (d: Buffer) => (kept += d.toString()));
    if (after === "at once") closed.destroy();
    else closed.once("data", () => closed.destroy());
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: which === "stdout" ? "" : kept, stderr: which === "stderr" ? "" : kept });
    });
  });
}

describe("a closed pipe is no crash", () => {
  let repo: PoolRepo;
  before(async () => {
    // a table far bigger than a pipe's buffer, so the reader goes away in the middle of it
    repo = await createPoolRepo({ pools: { big: { unclaimed: [] } }, date: new Date(Date.now() - 86400_000) });
    const c = await repo.claimer();
    await c.bulk(Array.from({ length: 1500 }, (_, i) => ({ op: "add-claimed" as const, pool: "big", lock: `lock-${String(i).padStart(4, "0")}-${"x".repeat(40)}` })));
  });
  after(async () => repo.cleanup());

  test("status --help | head: exit 0, nothing on stderr", async () => {
    const run = await closedPipe(["status", "--help"], {}, "stdout", "at once");
    assert.equal(run.code, 0);
    assert.doesNotMatch(run.stderr, NO_STACK);
    assert.equal(run.stderr, "");
  });

  test("status | head, the reader gone after the first bytes: the run's exit code, no stack trace", async () => {
    const run = await closedPipe(["status", "--repo", repo.path, "--pools", "*:2h"], { HOME: "/nonexistent" }, "stdout", "first bytes");
    assert.equal(run.code, 0);
    assert.equal(run.stderr, "");
  });

  test("status --json with stdout closed at once", async () => {
    const run = await closedPipe(["status", "--json", "--repo", repo.path, "--pools", "*:2h"], { HOME: "/nonexistent" }, "stdout", "at once");
    assert.equal(run.code, 0);
    assert.equal(run.stderr, "");
  });

  test("stderr closed (2>&1 | head): the run still finishes and prints its table", async () => {
    const run = await closedPipe(["status", "--verbose", "--repo", repo.path, "--pools", "*:2h"], { HOME: "/nonexistent" }, "stderr", "at once");
    assert.equal(run.code, 0);
    assert.match(run.stdout, /1500 claimed locks in 1 pool/);
  });

  test("a failure with stderr closed keeps its exit code", async () => {
    const run = await closedPipe(["status", "--repo", "http://127.0.0.1:1/pool.git", "--pools", "aws:2h"], { HOME: "/nonexistent" }, "stderr", "at once");
    assert.equal(run.code, 3);
  });
});

describe("text from the repository is shown, not executed", () => {
  const hostile = {
    clear: "\x1b[2J\x1b[Hclear",
    hide: "hide\x1b[8m-me",
    cr: "fake\rreal",
    tab: "tab\tbed",
    newline: "new\nline",
    bidi: "exe\u202Etxt.sh",
    c1: "csi\u009b2J",
    long: `long-${"n".repeat(230)}`,
  };
  let repo: PoolRepo;
  before(async () => {
    repo = await createPoolRepo({ pools: { aws: { unclaimed: [] } }, date: new Date(Date.now() - 10 * 86400_000) });
    const c = await repo.claimer();
    const date = new Date(Date.now() - 3 * 86400_000);
    await c.bulk(
      Object.values(hostile).map((lock) => ({
        op: "add-claimed" as const,
        pool: "aws",
        lock,
        date,
        message: `main/app/\x1b[31mdeploy\x1b[0m build 1 adding claimed: ${lock}\n\nbody \x1b]0;title\x07`,
      })),
    );
  });
  after(async () => repo.cleanup());

  const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

  test("status: names and messages escaped in the table and the verbose lines", async () => {
    const run = await poolBoy(["status", "--verbose", "--repo", repo.path, "--pools", "aws:2h"], { HOME: "/nonexistent" });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, CONTROL, "no control character reaches the terminal");
    assert.doesNotMatch(run.stderr, CONTROL);
    for (const shown of ["\\x1b[2J\\x1b[Hclear", "hide\\x1b[8m-me", "fake\\rreal", "tab\\tbed", "new\\nline", "exe\\u202etxt.sh", "csi\\x9b2J"])
      assert.ok(run.stdout.includes(shown), `${shown} in\n${run.stdout}`);
    assert.match(run.stdout, /claim [0-9a-f]{12} .*\\x1b\[31mdeploy\\x1b\[0m/, "the verbose claim line");
    const rows = run.stdout.split("\n").filter((l) => /^  \S/.test(l) && /keep \(|release \(/.test(l));
    assert.equal(rows.length, Object.keys(hostile).length, "one row a lock: a newline in a name breaks no row");
    const longRow = rows.find((r) => r.includes("long-"))!;
    assert.ok(longRow.includes(`long-${"n".repeat(42)}…`), "a long name is cut with an ellipsis");
    const widths = rows.map((r) => r.indexOf(" keep ("));
    assert.ok(Math.max(...widths) < 2 + 48 + 2 + 40 + 2 + 10 + 2 + 10, `no column is widened past 48 by the long name: ${Math.max(...widths)}`);
  });

  test("--json keeps the exact strings", async () => {
    const run = await poolBoy(["status", "--json", "--repo", repo.path, "--pools", "aws:2h"], { HOME: "/nonexistent" });
    assert.equal(run.code, 0, run.stderr);
    const names = (JSON.parse(run.stdout) as { locks: Array<{ name: string }> }).locks.map((l) => l.name).sort();
    assert.deepEqual(names, Object.values(hostile).sort());
  });

  test("clean: the released rows and the log lines escaped too", async () => {
    const run = await poolBoy(["clean", "--verbose", "--repo", repo.path, "--pools", "aws:1h"], { HOME: "/nonexistent" });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, CONTROL);
    assert.doesNotMatch(run.stderr, CONTROL);
    assert.match(run.stdout, /\\x1b\[2J\\x1b\[Hclear +.*released \(stale\)/);
    assert.match(run.stdout, /8 released/);
  });

  test("an error naming a hostile pool is escaped on stderr", async () => {
    const run = await poolBoy(["status", "--repo", repo.path, "--pools", "\x1b[2Jgone:2h"], { HOME: "/nonexistent" });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /\\x1b\[2Jgone/);
    assert.doesNotMatch(run.stderr, CONTROL);
  });

  test("a warning naming a team from a claim is escaped on stderr", async () => {
    await (await repo.claimer()).addClaimed("aws", "team-lock", "x", "ma\x1b[2Jin/app/deploy build 1 adding claimed: team-lock");
    const atc = await startFakeAtc({ users: [{ username: "pool-boy", password: "warn-secret-99", teams: ["main"] }] });
    try {
      const env = { HOME: "/nonexistent", CONCOURSE_BASE_URL: atc.url, CONCOURSE_USERNAME: "pool-boy", CONCOURSE_PASSWORD: "warn-secret-99", POOL_BOY_API_RETRIES: "1" };
      const run = await poolBoy(["status", "--repo", repo.path, "--pools", "aws:2h"], env);
      assert.match(run.stderr, /warning: pool-boy is not a member of team ma\\x1b\[2Jin/);
      assert.doesNotMatch(run.stderr, CONTROL);
    } finally {
      await atc.close();
    }
  });
});

describe("a claim dated in the future", () => {
  test("is shown as dated ahead, kept, and its skew is in --json", async () => {
    const repo = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1"] } }, date: new Date(Date.now() - 86400_000) });
    try {
      const c = await repo.claimer();
      await c.claim("aws", "env-1", "main/app/deploy build 1 claiming: env-1", new Date(Date.now() + 3 * 3600_000 + 120_000));
      const run = await poolBoy(["status", "--repo", repo.path, "--pools", "aws:1m"], { HOME: "/nonexistent" });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /env-1 +deploy #1 +dated 3h 1m ahead +keep \(young\) +dated ahead, not aged$/m);
      const doc = JSON.parse((await poolBoy(["status", "--json", "--repo", repo.path, "--pools", "aws:1m"], { HOME: "/nonexistent" })).stdout) as {
        locks: Array<{ ageSeconds: number; aheadSeconds: number; verdict: string }>;
      };
      assert.equal(doc.locks[0]?.ageSeconds, 0);
      assert.ok((doc.locks[0]?.aheadSeconds ?? 0) > 3 * 3600, JSON.stringify(doc.locks[0]));
      const clean = await poolBoy(["clean", "--json", "--repo", repo.path, "--pools", "aws:1m"], { HOME: "/nonexistent" });
      assert.deepEqual((JSON.parse(clean.stdout) as { released: unknown[] }).released, [], "never released by age while ahead");
    } finally {
      await repo.cleanup();
    }
  });
});
