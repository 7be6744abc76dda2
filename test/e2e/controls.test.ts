// Operator controls end to end: hold, unhold, release by hand, doctor and the config file, run as
// the built CLI against a real bare repository and the Concourse API stand-in, with lost races
// forced deterministically (the API's beforeAnswer hook, and a git shim that lets another writer
// push between pool-boy's fetch and its push).

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPoolRepo, log, filesAt, readAt, type Claimer, type PoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";
import { poolBoy, json, type CliRun } from "../support/cli.js";

const run = promisify(execFile);
const USER = { username: "pool-boy", password: "controls-secret-42", teams: ["main"] };
const HOUR = 3_600_000;

interface World {
  repo: PoolRepo;
  atc: FakeAtc;
  env: Record<string, string>;
  seed: Claimer;
  /** deploy build ids by lock */
  builds: Record<string, number>;
  cleanup(): Promise<void>;
}

/**
 * aws: env-1 alive (deploy #1 started), env-2 failed (deploy #2), env-3 claimed by hand 5h ago,
 * env-4 unclaimed; aws-dirty: env-3 unclaimed already; gcp: vm-1 unclaimed.
 */
async function makeWorld(): Promise<World> {
  const now = Date.now();
  const repo = await createPoolRepo({
    pools: { aws: { unclaimed: ["env-1", "env-2", "env-3", "env-4"] }, "aws-dirty": { unclaimed: ["env-3"] }, gcp: { unclaimed: ["vm-1", "vm-2"] } },
    date: new Date(now - 48 * HOUR),
  });
  const atc = await startFakeAtc({ version: "8.2.5", users: [USER] });
  const seed = await repo.claimer();
  const builds: Record<string, number> = {};
  const b1 = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
  await seed.claim("aws", "env-1", `main/app/deploy build ${b1.name} claiming: env-1`, new Date(now - 3 * HOUR));
  builds["env-1"] = b1.id;
  const b2 = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
  await seed.claim("aws", "env-2", `main/app/deploy build ${b2.name} claiming: env-2`, new Date(now - 2 * HOUR));
  atc.setStatus(b2.id, "failed");
  builds["env-2"] = b2.id;
  await seed.claim("aws", "env-3", "claim env-3 by hand", new Date(now - 5 * HOUR));
  const home = join(repo.root, "home");
  const env = {
    POOL_REPO: repo.path,
    CONCOURSE_BASE_URL: atc.url,
    CONCOURSE_USERNAME: USER.username,
    CONCOURSE_PASSWORD: USER.password,
    POOL_BOY_API_RETRIES: "1",
    POOL_BOY_BY: "tester",
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: join(repo.root, "no-global-gitconfig"),
  };
  return {
    repo,
    atc,
    env,
    seed,
    builds,
    async cleanup() {
      atc.beforeAnswer = null;
      await atc.close();
      await repo.cleanup();
    },
  };
}

const verdictOf = (r: CliRun, name: string) => {
  const l = json(r).locks.find((x) => `${x.pool}/${x.name}` === name);
  return l ? `${l.verdict}/${l.reason}` : "absent";
};
const ok = (r: CliRun, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);

/** The pool-resource's check range: commits from `from` to the head that touch POOL. */
async function checkRange(repo: PoolRepo, from: string, pool: string): Promise<string[]> {
  const { stdout } = await run("git", ["--git-dir", repo.path, "log", "--format=%H", `${from}..HEAD`, "--", pool], { env: repo.env });
  return stdout.split("\n").filter(Boolean);
}

