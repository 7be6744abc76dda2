// No secret leaks, end to end: no Concourse password, token, deploy key or credential inside a
// repository URL shows in stdout, stderr (with or without --verbose, with --debug's stack traces),
// error messages (git's own included), files left on disk, or in the arguments of any process
// while the CLI runs.
//
// Process arguments are read from /proc/*/cmdline of every process at checkpoints where the CLI
// and its git/ssh children are alive and waiting: before the fake ATC answers (its beforeAnswer
// hook) and when git connects to the sshd or HTTPS git server (through a TCP proxy that holds each
// new connection until the checkpoint is done). On top of that, `git` and `ssh` are found on PATH
// as small shims that log every invocation's arguments and environment before running the real
// program, so even the git commands that live for a millisecond are checked; the environments of
// the run's children alive at the checkpoints are read from /proc/PID/environ as well. git's
// environment may hold only git's variables, and no secret but the repository password in the
// askpass variable.
//
// Then masking (every form of a secret; never a name in pool-boy's own data), credentials typed
// into --repo, and a run killed with SIGKILL followed by a new one.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createServer as createHttpServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { everyVerdictScenario, DEMO_USER, type Scenario } from "../support/scenario.js";
import { startSshd, type Sshd } from "../support/sshd.js";
import { startGitHttps, type GitHttps } from "../support/git-https.js";
import { filesAt } from "../support/pool-repo.js";
import { closeAll } from "../support/cleanup.js";
import { needs, GIT_HTTP_BACKEND, OPENSSL, SSH, SSH_KEYGEN, SSHD } from "../support/programs.js";
import { BIN, json, poolBoy, type CliRun } from "../support/cli.js";

// ---- secrets and where to look for them ----------------------------------------------------

interface Secret {
  /** what it is, for messages (the value itself is never printed) */
  name: string;
  value: string;
  /**
   * made for this test run: it may not appear in any process on the machine. The scenario's fixed
   * demo password is only looked for in the CLI's own processes (another program on the machine
   * may legitimately carry it, e.g. someone running the demo).
   */
  unique: boolean;
}

/** A secret in the forms it takes on its way through URLs and headers. */
function secretForms(name: string, value: string, unique: boolean, user?: string): Secret[] {
  const forms: Secret[] = [{ name, value, unique }];
  if (encodeURIComponent(value) !== value) forms.push({ name: `${name} (URL-encoded)`, value: encodeURIComponent(value), unique });
  if (user !== undefined) forms.push({ name: `${name} (as HTTP Basic)`, value: Buffer.from(`${user}:${value}`).toString("base64"), unique });
  return forms;
}

/** A private key's base64, as written by ssh-keygen (70 columns) and as the transport writes it (64). */
function keyForms(name: string, key: string): Secret[] {
  const lines = key.split("\n").map((l) => l.trim()).filter((l) => l.length >= 16 && !l.startsWith("-----"));
  const body = lines.join("");
  const folded = body.match(/.{1,64}/g) ?? [];
  return [...new Set([...lines, ...folded.filter((l) => l.length >= 16)])].map((value, i) => ({ name: `${name} (line ${i + 1})`, value, unique: true }));
}

function leaks(text: string, secrets: Secret[]): string[] {
  return secrets.filter((s) => text.includes(s.value)).map((s) => s.name);
}

function hide(text: string, secrets: Secret[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s.value).join(`<${s.name}>`);
  return out;
}

/** Every file under `dir` whose bytes hold a secret. */
async function filesWithSecrets(dir: string, secrets: Secret[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const bytes = await readFile(path);
        for (const name of leaks(bytes.toString("latin1"), secrets)) found.push(`${path}: ${name}`);
      }
    }
  };
  if (existsSync(dir)) await walk(dir);
  return found;
}

// ---- the processes of the machine ----------------------------------------------------------

/** Set in the CLI's environment, to tell the runs apart. */
const MARKER_VAR = "POOL_BOY_E2E_RUN";
/** Where the git/ssh shims log their arguments (also inherited). */
const ARGV_LOG_VAR = "POOL_BOY_E2E_ARGV_LOG";

interface Proc {
  pid: number;
  ppid: number;
  args: string;
  marker: string | null;
}

