// The production path: pool-boy's Docker image, run as a scheduled Concourse task. This builds
// the image from the repository's Dockerfile (FROM a local stand-in of node:24-bookworm-slim,
// scripts/image/) and runs pool-boy inside it, as the task would.
//
// No Docker engine and no registry here: podman builds (chroot isolation), `buildah run` runs
// commands in the built image. chroot isolation shares the host's network namespace, so the
// fake ATC on 127.0.0.1 is reachable from inside; the bare pool repository is bind-mounted.
//
// Needs root, podman, buildah and debootstrap (docs/image.md). Without them the suite skips
// this file with the reason, except in CI (CI=true), where that is a failure.

import { after, before, describe, test } from "node:test";
import { missingReason, needs, BUILDAH, DEBOOTSTRAP, PODMAN } from "../support/programs.js";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPoolRepo, filesAt, log, type PoolRepo } from "../support/pool-repo.js";
import { startFakeAtc, type FakeAtc } from "../support/atc-server.js";

// dist/test/image/image.test.js (or any other out dir of the same depth) → the repository
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ENV_SH = join(ROOT, "scripts/image/env.sh");
const BUILD_SH = join(ROOT, "scripts/image/build.sh");
const TAG = "localhost/pool-boy:test";
/** the Dockerfile's user */
const UID = 10001;
const USER = "pool-boy";
const MINUTE = 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 5 * MINUTE, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (error && typeof error.code !== "number" ? String(error) : "") });
      },
    );
  });
}

/** podman/buildah with the project's storage and isolation (scripts/image/env.sh). */
const tool = (args: string[], options?: { timeoutMs?: number }) => run(ENV_SH, args, options);