describe("hold and unhold", () => {
  let w: World;
  before(async () => {
    w = await makeWorld();
  });
  after(async () => w.cleanup());

  test("a held lock is kept (held) and not released by clean; the hold is outside every pool's folder", async () => {
    const start = await w.repo.head();
    const held = await poolBoy(["hold", "aws/env-2", "--reason", "debugging the VPC", "--for", "1d", "--json"], w.env);
    ok(held, "hold");
    const doc = JSON.parse(held.stdout);
    assert.equal(doc.hold.by, "tester");
    assert.equal(doc.hold.reason, "debugging the VPC");
    assert.match(doc.hold.until, /^\d{4}-/);
    const [commit] = await log(w.repo.path, { max: 1 });
    assert.equal(commit!.sha, doc.commit);
    assert.deepEqual(commit!.files.map((f) => f.path), [".pool-boy/holds/aws/env-2"]);
    assert.match(commit!.message, /^pool-boy hold: aws\/env-2\n\nHeld by tester until .*: debugging the VPC/);
    for (const pool of ["aws", "aws-dirty", "gcp"]) assert.deepEqual(await checkRange(w.repo, start, pool), [], `check of ${pool} sees no hold commit`);

    const metrics = join(w.repo.root, "pool-boy.prom");
    const status = await poolBoy(["status", "--json", "--pools", "aws:2h", "--metrics-file", metrics], w.env);
    ok(status, "status");
    assert.equal(verdictOf(status, "aws/env-2"), "keep/held");
    const series = (await readFile(metrics, "utf8")).split("\n").filter((l) => l.startsWith("pool_boy_verdicts{") && l.includes('pool="aws"'));
    assert.ok(series.some((l) => l.includes('reason="held"') && l.endsWith(" 1")), series.join("\n"));
    assert.ok(series.some((l) => l.includes('reason="debug-window"') && l.endsWith(" 0")), series.join("\n"));
    const lock = json(status).locks.find((l) => l.name === "env-2") as unknown as { hold: { by: string; reason: string; since: string; until: string } };
    assert.equal(lock.hold.by, "tester");
    assert.match(lock.hold.since, /^\d{4}-/);
    const text = await poolBoy(["status", "--pools", "aws:2h"], w.env);
    assert.match(text.stdout, /keep \(held\)\s+held by tester: debugging/);

    const clean = await poolBoy(["clean", "--json", "--pools", "aws:2h"], w.env);
    ok(clean, "clean");
    assert.deepEqual(json(clean).released?.map((r) => r.name), ["env-3"], "the held lock stays; the stale one goes");
    assert.ok((await filesAt(w.repo.path, "HEAD")).includes("aws/claimed/env-2"));
    assert.equal((await checkRange(w.repo, start, "aws")).length, 1, "the check range does see clean's release under aws/");

    const again = await poolBoy(["hold", "aws/env-2", "--reason", "mine"], w.env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /aws\/env-2 is already held by tester/);

    const before = await w.repo.head();
    const lifted = await poolBoy(["unhold", "aws/env-2"], w.env);
    ok(lifted, "unhold");
    assert.match(lifted.stdout, /^unheld aws\/env-2/);
    const [unholdCommit] = await log(w.repo.path, { max: 1 });
    assert.deepEqual(unholdCommit!.files, [{ status: "D", path: ".pool-boy/holds/aws/env-2" }]);
    assert.match(unholdCommit!.message, /Hold lifted by tester/);
    assert.deepEqual(await checkRange(w.repo, before, "aws"), []);
    assert.equal(verdictOf(await poolBoy(["status", "--json", "--pools", "aws:2h"], w.env), "aws/env-2"), "release/finished");
  });

  test("holding a lock that is not claimed or does not exist is refused, and nothing is pushed", async () => {
    const head = await w.repo.head();
    const cases: Array<[string, RegExp]> = [
      ["aws/env-4", /aws\/env-4 is not claimed: it is in aws\/unclaimed\//],
      ["aws/env-9", /aws\/env-9 does not exist/],
      ["nope/env-1", /there is no pool "nope"/],
      ["env-1", /"env-1" is not POOL\/LOCK/],
    ];
    for (const [target, message] of cases) {
      const r = await poolBoy(["hold", target, "--reason", "x"], w.env);
      assert.equal(r.code, 2, `${target}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const noReason = await poolBoy(["hold", "aws/env-1"], w.env);
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /--reason is required/);
    // a --for past the dates a computer can write is bad input, not a crash (exit 1)
    for (const long of ["99999999999d", "400d"]) {
      const tooLong = await poolBoy(["hold", "aws/env-1", "--reason", "x", "--for", long, "--json"], w.env);
      assert.equal(tooLong.code, 2, tooLong.stderr);
      assert.match(tooLong.stderr, new RegExp(`--for: "${long}" is longer than a year`));
      assert.doesNotMatch(tooLong.stderr, /unexpected failure|\n\s+at /);
      JSON.parse(tooLong.stdout);
    }
    const notHeld = await poolBoy(["unhold", "aws/env-1"], w.env);
    assert.equal(notHeld.code, 2);
    assert.match(notHeld.stderr, /aws\/env-1 is not held/);
    assert.equal(await w.repo.head(), head);
  });

  test("who ran it: --by, else POOL_BOY_BY, else git's identity, else USER@host", async () => {
    const gitconfig = join(w.repo.root, "carol.gitconfig");
    await writeFile(gitconfig, "[user]\n\tname = Carol\n\temail = carol@example.com\n");
    const { POOL_BOY_BY: _by, ...noBy } = w.env;
    const byGit = await poolBoy(["hold", "aws/env-1", "--reason", "x", "--json"], { ...noBy, GIT_CONFIG_GLOBAL: gitconfig });
    ok(byGit, "hold");
    assert.equal(JSON.parse(byGit.stdout).hold.by, "Carol <carol@example.com>");
    ok(await poolBoy(["unhold", "aws/env-1"], w.env), "unhold");
    const byUser = await poolBoy(["hold", "aws/env-1", "--reason", "x", "--json"], { ...noBy, USER: "dave" });
    ok(byUser, "hold");
    assert.match(JSON.parse(byUser.stdout).hold.by, /^dave@.+/);
    ok(await poolBoy(["unhold", "aws/env-1", "--by", "erin"], w.env), "unhold");
    assert.match((await log(w.repo.path, { max: 1 }))[0]!.message, /Hold lifted by erin/);
  });

  test("who ran it: the git that reads the identity gets no credential in its environment", async () => {
    // a git on PATH that records the environment of `git config` and then runs the real git
    const bin = join(w.repo.root, "spy-bin");
    const dump = join(w.repo.root, "git-config.env");
    const real = (await run("sh", ["-c", "command -v git"])).stdout.trim();
    await run("mkdir", ["-p", bin]);
    await writeFile(join(bin, "git"), `#!/bin/sh\nif [ "$1" = config ]; then env > "${dump}"; fi\nexec "${real}" "$@"\n`);
    await chmod(join(bin, "git"), 0o755);
    const { POOL_BOY_BY: _by, ...noBy } = w.env;
    const env = { ...noBy, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
    ok(await poolBoy(["hold", "aws/env-1", "--reason", "x"], env), "hold");
    const seen = await readFile(dump, "utf8");
    assert.match(seen, /^PATH=/m, "the spy ran");
    assert.ok(!seen.includes(w.env.CONCOURSE_PASSWORD!), "the Concourse password reached git config's environment");
    assert.doesNotMatch(seen, /^CONCOURSE_/m);
    ok(await poolBoy(["unhold", "aws/env-1"], w.env), "unhold");
  });

  test("an expired hold no longer keeps the lock, and doctor reports it", async () => {
    const c = await w.repo.claimer();
    await c.commit({ write: { ".pool-boy/holds/aws/env-1": "by: someone\nreason: old\nsince: 2020-01-01T00:00:00Z\nuntil: 2020-01-02T00:00:00Z\n" } }, "an old hold");
    const status = await poolBoy(["status", "--json", "--pools", "aws:2h"], w.env);
    ok(status, "status");
    assert.equal(verdictOf(status, "aws/env-1"), "keep/alive");
    const doctor = await poolBoy(["doctor", "--json"], w.env);
    assert.equal(doctor.code, 7, doctor.stderr);
    const codes = JSON.parse(doctor.stdout).findings.map((f: { code: string }) => f.code);
    assert.ok(codes.includes("hold-expired"), codes.join(","));
    ok(await poolBoy(["unhold", "aws/env-1"], w.env), "unhold of an expired hold");
  });
});

/** A git first on PATH that, before pool-boy's first push, runs `race` (another writer's push). */
async function gitShim(dir: string, race: string): Promise<string> {
  const realGit = (await run("sh", ["-c", "command -v git"])).stdout.trim();
  const mark = join(dir, "raced");
  const script = join(dir, "race.sh");
  await writeFile(script, `#!/bin/sh\nset -e\n${race}\n`);
  await writeFile(
    join(dir, "git"),
    `#!/bin/sh\nif [ "$1" = "push" ] && [ ! -e "${mark}" ]; then : > "${mark}"; env -i PATH="${process.env.PATH}" HOME="${dir}" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null sh "${script}" >&2; fi\nexec "${realGit}" "$@"\n`,
  );
  await chmod(join(dir, "git"), 0o755);
  return `${dir}:${process.env.PATH}`;
}

describe("lost races", () => {
  let w: World;
  let dir: string;
  before(async () => {
    w = await makeWorld();
    dir = await mkdtemp(join(tmpdir(), "pool-boy-shim-"));
  });
  after(async () => {
    await w.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("release: a claim is pushed while pool-boy asks about the owner; the push is refused and it judges again", async () => {
    const other = await w.repo.claimer();
    let asked = 0;
    w.atc.beforeAnswer = async (path) => {
      if (!path.includes("/builds/") || asked++ > 0) return;
      await other.claim("gcp", "vm-1", "claim vm-1 by hand");
    };
    const r = await poolBoy(["release", "aws/env-2", "--reason", "rebuilt by hand", "--json", "--verbose", "--api-timeout", "60s"], w.env);
    w.atc.beforeAnswer = null;
    ok(r, "release");
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.attempts, 2);
    assert.match(r.stderr, /push refused/);
    const commits = await log(w.repo.path, { max: 2 });
    assert.equal(commits[0]!.sha, doc.commit);
    assert.equal(commits[1]!.message, "claim vm-1 by hand", "the other writer's commit is kept, ours is on top");
    assert.deepEqual(commits[0]!.moves, [{ from: "aws/claimed/env-2", to: "aws/unclaimed/env-2" }]);
  });

  test("hold: an unrelated claim is pushed between fetch and push; hold fetches, judges again and holds on top", async () => {
    const other = await w.repo.claimer();
    const shim = join(dir, "unrelated");
    await run("mkdir", ["-p", shim]);
    const race = `cd "${other.dir}"\ngit -c user.name=x -c user.email=x@x pull -q --rebase origin main\ngit mv gcp/unclaimed/vm-2 gcp/claimed/vm-2\ngit -c user.name=x -c user.email=x@x commit -q -m "claiming: vm-2"\ngit push -q origin HEAD:main`;
    const r = await poolBoy(["hold", "aws/env-1", "--reason", "debug", "--json", "--verbose"], { ...w.env, PATH: await gitShim(shim, race) });
    ok(r, "hold");
    assert.equal(JSON.parse(r.stdout).attempts, 2);
    assert.match(r.stderr, /push refused/);
    const [mine, theirs] = await log(w.repo.path, { max: 2 });
    assert.equal(theirs!.message, "claiming: vm-2");
    assert.deepEqual(mine!.files.map((f) => f.path), [".pool-boy/holds/aws/env-1"]);
    ok(await poolBoy(["unhold", "aws/env-1"], w.env), "unhold");
  });

  test("hold: another writer releases the lock between fetch and push; hold judges again and refuses", async () => {
    const other = await w.repo.claimer();
    const race = `cd "${other.dir}"\ngit -c user.name=x -c user.email=x@x pull -q --rebase origin main\ngit mv aws/claimed/env-3 aws/unclaimed/env-3\ngit -c user.name=x -c user.email=x@x commit -q -m "unclaiming: env-3"\ngit push -q origin HEAD:main`;
    const shim = join(dir, "release");
    await run("mkdir", ["-p", shim]);
    const path = await gitShim(shim, race);
    const r = await poolBoy(["hold", "aws/env-3", "--reason", "debug", "--verbose"], { ...w.env, PATH: path });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /push refused/);
    assert.match(r.stderr, /aws\/env-3 is not claimed/);
    const files = await filesAt(w.repo.path, "HEAD");
    assert.ok(!files.some((f) => f.startsWith(".pool-boy/holds/aws/env-3")), "no hold was pushed");
    assert.equal((await log(w.repo.path, { max: 1 }))[0]!.message, "unclaiming: env-3");
  });
});

describe("release by hand", () => {
  let w: World;
  before(async () => {
    w = await makeWorld();
  });
  after(async () => w.cleanup());

  test("an alive lock is refused; --force takes it and names whose build it was taken from", async () => {
    const head = await w.repo.head();
    const refused = await poolBoy(["release", "aws/env-1", "--reason", "stuck"], w.env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing to release aws\/env-1: its owner deploy #1 is started/);
    assert.match(refused.stderr, /--force/);
    assert.equal(await w.repo.head(), head);

    const forced = await poolBoy(["release", "aws/env-1", "--reason", "the env is broken", "--force", "--by", "alice"], w.env);
    ok(forced, "release --force");
    assert.match(forced.stdout, /taken by force from main\/app\/deploy #1 \(started\)/);
    const [c] = await log(w.repo.path, { max: 1 });
    assert.match(c!.message, /^unclaiming: env-1\n\nReleased by hand by alice with pool-boy: the env is broken\nTaken by force from: main\/app\/deploy #1 \(started\)/);
    assert.deepEqual(c!.moves, [{ from: "aws/claimed/env-1", to: "aws/unclaimed/env-1" }]);
  });

  test("a held lock is refused without --force; a hand claim goes with the reason and who ran it; --to quarantines", async () => {
    ok(await poolBoy(["hold", "aws/env-2", "--reason", "debug"], w.env), "hold");
    const refused = await poolBoy(["release", "aws/env-2", "--reason", "done"], w.env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /it is held by tester/);

    const conflict = await poolBoy(["release", "aws/env-3", "--reason", "x", "--to", "aws-dirty"], w.env);
    assert.equal(conflict.code, 2);
    assert.match(conflict.stderr, /aws-dirty already has a lock named env-3/);

    const content = await readAt(w.repo.path, "HEAD", "aws/claimed/env-3");
    const r = await poolBoy(["release", "aws/env-3", "--reason", "moved to the dirty pool", "--to", "gcp", "--json"], w.env);
    ok(r, "release --to gcp");
    assert.equal(JSON.parse(r.stdout).released.to, "gcp/unclaimed/env-3");
    assert.deepEqual(await readAt(w.repo.path, "HEAD", "gcp/unclaimed/env-3"), content);
    const [c] = await log(w.repo.path, { max: 1 });
    assert.match(c!.message, /Released by hand by tester with pool-boy: moved to the dirty pool/);
    assert.match(c!.message, /Quarantined: moved to gcp\/unclaimed\//);

    const missing = await poolBoy(["release", "aws/env-4", "--reason", "x"], w.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /aws\/env-4 is not claimed/);
  });
});

describe("the config file and quarantine", () => {
  let w: World;
  let dir: string;
  before(async () => {
    w = await makeWorld();
    dir = await mkdtemp(join(tmpdir(), "pool-boy-config-"));
  });
  after(async () => {
    await w.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("every problem of a config file is named at once, with its line, exit 2", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, `pools:\n  aws:\n    timeout: 9x\n    keep-faild: 1d\n  gcp:\n    release-to: gcp\n`);
    const r = await poolBoy(["status", "--config", file], w.env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bad\.yaml:3: pools\.aws\.timeout: "9x" is not a duration/);
    assert.match(r.stderr, /bad\.yaml:4: pools\.aws\.keep-faild: unknown setting \(did you mean keep-failed\?\)/);
    assert.match(r.stderr, /bad\.yaml:6: pools\.gcp\.release-to: "gcp" is the pool itself/);
    const missing = await poolBoy(["status", "--config", join(dir, "nope.yaml")], w.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--config: cannot read/);
    // No pools named anywhere: every pool, no timeout (only the API judges).
    const none = await poolBoy(["status"], w.env);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /· no timeout$/m);
  });

  test("keep-failed keeps a failed owner's lock (debug-window); flags win over --config; --verbose says where from", async () => {
    const file = join(dir, "ci.yaml");
    await writeFile(file, `pools:\n  "*": {timeout: 1h}\n  aws:\n    keep-failed: 1d\n`);
    const r = await poolBoy(["status", "--json", "--config", file], w.env);
    ok(r, "status --config");
    assert.equal(verdictOf(r, "aws/env-2"), "keep/debug-window");
    assert.equal(verdictOf(r, "aws/env-3"), "release/stale", "the * timeout of 1h");
    const settings = (JSON.parse(r.stdout) as { settings: Array<{ pool: string; keepFailedSeconds: number; sources: { keepFailed: string } }> }).settings;
    assert.deepEqual(settings.map((p) => p.pool), ["aws", "aws-dirty", "gcp"]);
    assert.equal(settings[0]!.keepFailedSeconds, 86400);
    assert.match(settings[0]!.sources.keepFailed, /^--config .*ci\.yaml$/);
    const flags = await poolBoy(["status", "--json", "--config", file, "--pools", "aws:1d"], w.env);
    assert.equal(verdictOf(flags, "aws/env-3"), "keep/young", "--pools wins over --config");
    const verbose = await poolBoy(["status", "--verbose", "--config", file], w.env);
    ok(verbose, "status --verbose");
    assert.match(verbose.stdout, /settings: timeout 1h \(--config .*ci\.yaml "\*"\), keep-failed 1d \(--config .*ci\.yaml\), release-to \(its own pool\) \(default\)/);
  });

  test("the repository's .pool-boy/config.yaml: release-to quarantines, one commit per lock, content kept; a name taken in the target is a conflict", async () => {
    const c = await w.repo.claimer();
    await c.commit({ write: { ".pool-boy/config.yaml": `pools:\n  aws:\n    timeout: 1h\n    release-to: aws-dirty\n  retired: {timeout: 1h}\n` } }, "pool-boy settings");
    const content = await readAt(w.repo.path, "HEAD", "aws/claimed/env-2");
    const r = await poolBoy(["clean", "--json"], w.env);
    ok(r, "clean");
    const doc = json(r);
    assert.deepEqual(doc.released?.map((m) => `${m.pool}/${m.name}`), ["aws/env-2"]);
    assert.equal((doc.released?.[0] as { to?: string }).to, "aws-dirty/unclaimed/env-2");
    assert.equal(verdictOf(r, "aws/env-3"), "keep/conflict");
    assert.match(doc.locks.find((l) => l.name === "env-3")!.detail, /aws-dirty already has a lock named env-3/);
    assert.match((doc as unknown as { warnings: Array<{ message: string }> }).warnings.map((w) => w.message).join("\n"), /names pool "retired", which the repository does not have/);
    assert.deepEqual(await readAt(w.repo.path, "HEAD", "aws-dirty/unclaimed/env-2"), content);
    const [commit] = await log(w.repo.path, { max: 1 });
    assert.deepEqual(commit!.moves, [{ from: "aws/claimed/env-2", to: "aws-dirty/unclaimed/env-2" }]);
    assert.match(commit!.message, /Quarantined: moved to aws-dirty\/unclaimed\//);
  });

  test("release by hand honours the repository's release-to also when --pools (POOLS) names other pools", async () => {
    // a scheduled clean's POOLS in the environment must not turn a quarantine into a release in place
    const r = await poolBoy(["release", "aws/env-1", "--reason", "broken", "--force", "--json"], { ...w.env, POOLS: "gcp:1h" });
    ok(r, "release with POOLS");
    assert.equal(JSON.parse(r.stdout).released.to, "aws-dirty/unclaimed/env-1");
    const [commit] = await log(w.repo.path, { max: 1 });
    assert.deepEqual(commit!.moves, [{ from: "aws/claimed/env-1", to: "aws-dirty/unclaimed/env-1" }]);
  });
});

describe("doctor", () => {
  let w: World;
  before(async () => {
    w = await makeWorld();
  });
  after(async () => w.cleanup());

  test("a healthy repository: exit 0", async () => {
    const healthy = await createPoolRepo({ pools: { aws: { unclaimed: ["env-1"] } } });
    try {
      const r = await poolBoy(["doctor"], { ...w.env, POOL_REPO: healthy.path });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /healthy: nothing needs a human/);
    } finally {
      await healthy.cleanup();
    }
  });

  test("every kind of trouble is reported with a severity and a fix, exit 7, nothing changed", async () => {
    const c = await w.repo.claimer();
    await c.addClaimed("gcp", "vm-9", "x\n", "main/infra/provision build 5 claiming: vm-9");
    await c.addClaimed("gcp", "vm-8", "x\n", "main/infra/provision build 5 claiming: vm-8");
    await c.commit(
      {
        write: { "gcp/unclaimed/vm-9": "dup\n", "gcp/notes.txt": "stray\n", "broken/claimed/.gitkeep": "", ".pool-boy/config.yaml": "pools:\n  retired: {timeout: 1h}\n", ".pool-boy/holds/gcp/vm-7": 'by: "bob\\e[2J"\nreason: gone\nsince: 2026-01-01T00:00:00Z\nuntil: unhold\n' },
        remove: ["aws-dirty/unclaimed/.gitkeep"],
      },
      "a messy repository",
    );
    const head = await w.repo.head();
    const r = await poolBoy(["doctor", "--json"], w.env);
    assert.equal(r.code, 7, r.stderr);
    const doc = JSON.parse(r.stdout) as { healthy: boolean; findings: Array<{ severity: string; code: string; fix: string; path: string | null }> };
    assert.equal(doc.healthy, false);
    const codes = new Set(doc.findings.map((f) => f.code));
    for (const code of ["claimed-and-unclaimed", "missing-folder", "missing-gitkeep", "stray", "several-locks-one-build", "exhausted", "unknown-claim", "hold-lock-missing", "config-unknown-pool"])
      assert.ok(codes.has(code), `${code} in ${[...codes].join(", ")}`);
    for (const f of doc.findings) {
      assert.ok(f.fix.length > 0);
      assert.ok(["error", "warning"].includes(f.severity));
    }
    assert.equal(await w.repo.head(), head);
    const text = await poolBoy(["doctor"], w.env);
    assert.equal(text.code, 7);
    assert.match(text.stdout, /error {3}gcp\/vm-9 is in claimed\/ and unclaimed\/ at once/);
    assert.match(text.stdout, /fix: /);
    assert.ok(!text.stdout.includes("\x1b"), "repository text is escaped");
    assert.match(text.stdout, /the hold on gcp\/vm-7 by bob\\x1b\[2J names a lock that is not claimed/);
  });
});

describe("a broken .pool-boy/config.yaml in the repository", () => {
  let w: World;
  let head: string;
  before(async () => {
    w = await makeWorld();
    const c = await w.repo.claimer();
    await c.commit({ write: { ".pool-boy/config.yaml": "pools:\n  aws:\n    timeout: 9x\n    keep-faild: 1d\n" } }, "a broken pool-boy config");
    head = await w.repo.head();
  });
  after(async () => w.cleanup());

  test("doctor reports it as an error finding with its lines and the fix, exit 7", async () => {
    const r = await poolBoy(["doctor", "--json"], w.env);
    assert.equal(r.code, 7, r.stderr);
    const doc = JSON.parse(r.stdout) as { findings: Array<{ severity: string; code: string; path: string | null; message: string; fix: string }> };
    const f = doc.findings.find((x) => x.code === "config-invalid");
    assert.ok(f, JSON.stringify(doc.findings));
    assert.equal(f.severity, "error");
    assert.equal(f.path, ".pool-boy/config.yaml");
    assert.match(f.message, /\.pool-boy\/config\.yaml:3: pools\.aws\.timeout: "9x" is not a duration/);
    assert.match(f.message, /\.pool-boy\/config\.yaml:4: pools\.aws\.keep-faild: unknown setting/);
    assert.match(f.fix, /fix \.pool-boy\/config\.yaml/);
    const text = await poolBoy(["doctor"], w.env);
    assert.equal(text.code, 7, text.stderr);
    assert.match(text.stdout, /error {3}.*\.pool-boy\/config\.yaml:3/);
  });

  test("status and clean refuse (exit 2), naming the file and the commit, and point to doctor; nothing is pushed", async () => {
    for (const command of ["status", "clean"]) {
      const r = await poolBoy([command, "--pools", "aws:1h"], w.env);
      assert.equal(r.code, 2, `${command}: ${r.stderr}`);
      assert.match(r.stderr, /\.pool-boy\/config\.yaml:3: pools\.aws\.timeout/);
      assert.match(r.stderr, new RegExp(head.slice(0, 12)));
      assert.match(r.stderr, /pool-boy doctor/);
    }
    assert.equal(await w.repo.head(), head);
  });

  test("hold and unhold still work: a hold never releases anything", async () => {
    const held = await poolBoy(["hold", "aws/env-1", "--reason", "debugging"], w.env);
    assert.equal(held.code, 0, held.stderr);
    assert.deepEqual((await filesAt(w.repo.path, "HEAD")).filter((f) => f.startsWith(".pool-boy/holds/")), [".pool-boy/holds/aws/env-1"]);
    const lifted = await poolBoy(["unhold", "aws/env-1"], w.env);
    assert.equal(lifted.code, 0, lifted.stderr);
    assert.deepEqual((await filesAt(w.repo.path, "HEAD")).filter((f) => f.startsWith(".pool-boy/holds/")), []);
    // release by hand reads release-to from the file: it keeps refusing
    const release = await poolBoy(["release", "aws/env-3", "--reason", "x"], w.env);
    assert.equal(release.code, 2, release.stderr);
    assert.match(release.stderr, /\.pool-boy\/config\.yaml:3/);
  });
});