// Read synchronously: a few hundred small reads of /proc take milliseconds this way, while the
// thread pool would take far longer on a busy machine (and the CLI is held meanwhile).
function readProc(pid: string): Proc | null {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const args = cmdline.toString("utf8").split("\0").join(" ").trim();
    let marker: string | null = null;
    // Only a CLI's environment is read: its git, ssh and shells are found as its descendants.
    if (args.includes("pool-boy.js")) {
      try {
        const environ = readFileSync(`/proc/${pid}/environ`).toString("utf8").split("\0");
        marker = environ.find((v) => v.startsWith(`${MARKER_VAR}=`))?.slice(MARKER_VAR.length + 1) ?? null;
      } catch {
        // another user's process: its environment is not ours to read
      }
    }
    // stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return { pid: Number(pid), ppid, args, marker };
  } catch {
    return null; // gone meanwhile
  }
}

function allProcesses(): Proc[] {
  const pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  return pids.map(readProc).filter((p): p is Proc => p !== null);
}

/** The processes of one CLI run: the CLI (known by the marker in its environment) and its descendants. */
function runProcesses(procs: Proc[], marker: string): Proc[] {
  const mine = new Set(procs.filter((p) => p.marker === marker).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => mine.has(p.pid));
}

/** One CLI run being watched. */
interface Watch {
  marker: string;
  secrets: Secret[];
  checkpoints: number;
  /** environments of the run's child processes read from /proc while they ran */
  environs: number;
  /** arguments of the run's own processes seen at checkpoints, secrets hidden */
  seen: string[];
  violations: string[];
}

/** The runs under way (the tests run a few at once). */
const active = new Set<Watch>();

/** Read every process's arguments now, and hold each running CLI's secrets against them. */
async function checkpoint(): Promise<void> {
  if (active.size === 0) return;
  const watches = [...active];
  const procs = allProcesses();
  for (const watch of watches) {
    watch.checkpoints++;
    const mine = new Set(runProcesses(procs, watch.marker).map((p) => p.pid));
    for (const p of procs) {
      const ours = mine.has(p.pid);
      const found = leaks(p.args, watch.secrets.filter((s) => s.unique || ours));
      if (found.length > 0) watch.violations.push(`pid ${p.pid}${ours ? " (of this run)" : ""} has ${found.join(", ")} in its arguments: ${hide(p.args, watch.secrets)}`);
      if (ours) watch.seen.push(hide(p.args, watch.secrets));
      if (ours && p.marker === null) {
        let environ: string;
        try {
          environ = readFileSync(`/proc/${p.pid}/environ`).toString("utf8").split("\0").join("\n");
        } catch {
          continue; // gone meanwhile
        }
        watch.environs++;
        for (const problem of environProblems(environ, watch.secrets)) watch.violations.push(`pid ${p.pid} (${hide(p.args, watch.secrets)}) has ${problem} in its environment`);
      }
    }
  }
}