async function must(args: string[]): Promise<string> {
  const result = await tool(args);
  assert.equal(result.code, 0, `${args.join(" ")} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

test("the Dockerfile builds FROM the official Node 24 slim image unless told otherwise", async () => {
  const dockerfile = await readFile(join(ROOT, "Dockerfile"), "utf8");
  assert.match(dockerfile, /^ARG BASE_IMAGE=node:24-bookworm-slim$/m);
  const froms = dockerfile.match(/^FROM .*$/gm) ?? [];
  assert.ok(froms.length >= 2, "a multi-stage build");
  for (const from of froms) assert.match(from, /^FROM \$\{BASE_IMAGE\}( AS \w+)?$/);
});

const TOOLS = [PODMAN, BUILDAH, DEBOOTSTRAP];
const NOT_ROOT = process.getuid?.() === 0 ? [] : ["needs root (debootstrap, and podman's storage in /var/lib/containers; docs/image.md)"];

describe("the Docker image", needs(TOOLS, NOT_ROOT), () => {
  // In CI, needs() has added a failing test naming what is missing.
  if (missingReason(TOOLS, NOT_ROOT) !== null) return;

  let image = "";
  let container = "";
  let config: { User?: string; Entrypoint?: string[] | null } = {};

  before(
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "pool-boy-image-"));
      try {
        const iidfile = join(dir, "iid");
        const started = Date.now();
        const built = await run(BUILD_SH, ["--tag", TAG, "--iidfile", iidfile], { timeoutMs: 30 * MINUTE });
        assert.equal(built.code, 0, `scripts/image/build.sh failed (exit ${built.code}):\n${built.stderr.split("\n").slice(-60).join("\n")}`);
        image = (await readFile(iidfile, "utf8")).trim();
        const seconds = Math.round((Date.now() - started) / 1000);
        const summary = built.stderr.split("\n").find((line) => line.startsWith(`build: ${TAG} in`)) ?? "";
        console.error(`image built in ${seconds} s (${summary.replace(/^build: /, "")})`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      config = JSON.parse(await must(["podman", "image", "inspect", "--format", "{{json .Config}}", image])) as typeof config;
      // a container per run, from the image id: a concurrent run retagging TAG changes nothing here
      container = (await must(["buildah", "from", "--pull=never", "--name", `pool-boy-test-${process.pid}-${Date.now()}`, image])).trim();
    },
    { timeout: 40 * MINUTE },
  );

  after(async () => {
    if (container) await tool(["buildah", "rm", container]);
  });

  /** A command inside the image, as the image's user, with only the environment given here. */
  const inside = (command: string[], options: { env?: Record<string, string>; volumes?: string[] } = {}) =>
    tool([
      "buildah",
      "run",
      ...Object.entries(options.env ?? {}).flatMap(([key, value]) => ["--env", `${key}=${value}`]),
      ...(options.volumes ?? []).flatMap((volume) => ["--volume", volume]),
      container,
      "--",
      ...command,
    ]);

  test("the entrypoint runs pool-boy, as a non-root user", () => {
    assert.deepEqual(config.Entrypoint, ["node", "/app/bin/pool-boy.js"]);
    assert.equal(config.User, `${UID}:${UID}`);
  });

  test("pool-boy --version prints the package's version", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    const result = await inside([...(config.Entrypoint ?? []), "--version"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), version);
  });

  test("pool-boy --help, found on PATH as a Concourse task's run.path would", async () => {
    const result = await inside(["pool-boy", "--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Usage: pool-boy/);
    assert.match(result.stdout, /\bclean\b/);
    assert.match(result.stdout, /\bstatus\b/);
  });

  test("the process runs as the non-root user", async () => {
    const result = await inside(["node", "-e", "const os = require('node:os'); console.log(process.getuid(), process.getgid(), os.userInfo().username, os.homedir())"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `${UID} ${UID} ${USER} /home/${USER}`);
  });

  test("git, ssh and CA certificates are installed", async () => {
    const result = await inside(["sh", "-c", "git --version && ssh -V && test -s /etc/ssl/certs/ca-certificates.crt"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^git version /);
    assert.match(result.stderr, /OpenSSH/);
  });

  test("the image holds the built code and production dependencies only", async () => {
    const mount = (await must(["buildah", "mount", container])).trim();
    try {
      const app = join(mount, "app");
      assert.deepEqual((await readdir(app)).sort(), ["bin", "dist", "node_modules", "package.json"]);
      assert.deepEqual(await readdir(join(app, "dist")), ["src"]);
      await stat(join(app, "dist/src/cli/main.js"));

      const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
      };
      const modules = new Set(await readdir(join(app, "node_modules")));
      for (const dep of Object.keys(pkg.dependencies)) assert.ok(modules.has(dep.split("/")[0] ?? dep), `dependency ${dep} missing`);

      // anywhere under /app: no dev dependency (also not nested), no test file, no TypeScript source
      const found: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          const rel = path.slice(app.length + 1);
          const inModules = rel.startsWith("node_modules/");
          if (entry.isDirectory()) {
            if (entry.name === "typescript" || entry.name === "@types") found.push(`${rel}/ (dev dependency)`);
            else if (!inModules && ["test", "tests", "fixtures", "bench", "src"].includes(entry.name) && rel !== "dist/src") found.push(`${rel}/`);
            else await walk(path);
          } else if (!inModules && (/\.(test|spec)\.[cm]?[jt]s$/.test(entry.name) || (/\.[cm]?ts$/.test(entry.name) && !entry.name.endsWith(".d.ts")))) {
            found.push(rel);
          }
        }
      };
      await walk(app);
      assert.deepEqual(found, [], "dev dependencies, tests or sources in /app");
      for (const dev of Object.keys(pkg.devDependencies)) assert.ok(!modules.has(dev.split("/")[0] ?? dev), `dev dependency ${dev} in the image`);
    } finally {
      await tool(["buildah", "umount", container]);
    }
  });

  describe("a scheduled task's `pool-boy clean`, configured by the environment only", () => {
    let repo: PoolRepo | undefined;
    let atc: FakeAtc | undefined;
    after(async () => {
      await atc?.close();
      await repo?.cleanup();
    });

    test("releases exactly the locks whose owner build is finished", async () => {
      const password = "task-secret-pw";
      atc = await startFakeAtc({ users: [{ username: "pool-boy", password, teams: ["main"] }] });
      atc.addPipeline({ team: "main", name: "app", jobs: [{ name: "deploy" }] });
      const owners = {
        "lock-failed": atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "failed" }),
        "lock-aborted": atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "aborted" }),
        "lock-started": atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" }),
        "lock-pending": atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "pending" }),
      };
      const locks = [...Object.keys(owners), "lock-unknown", "lock-free"];
      repo = await createPoolRepo({ pools: { workers: { unclaimed: locks } } });
      const claimer = await repo.claimer();
      // pool-resource v1.0.1+ messages, as the original Pool Boy required
      for (const [lock, build] of Object.entries(owners)) await claimer.claim("workers", lock, `main/app/deploy build ${build.name} claiming: ${lock}`);
      // no owner in the message and claimed just now: under the pool's timeout, kept
      await claimer.claim("workers", "lock-unknown", "claiming: lock-unknown");
      const before = await repo.head();

      // The task's user owns the repository while it runs (as with any remote it can push to);
      // the host's git (root) wants it back afterwards.
      const owner = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
      await mustRun("chown", ["-R", `${UID}:${UID}`, repo.path]);
      let result: Run;
      try {
        result = await inside(["pool-boy", "clean"], {
          env: {
            POOL_REPO: "/pool/locks.git",
            POOLS: "workers:120",
            CONCOURSE_BASE_URL: atc.url,
            CONCOURSE_USERNAME: "pool-boy",
            CONCOURSE_PASSWORD: password,
          },
          volumes: [`${repo.path}:/pool/locks.git`],
        });
      } finally {
        await mustRun("chown", ["-R", owner, repo.path]);
      }
      const output = `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      assert.equal(result.code, 0, output);
      assert.ok(!output.includes(password), "the password shows in the output");

      const files = await filesAt(repo.path, repo.branch);
      const where = (lock: string) => (files.includes(`workers/claimed/${lock}`) ? "claimed" : files.includes(`workers/unclaimed/${lock}`) ? "unclaimed" : "gone");
      assert.deepEqual(
        Object.fromEntries(locks.map((lock) => [lock, where(lock)])),
        {
          "lock-failed": "unclaimed",
          "lock-aborted": "unclaimed",
          "lock-started": "claimed",
          "lock-pending": "claimed",
          "lock-unknown": "claimed",
          "lock-free": "unclaimed",
        },
        output,
      );
      const released = (await log(repo.path, { rev: `${before}..${repo.branch}` })).flatMap((commit) => commit.moves);
      assert.deepEqual(
        released.map((move) => `${move.from} -> ${move.to}`).sort(),
        ["workers/claimed/lock-aborted -> workers/unclaimed/lock-aborted", "workers/claimed/lock-failed -> workers/unclaimed/lock-failed"],
      );
      assert.ok(atc.requests.some((request) => request.authorized && request.path.includes("/builds/")), "pool-boy did not ask the ATC with its login");
    });
  });

  describe("the resource type: /opt/resource/check and out in the image", () => {
    let repo: PoolRepo | undefined;
    let atc: FakeAtc | undefined;
    after(async () => {
      await atc?.close();
      await repo?.cleanup();
    });

    /** A script run as Concourse runs it: the request on stdin, only JSON on stdout. */
    const script = (op: "check" | "out", request: unknown, args: string[] = []) =>
      inside(["sh", "-c", `printf '%s' "$REQUEST" | /opt/resource/${op} "$@"`, "sh", ...args], {
        env: { REQUEST: JSON.stringify(request), BUILD_TEAM_NAME: "main", BUILD_PIPELINE_NAME: "pool-boy", BUILD_JOB_NAME: "clean", BUILD_NAME: "1" },
        volumes: [`${repo!.path}:/pool/locks.git`],
      });

    test("check emits the set of locks to release; out releases them and says which", async () => {
      const password = "resource-secret-pw";
      atc = await startFakeAtc({ users: [{ username: "pool-boy", password, teams: ["main"] }] });
      atc.addPipeline({ team: "main", name: "app", jobs: [{ name: "deploy" }] });
      const failed = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "failed" });
      const started = atc.addBuild({ team: "main", pipeline: "app", job: "deploy", status: "started" });
      repo = await createPoolRepo({ pools: { workers: { unclaimed: ["lock-failed", "lock-started"] } } });
      const claimer = await repo.claimer();
      await claimer.claim("workers", "lock-failed", `main/app/deploy build ${failed.name} claiming: lock-failed`);
      await claimer.claim("workers", "lock-started", `main/app/deploy build ${started.name} claiming: lock-started`);
      const source = { uri: "/pool/locks.git", pools: "workers:2h", concourse_url: atc.url, concourse_username: "pool-boy", concourse_password: password };

      const modes = await inside(["sh", "-c", "ls -l /opt/resource"]);
      for (const op of ["check", "in", "out"]) assert.match(modes.stdout, new RegExp(`^-rwxr-xr-x .* ${op}$`, "m"), `/opt/resource/${op}`);

      const owner = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
      await mustRun("chown", ["-R", `${UID}:${UID}`, repo.path]);
      let check: Run;
      let put: Run;
      try {
        check = await script("check", { source });
        put = await script("out", { source, params: {} }, ["/tmp"]);
      } finally {
        await mustRun("chown", ["-R", owner, repo.path]);
      }
      const shown = `check exit ${check.code}\n${check.stdout}\n${check.stderr}\nout exit ${put.code}\n${put.stdout}\n${put.stderr}`;
      assert.equal(check.code, 0, shown);
      const versions = JSON.parse(check.stdout) as Array<{ set: string; releasable: string }>;
      assert.equal(versions.length, 1, shown);
      assert.equal(versions[0]!.releasable, "1");
      assert.equal(put.code, 0, shown);
      const out = JSON.parse(put.stdout) as { version: { set: string }; metadata: Array<{ name: string; value: string }> };
      assert.deepEqual(out.version, versions[0], "the put's version is the set it released");
      assert.equal(out.metadata.find((m) => m.name === "released")?.value, "1");
      assert.match(out.metadata.find((m) => m.name === "workers/lock-failed")?.value ?? "", /^finished: /);
      assert.ok(!shown.includes(password), "the password shows in the output");
      const files = await filesAt(repo.path, repo.branch);
      assert.ok(files.includes("workers/unclaimed/lock-failed") && files.includes("workers/claimed/lock-started"), files.join(", "));
    });
  });
});

async function mustRun(command: string, args: string[]): Promise<void> {
  const result = await run(command, args);
  assert.equal(result.code, 0, `${command} ${args.join(" ")}: ${result.stderr}`);
}