/** A TCP proxy to 127.0.0.1:target that holds each new connection until `hold` resolves. */
async function holdingProxy(target: number, hold: () => Promise<void>): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    client.pause();
    track(client);
    void hold()
      .catch(() => undefined)
      .then(() => {
        if (client.destroyed) return;
        const upstream = connect(target, "127.0.0.1");
        track(upstream);
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---- the world --------------------------------------------------------------------------------

/**
 * A shim for `program` that logs its arguments and its whole environment, then runs the real
 * program. git's environment is an allowlist, so the log's path cannot be inherited: the shim
 * finds it in the environment of the nearest ancestor that has it (the CLI).
 */
function shim(program: string, real: string): string {
  return `#!/bin/sh
log=/dev/null
p=$$
while [ "$p" -gt 1 ] 2>/dev/null; do
  found=$(tr '\\0' '\\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^${ARGV_LOG_VAR}=//p')
  if [ -n "$found" ]; then log=$found; break; fi
  p=$(sed 's/.*) [A-Za-z] \\([0-9]*\\).*/\\1/' "/proc/$p/stat" 2>/dev/null || echo 0)
done
{ printf '%s' ${program}; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; } >>"$log"
if [ "$log" != /dev/null ]; then { printf '== ${program}\\n'; tr '\\0' '\\n' <"/proc/$$/environ"; } >>"$log.environ"; fi
exec ${real} "$@"
`;
}

/** What a git, ssh or helper process may find in its environment, by name. */
const GIT_ENV_NAME =
  /^(PATH|HOME|USER|LOGNAME|TMPDIR|TZ|LANG|LC_[A-Z_]+|PWD|OLDPWD|SHLVL|_|[a-z_]*proxy|[A-Z_]*PROXY|SSL_CERT_(FILE|DIR)|CURL_CA_BUNDLE|XDG_CONFIG_HOME|GIT_[A-Z0-9_]+|POOL_BOY_GIT_(USERNAME|PASSWORD)|SSH_AUTH_SOCK)$/;

/**
 * What is wrong with one environment of a git child: a secret in it (the repository's password
 * only in the askpass variable), or a variable that is not git's (CONCOURSE_*, POOL_REPO_*, …).
 */
function environProblems(environ: string, secrets: Secret[]): string[] {
  const lines = environ.split("\n").filter((l) => l !== "" && !l.startsWith("== "));
  const problems: string[] = [];
  for (const line of lines) {
    const name = line.slice(0, Math.max(0, line.indexOf("=")));
    if (!GIT_ENV_NAME.test(name)) problems.push(`variable ${name || line.slice(0, 20)}`);
    if (name === "POOL_BOY_GIT_PASSWORD" || name === "POOL_BOY_GIT_USERNAME") continue;
    for (const found of leaks(line, secrets)) problems.push(`${found} in ${name}`);
  }
  return problems;
}

let s: Scenario;
let sshd: Sshd;
let https: GitHttps;
let sshProxy: { port: number; close(): Promise<void> };
let httpsProxy: { port: number; close(): Promise<void> };
let scratch: string;
let shims: string;

const hex = (n: number) => randomBytes(n).toString("hex");
/** An HTTPS git password with characters that must be percent-encoded inside a URL. */
const GIT_USER = "deployer";
const GIT_PASSWORD = `s3cr3t@${hex(6)}/pw`;
const WRONG_PASSWORD = `wrong-${hex(8)}`;

const requirement = needs([SSHD, SSH, SSH_KEYGEN, OPENSSL, GIT_HTTP_BACKEND]);

before(async () => {
  if (!requirement.ready()) return;
  scratch = await mkdtemp(join(tmpdir(), "pool-boy-e2e-secrets-"));
  s = await everyVerdictScenario();
  // One at a time, each kept as soon as it runs: when one fails to start, `after` closes the others.
  sshd = await startSshd({ repos: s.repo.root });
  https = await startGitHttps({ repos: s.repo.root, credentials: { user: GIT_USER, password: GIT_PASSWORD } });
  // Every connection to a git server waits for a checkpoint: git, git-remote-https or ssh (and
  // the shell git runs ssh with) are alive then, with their arguments.
  sshProxy = await holdingProxy(sshd.port, checkpoint);
  httpsProxy = await holdingProxy(https.port, checkpoint);
  // A run's first API request comes while its git sync runs alongside the login.
  s.atc.beforeAnswer = async (path) => {
    if (path === "/api/v1/info") await checkpoint();
  };

  // git and ssh on PATH log their arguments, then run the real programs.
  shims = join(scratch, "bin");
  await mkdir(shims);
  for (const program of ["git", "ssh"]) {
    const real = execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim();
    assert.ok(real.startsWith("/"), `${program} is installed`);
    await writeFile(
      join(shims, program),
      shim(program, real),
      { mode: 0o755 },
    );
  }
});

after(async () => {
  if (s) s.atc.beforeAnswer = null;
  await closeAll(
    () => sshProxy?.close(),
    () => httpsProxy?.close(),
    () => sshd?.close(),
    () => https?.close(),
    () => s?.cleanup(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  );
});

// Repository settings through the proxies, so that every connection is a checkpoint. The branch
// is given, as in the task (one connection less than asking the remote for its default branch).
function sshRepo(): Record<string, string> {
  const hostKey = sshd.hostKeyLine.split(" ").slice(1).join(" ");
  return {
    POOL_REPO: sshd.url("pool.git").replace(`:${sshd.port}/`, `:${sshProxy.port}/`),
    POOL_REPO_BRANCH: s.repo.branch,
    POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey,
    POOL_REPO_SSH_KNOWN_HOSTS: `[127.0.0.1]:${sshProxy.port} ${hostKey}`,
  };
}
function httpsUrl(credentials: string | null): string {
  return `https://${credentials === null ? "" : `${credentials}@`}127.0.0.1:${httpsProxy.port}/pool.git`;
}
function httpsRepo(credentials: string | null, extra: Record<string, string> = {}): Record<string, string> {
  return { POOL_REPO: httpsUrl(credentials), POOL_REPO_BRANCH: s.repo.branch, GIT_SSL_CAINFO: https.caFile, ...extra };
}
const urlCredentials = (password: string) => `${GIT_USER}:${encodeURIComponent(password)}`;

function apiEnv(auth: "password" | "none" | Record<string, string>): Record<string, string> {
  const env = { ...s.env };
  delete env.CONCOURSE_USERNAME;
  delete env.CONCOURSE_PASSWORD;
  if (auth === "none") delete env.CONCOURSE_BASE_URL;
  else if (auth === "password") Object.assign(env, { CONCOURSE_USERNAME: DEMO_USER.username, CONCOURSE_PASSWORD: DEMO_USER.password });
  else Object.assign(env, auth);
  return env;
}

/** Every secret a run may hold; looking for all of them in every run costs nothing. */
function everySecret(extra: Secret[] = []): Secret[] {
  return [
    ...secretForms("the Concourse password", DEMO_USER.password, false, DEMO_USER.username),
    ...secretForms("the wrong Concourse password", WRONG_PASSWORD, true, DEMO_USER.username),
    ...secretForms("the git password", GIT_PASSWORD, true, GIT_USER),
    ...secretForms("the wrong git password", `${GIT_PASSWORD}-x`, true, GIT_USER),
    ...keyForms("the deploy key", sshd.clientKey),
    ...extra,
  ];
}

interface Expect {
  code: number;
  /** what the run talks to: the checkpoints must have seen a process doing it */
  via: "ssh" | "https" | "none";
  stderr?: RegExp;
}

/** Run the CLI under watch and check every place a secret could show. */
async function watched(args: string[], env: Record<string, string>, secrets: Secret[], expect: Expect): Promise<CliRun> {
  const watch: Watch = { marker: hex(8), secrets, checkpoints: 0, environs: 0, seen: [], violations: [] };
  const argvLog = join(scratch, `argv-${watch.marker}.log`);
  active.add(watch);
  const run = await poolBoy(args, {
    ...env,
    PATH: `${shims}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    [MARKER_VAR]: watch.marker,
    [ARGV_LOG_VAR]: argvLog,
  }).finally(() => {
    active.delete(watch);
  });
  const shown = `exit ${run.code}\nstdout:\n${hide(run.stdout, secrets)}\nstderr:\n${hide(run.stderr, secrets)}`;
  assert.equal(run.code, expect.code, shown);
  if (expect.stderr) assert.match(run.stderr, expect.stderr, shown);
  assert.deepEqual(leaks(run.stdout, secrets), [], `a secret on stdout:\n${shown}`);
  assert.deepEqual(leaks(run.stderr, secrets), [], `a secret on stderr:\n${shown}`);
  assert.doesNotMatch(run.stdout + run.stderr, /\b(Bearer|Basic) [A-Za-z0-9+/=._~-]{8,}/, "no authorization header value");

  assert.deepEqual(watch.violations, [], "a secret in a process's arguments or environment");
  if (expect.via !== "none") {
    assert.ok(watch.checkpoints > 0, "the run was looked at while it ran");
    assert.ok(watch.seen.some((args) => args.includes("pool-boy.js")), `the checkpoints saw the CLI:\n${watch.seen.join("\n")}`);
    const talking = expect.via === "ssh" ? /(^|\/| )ssh .*127\.0\.0\.1/ : /git-remote-https|remote-https/;
    assert.ok(watch.seen.some((args) => talking.test(args)), `the checkpoints saw git talking ${expect.via}:\n${watch.seen.join("\n")}`);

    const argv = await readFile(argvLog, "utf8").catch(() => "");
    assert.match(argv, /^git /m, "the git shim saw the run's git commands");
    if (expect.via === "ssh") assert.match(argv, /^ssh /m, "the ssh shim saw the run's ssh commands");
    assert.deepEqual(leaks(argv, secrets), [], `a secret in git's or ssh's arguments:\n${hide(argv, secrets)}`);
    assert.doesNotMatch(argv, /https:\/\/[^\s/@]+@/, `no credentials inside a URL in git's arguments:\n${hide(argv, secrets)}`);

    // git's environment, as each git and ssh process started with it, and as /proc showed it
    // for the children alive at the checkpoints (git-remote-https, ssh, the shell between them)
    assert.ok(watch.environs > 0, "the checkpoints read the environment of the run's git children");
    const environs = await readFile(`${argvLog}.environ`, "utf8").catch(() => "");
    assert.match(environs, /^== git$/m, "the git shim logged git's environment");
    const problems = environs.split(/^(?=== )/m).flatMap((block) => environProblems(block, secrets));
    assert.deepEqual(problems, [], `git's environment holds more than git needs:\n${hide(environs, secrets)}`);
    assert.doesNotMatch(environs, /^(CONCOURSE_|POOL_REPO_|POOL_BOY_E2E)/m);
  }
  return run;
}

// ---- the paths ----------------------------------------------------------------------------------

// A few runs at once: each is slow mostly because it waits (git over the network, the API).
describe("no secret in output, logs, errors, files or process arguments", { concurrency: 2, ...requirement }, () => {
  test("login ok, HTTPS credentials inside the URL: clean pushes over HTTPS, then status --verbose", async () => {
    const cacheDir = join(scratch, "cache");
    const env: Record<string, string> = { ...apiEnv("password"), ...httpsRepo(urlCredentials(GIT_PASSWORD)), POOL_BOY_CACHE_DIR: cacheDir };
    const secrets = everySecret();
    // Without a branch: git asks the remote for its default branch first (ls-remote).
    const noBranch = { ...env };
    delete noBranch.POOL_REPO_BRANCH;
    const clean = await watched(["clean"], noBranch, secrets, { code: 0, via: "https" });
    assert.match(clean.stdout, /pushed 3 commits\./, "the push went through with the URL's credentials");
    const files = await filesAt(s.repo.path, "HEAD");
    assert.ok(files.includes("aws/unclaimed/env-2") && files.includes("gcp/unclaimed/vm-3"));

    const status = await watched(["status", "--verbose"], env, secrets, { code: 0, via: "https", stderr: /^pool-boy: synced https:\/\/(\*\*\*@)?127\.0\.0\.1:\d+\/pool\.git /m });
    assert.match(status.stderr, /fetching .* into the cache/);
    assert.ok(https.attempts.some((a) => a.ok && a.user === GIT_USER), "the server saw the credentials");

    assert.deepEqual(await filesWithSecrets(cacheDir, secrets), [], "the cache holds no secret (no URL with credentials in its config)");
    assert.deepEqual(await filesWithSecrets(s.home, secrets), [], "HOME holds no secret (no .git-credentials)");
  });

  test("login ok with CONCOURSE_TOKEN, the deploy key over ssh: status, then status --verbose", async () => {
    const token = s.atc.issueToken(DEMO_USER.username);
    const env = { ...apiEnv({ CONCOURSE_TOKEN: token }), ...sshRepo() };
    const secrets = everySecret(secretForms("the Concourse token", token, true));
    await watched(["status"], env, secrets, { code: 0, via: "ssh", stderr: /^$/ });
    await watched(["status", "--verbose"], env, secrets, { code: 0, via: "ssh", stderr: /^pool-boy: synced ssh:\/\//m });
    assert.deepEqual(await filesWithSecrets(s.home, secrets), [], "HOME holds no secret");
  });

  test("login refused: the wrong password, with ssh and with HTTPS credentials from POOL_REPO_USERNAME/PASSWORD", async () => {
    const secrets = everySecret();
    const refused = /^pool-boy: .*(refused|Invalid username or password)/m;
    const wrong = { CONCOURSE_USERNAME: DEMO_USER.username, CONCOURSE_PASSWORD: WRONG_PASSWORD };
    await watched(["status"], { ...apiEnv(wrong), ...sshRepo() }, secrets, { code: 3, via: "ssh", stderr: refused });
    await watched(
      ["status", "--verbose", "--debug"],
      { ...apiEnv(wrong), ...httpsRepo(null, { POOL_REPO_USERNAME: GIT_USER, POOL_REPO_PASSWORD: GIT_PASSWORD }) },
      secrets,
      { code: 3, via: "https", stderr: refused },
    );
  });

  test("git refuses the HTTPS credentials inside the URL: git's own message, with and without --verbose --debug", async () => {
    const env = { ...apiEnv("password"), ...httpsRepo(urlCredentials(`${GIT_PASSWORD}-x`)) };
    const secrets = everySecret();
    const refused = /refused the credentials \(authentication failed\)/;
    await watched(["status"], env, secrets, { code: 3, via: "https", stderr: refused });
    const debug = await watched(["status", "--verbose", "--debug"], env, secrets, { code: 3, via: "https", stderr: refused });
    assert.match(debug.stderr, /fatal: Authentication failed for 'https:\/\/127\.0\.0\.1:\d+\/pool\.git\/'/, "git's own message, without credentials");
  });

  test("a ~/.flyrc token refused: expired (never sent), and revoked (refused by Concourse)", async () => {
    const home = await mkdtemp(join(scratch, "home-"));
    const flyrc = (token: string) => `targets:\n  ci:\n    api: ${s.atc.url}\n    team: main\n    token:\n      type: bearer\n      value: ${token}\n`;
    const base = { ...apiEnv("none"), HOME: home };

    const expired = s.atc.issueToken(DEMO_USER.username, { lifetimeSeconds: -60 });
    await writeFile(join(home, ".flyrc"), flyrc(expired));
    await watched(["status", "--target", "ci"], { ...base, ...sshRepo() }, everySecret(secretForms("the expired token", expired, true)), {
      code: 3,
      via: "ssh",
      stderr: /expired .*\n.*fly -t ci login/,
    });

    // Unknown to Concourse, though its own expiry time (inside the token) is still ahead.
    const issued = s.atc.issueToken(DEMO_USER.username);
    const revoked = `${issued.startsWith("A") ? "B" : "A"}${issued.slice(1)}`;
    await writeFile(join(home, ".flyrc"), flyrc(revoked));
    const secrets = everySecret(secretForms("the revoked token", revoked, true));
    await watched(["status", "--target", "ci", "--verbose", "--debug"], { ...base, ...httpsRepo(urlCredentials(GIT_PASSWORD)) }, secrets, {
      code: 3,
      via: "https",
      stderr: /refused the token from ~\/\.flyrc target ci/,
    });
    assert.deepEqual(await filesWithSecrets(home, secrets.filter((x) => !x.name.startsWith("the revoked token"))), [], "nothing was written to HOME");
  });

  test("a damaged deploy key: the error never quotes it", async () => {
    const key = sshd.clientKey.replace(/^([A-Za-z0-9+/]{20})/m, "$1!!");
    const env = { ...apiEnv("password"), ...sshRepo(), POOL_REPO_SSH_PRIVATE_KEY: key };
    await watched(["status", "--verbose", "--debug"], env, [...everySecret(), ...keyForms("the damaged key", key)], {
      code: 2,
      via: "none",
      stderr: /POOL_REPO_SSH_PRIVATE_KEY: is damaged/,
    });
  });

  test(
    "a token given as the user name of an HTTPS URL (https://TOKEN@host/…) stays out of git's arguments",
    async () => {
      const token = `ghp_${hex(12)}`;
      await watched(["status"], { ...apiEnv("none"), ...httpsRepo(token) }, [...everySecret(), ...secretForms("the URL token", token, true)], {
        code: 3,
        via: "https",
      });
    },
  );
});

// ---- masking: every form, and never a reveal ---------------------------------------------------

/** A value in every form it takes on its way through URLs, forms, JSON and headers. */
function everyForm(name: string, value: string, user?: string): Secret[] {
  const percentAll = encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const json = JSON.stringify(value).slice(1, -1);
  const forms: Array<[string, string]> = [
    ["raw", value],
    ["URL-encoded", encodeURIComponent(value)],
    ["percent-encoded", percentAll],
    ["form-encoded", new URLSearchParams({ v: value }).toString().slice(2)],
    ["form-encoded (encodeURIComponent)", encodeURIComponent(value).replace(/%20/g, "+")],
    ["JSON-escaped", json],
    ["JSON-escaped, ASCII only", json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)],
    ...(user === undefined ? [] : ([["in a Basic header", Buffer.from(`${user}:${value}`).toString("base64")]] as Array<[string, string]>)),
  ];
  return [...new Map(forms.map(([form, v]) => [v, { name: `${name} (${form})`, value: v, unique: true }])).values()];
}

/** A Concourse stand-in whose login endpoints quote the posted form back in their errors. */
async function echoingAtc(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      };
      if (req.method === "GET" && req.url === "/api/v1/info") return send(200, { version: "7.11.2" });
      const form = new URLSearchParams(body);
      const quoted = `posted ${body}; password ${JSON.stringify(form.get("password"))}; header ${req.headers.authorization ?? ""}; raw ${form.get("password") ?? ""}`;
      // the issuer refuses with the form in its description, /sky/token with it in the error
      if (req.url === "/sky/issuer/token") return send(401, { error: "access_denied", error_description: `Invalid credentials: ${quoted}` });
      if (req.url === "/sky/token") return send(400, { error: `invalid_request ${quoted}` });
      send(404, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("masking: every form of a secret, and never a reveal", { ...requirement }, () => {
  test("a login endpoint that echoes the posted form: summarised, no form of the password shown", async () => {
    const atc = await echoingAtc();
    try {
      const password = `pa ss"wo\\rd!é/${hex(4)}`;
      const user = "echo-user";
      const secrets = everyForm("the password", password, user);
      for (const args of [["status"], ["status", "--verbose", "--debug"]]) {
        const run = await poolBoy(args, { ...s.env, CONCOURSE_BASE_URL: atc.url, CONCOURSE_USERNAME: user, CONCOURSE_PASSWORD: password });
        const shown = `exit ${run.code}\n${hide(run.stdout + run.stderr, secrets)}`;
        assert.equal(run.code, 3, shown);
        assert.match(run.stderr, /refused the login of "echo-user": \(the answer quotes the login form back; not shown\)/, shown);
        assert.deepEqual(leaks(run.stdout + run.stderr, secrets), [], shown);
      }
    } finally {
      await atc.close();
    }
  });

  test("a password that is an ordinary word: the job of that name is shown as it is", async () => {
    const user = { username: `word-${hex(3)}`, password: "deploy", teams: ["main"] };
    s.atc.addUser(user);
    const env = { ...s.env, CONCOURSE_USERNAME: user.username, CONCOURSE_PASSWORD: user.password, POOL_REPO_PASSWORD: "provision" };
    const table = await poolBoy(["status"], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /deploy #1/, `the job deploy is shown by its name:\n${table.stdout}`);
    assert.doesNotMatch(table.stdout + table.stderr, /\*\*\*/, "nothing was masked");
    const report = json(await poolBoy(["status", "--json"], env));
    const owners = report.locks.map((l) => JSON.stringify(l.owner ?? {}));
    assert.ok(owners.some((o) => o.includes('"job":"deploy"')), owners.join("\n"));
    assert.ok(owners.some((o) => o.includes('"job":"provision"')), owners.join("\n"));

    // the same run with a password no name could be: masked wherever it shows (here: nowhere)
    const strong = await poolBoy(["status"], { ...env, POOL_REPO_PASSWORD: `x!${hex(8)}` });
    assert.equal(strong.code, 0, strong.stderr);
    assert.match(strong.stdout, /deploy #1/);
  });

  test("a one-word password quoted in an API answer is masked there, and only there", async () => {
    const user = { username: `quote-${hex(3)}`, password: "sesame", teams: ["main"] };
    s.atc.addUser(user);
    // the answer for deploy #1 (a 502 from something in front of the ATC) quotes the password
    s.atc.inject({ kind: "status", status: 502, body: `upstream refused user ${user.username} with password sesame` }, { times: 2, path: "/jobs/deploy/builds/1" });
    const run = await poolBoy(["status", "--json"], { ...s.env, CONCOURSE_USERNAME: user.username, CONCOURSE_PASSWORD: user.password });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout + run.stderr, /sesame/, "the quoted password is masked");
    assert.match(run.stdout, /upstream refused user quote-\w+ with password \*\*\*/, "the answer's own words stay");
    assert.match(run.stdout, /"job": "deploy"/, "pool-boy's own data is left alone");
  });

  test("credentials typed into --repo are refused like --password, with the fix", async () => {
    const token = `ghp_${hex(10)}`;
    const cases: Array<[string, string]> = [
      ["user and token", `https://bot:${token}@git.example.com/locks.git`],
      ["a token as the user", `https://${token}@git.example.com/locks.git`],
      ["an ssh password", `ssh://git:${token}@git.example.com/locks.git`],
    ];
    for (const [what, url] of cases) {
      const run = await poolBoy(["status", "--repo", url, "--pools", "aws:2h"], { HOME: s.home });
      assert.equal(run.code, 2, `${what}: ${run.stderr}`);
      assert.match(run.stderr, /--repo: credentials inside the repository URL are not accepted on the command line/, what);
      assert.match(run.stderr, /POOL_REPO in the environment, or the credentials in POOL_REPO_USERNAME\/POOL_REPO_PASSWORD/, what);
      assert.ok(!run.stderr.includes(token) && !run.stdout.includes(token), `${what}: the token is not shown`);
    }
    // a user name that is only a user name (the password comes from the environment) is fine
    const named = await poolBoy(["status", "--repo", `https://bot@127.0.0.1:1/locks.git`, "--pools", "aws:2h"], { HOME: s.home, POOL_REPO_PASSWORD: token });
    assert.notEqual(named.code, 2, named.stderr);
    assert.ok(!named.stderr.includes(token));
  });
});

// ---- a killed run ---------------------------------------------------------------------------------

/** Files named like the deploy key under `dir`. */
function keyFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith("pool-boy-"))
    .flatMap((name) => {
      try {
        return readdirSync(join(dir, name)).filter((f) => f === "id_pool_boy").map((f) => join(dir, name, f));
      } catch {
        return [];
      }
    });
}

/** Start the CLI in its own process group, against an ssh server that never answers. */
function hangingRun(env: Record<string, string>): { pid: number; exited: Promise<void> } {
  const child = spawn(process.execPath, [BIN, "status"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env }, stdio: "ignore", detached: true });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { pid: child.pid ?? 0, exited };
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a killed run leaves no key behind", { ...requirement }, () => {
  test("SIGKILL mid-run, then a new run: the dead run's key is removed, a live run's is not", async () => {
    const tmp = await mkdtemp(join(scratch, "tmp-"));
    // accepts, never answers: ssh waits for the server's banner with the key on disk
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
    const port = (silent.address() as { port: number }).port;
    const held = new Set<number>();
    try {
      const env = {
        ...apiEnv("none"),
        TMPDIR: tmp,
        POOL_REPO: `ssh://git@127.0.0.1:${port}/pool.git`,
        POOL_REPO_BRANCH: s.repo.branch,
        POOL_REPO_SSH_PRIVATE_KEY: sshd.clientKey,
        POOL_REPO_SSH_KNOWN_HOSTS: `[127.0.0.1]:${port} ${sshd.hostKeyLine.split(" ").slice(1).join(" ")}`,
      };
      // a run still under way, whose key must survive the others' sweeps
      const alive = hangingRun(env);
      held.add(alive.pid);
      await until("the live run's deploy key", () => keyFiles(tmp).length === 1);
      const [liveKey] = keyFiles(tmp);

      const doomed = hangingRun(env);
      held.add(doomed.pid);
      await until("the second run's deploy key", () => keyFiles(tmp).length === 2);
      const deadKey = keyFiles(tmp).find((k) => k !== liveKey);
      process.kill(-doomed.pid, "SIGKILL");
      await doomed.exited;
      held.delete(doomed.pid);
      assert.ok(deadKey && existsSync(deadKey), "SIGKILL left the key behind (nothing could remove it)");

      const next = await poolBoy(["status", "--verbose"], { ...apiEnv("none"), TMPDIR: tmp });
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stderr, /removed .*pool-boy-\S+, left behind by a pool-boy run that was killed/);
      assert.ok(!existsSync(deadKey), "the dead run's key is gone");
      assert.ok(liveKey && existsSync(liveKey), "the live run's key is left alone");
      assert.deepEqual(keyFiles(tmp), [liveKey]);
      process.kill(-alive.pid, "SIGKILL");
      await alive.exited;
      held.delete(alive.pid);
    } finally {
      for (const pid of held) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
