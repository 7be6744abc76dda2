// `npm run bench`: pool-boy on a big pool repository, against the floor measured on the same
// machine in the same run.
//
//   npm run bench                       # 20 pools x 50 locks, 100,000 commits, 500 claimed, API 20 ms
//   npm run bench -- --commits 10000    # a quick run
//   options: --commits N --pools N --locks N (per pool) --claimed N --latency MS --oldest F (0..1,
//            where in the history the oldest claim is) --new N (commits added before each warm
//            run) --repeat N (rounds; the best of them counts, default 3) --seed N --keep (leave
//            the work directory)
//
// What it does: generates the repository with one `git fast-import` (and registers the claims'
// builds in the fake ATC, which answers with the given latency) and serves it with `git daemon`
// on 127.0.0.1, so that the server's side of a fetch (upload-pack, pack-objects) runs apart from
// pool-boy, as it would on a git server. Then it runs the built CLI as a user would, in rounds:
// `status --json` cold with a temporary clone, cold into an empty --cache-dir, warm after new
// commits, warm with nothing new; and finally one `clean`, then a run on a damaged cache and one on
// a cache of another repository (both must be rebuilt). Each run is timed, runs under GNU time
// (peak RSS of the largest process: node or one of its git processes) and a wrapper that reports
// node's own peak RSS, with a `git` shim first on PATH that logs every git process the CLI starts.
// The floor, measured in each round too: a plain clone, a history walk from the head back to the
// oldest claim (one `git log` over the pools' claimed/ folders), and the API requests the run
// made, replayed at 16 in flight. On a shared machine timings wander, so each figure is the best
// of the rounds (the least disturbed). It prints a table and PASS/FAIL for each goal, and exits 1
// on a FAIL.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeAtc, type FakeAtc } from "../test/support/atc-server.js";
import { appendChurn, generateRepo, type GeneratedRepo } from "./generate.js";

const BIN = fileURLToPath(new URL("../../bin/pool-boy.js", import.meta.url));
const RSS_WRAPPER = fileURLToPath(new URL("./rss.js", import.meta.url));
const GNU_TIME = "/usr/bin/time";
const USER = { username: "pool-boy", password: "bench-password-1", teams: ["main"] };
const MB = 1024 * 1024;

// ---- the goals ----
const FLOOR_FACTOR = 3;
const RSS_LIMIT_MB = 200;
/** git processes per run, whatever the number of locks (a clean adds its ls-tree, fast-import and push) */
const GIT_PROCESS_LIMIT = 12;
/** a warm run's wall time as a share of the cold run's */
const WARM_SHARE = 0.5;

interface Args {
  commits: number;
  pools: number;
  locks: number;
  claimed: number;
  latency: number;
  oldest: number;
  fresh: number;
  seed: number;
  repeat: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { commits: 100_000, pools: 20, locks: 50, claimed: 500, latency: 20, oldest: 0.1, fresh: 50, seed: 42, repeat: 3, keep: false };
  const numeric: Record<string, keyof Args> = { commits: "commits", pools: "pools", locks: "locks", claimed: "claimed", latency: "latency", oldest: "oldest", new: "fresh", seed: "seed", repeat: "repeat" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const [flag = "", inline] = arg.split("=", 2);
    const name = flag.replace(/^--/, "");
    if (name === "keep") {
      args.keep = true;
      continue;
    }
    const key = numeric[name];
    const value = Number(inline ?? argv[++i]);
    if (!key || !flag.startsWith("--") || !Number.isFinite(value) || value < 0) {
      process.stderr.write(`bench: bad option ${arg}\n(options: --commits --pools --locks --claimed --latency --oldest --new --repeat --seed --keep)\n`);
      process.exit(2);
    }
    (args as unknown as Record<string, number>)[key] = value;
  }
  args.repeat = Math.max(1, Math.floor(args.repeat));
  return args;
}

// ---- processes ----

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function exec(command: string, args: string[], options: { cwd?: string; env: Record<string, string>; discardStdout?: boolean }): Promise<Exec & { bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (!options.discardStdout) out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        bytes,
      }),
    );
  });
}

async function mustExec(command: string, args: string[], options: { cwd?: string; env: Record<string, string>; discardStdout?: boolean }): Promise<Exec & { bytes: number }> {
  const result = await exec(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  return result;
}

// ---- the CLI under measurement ----

interface Measured {
  label: string;
  ms: number;
  /** the largest process of the run (GNU time), null without GNU time */
  rssKb: number | null;
  /** node's own */
  nodeRssKb: number | null;
  git: number;
  gitBreakdown: string;
  requests: number;
  apiRequests: string[];
  maxInFlight: number;
  locks: number;
  released: number;
  code: number;
  stderr: string;
}

interface Harness {
  env: Record<string, string>;
  gitLog: string;
  rssFile: string;
  nodeRssFile: string;
  atc: FakeAtc;
}

async function makeHarness(work: string, env: Record<string, string>, atc: FakeAtc): Promise<Harness> {
  const bin = join(work, "shim");
  const gitLog = join(work, "git-processes.log");
  await mkdir(bin, { recursive: true });
  const realGit = (await mustExec("sh", ["-c", "command -v git"], { env })).stdout.trim();
  // Logs each git process (its subcommand) and becomes the real git: a count of real processes.
  await writeFile(join(bin, "git"), `#!/bin/sh\necho "$1" >> '${gitLog}'\nexec '${realGit}' "$@"\n`);
  await chmod(join(bin, "git"), 0o755);
  return { env: { ...env, PATH: `${bin}:${env.PATH ?? "/usr/bin:/bin"}` }, gitLog, rssFile: join(work, "rss.txt"), nodeRssFile: join(work, "node-rss.txt"), atc };
}

const API_REQUEST = /^\/api\/v1\/(?!info$|user$)/;

async function measure(h: Harness, label: string, args: string[]): Promise<Measured> {
  await writeFile(h.gitLog, "");
  await rm(h.rssFile, { force: true });
  await rm(h.nodeRssFile, { force: true });
  h.atc.clearRecords();
  const cli = [process.execPath, RSS_WRAPPER, h.nodeRssFile, BIN, ...args];
  const [command, ...argv] = existsSync(GNU_TIME) ? [GNU_TIME, "-f", "%M", "-o", h.rssFile, ...cli] : cli;
  const run = await exec(command as string, argv, { env: h.env });
  if (run.code !== 0) throw new Error(`pool-boy ${args.join(" ")} exited ${run.code}:\n${run.stderr}`);
  const kb = async (file: string) => {
    const n = Number.parseInt(((await readFile(file, "utf8").catch(() => "")).trim().split("\n").pop() ?? ""), 10);
    return Number.isFinite(n) ? n : null;
  };
  const gitLines = (await readFile(h.gitLog, "utf8")).split("\n").filter(Boolean);
  const counts = new Map<string, number>();
  for (const sub of gitLines) counts.set(sub, (counts.get(sub) ?? 0) + 1);
  const report = JSON.parse(run.stdout) as { locks: unknown[]; released?: unknown[] };
  const requests = h.atc.requests;
  return {
    label,
    ms: run.ms,
    rssKb: await kb(h.rssFile),
    nodeRssKb: await kb(h.nodeRssFile),
    git: gitLines.length,
    gitBreakdown: [...counts].map(([sub, n]) => (n > 1 ? `${sub}×${n}` : sub)).join(", "),
    requests: requests.length,
    apiRequests: requests.filter((r) => API_REQUEST.test(r.path.split("?")[0] ?? "")).map((r) => r.path),
    maxInFlight: h.atc.maxInFlight,
    locks: report.locks.length,
    released: report.released?.length ?? 0,
    code: run.code,
    stderr: run.stderr,
  };
}

/** The best of several measurements of the same run: the least disturbed one, with the worst memory. */
function best(runs: Measured[]): Measured & { all: number[] } {
  const fastest = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const most = (pick: (m: Measured) => number | null) => runs.reduce<number | null>((acc, m) => (pick(m) === null ? acc : Math.max(acc ?? 0, pick(m) as number)), null);
  return { ...fastest, rssKb: most((m) => m.rssKb), nodeRssKb: most((m) => m.nodeRssKb), git: Math.max(...runs.map((m) => m.git)), all: runs.map((m) => m.ms) };
}

// ---- serving the repository ----

/** `git daemon` on 127.0.0.1 serving `base` (pushes too, for the clean run); resolves its git:// base URL and a stop function. */
async function serve(base: string, env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port: p } = probe.address() as AddressInfo;
      probe.close(() => resolve(p));
    });
  });
  const daemon = spawn("git", ["daemon", "--reuseaddr", "--export-all", `--base-path=${base}`, "--listen=127.0.0.1", `--port=${port}`, "--informative-errors", "--enable=receive-pack", base], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  daemon.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const url = `git://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if ((await exec("git", ["ls-remote", `${url}/pool.git`, "HEAD"], { env })).code === 0) break;
    if (i > 100 || daemon.exitCode !== null) throw new Error(`git daemon did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (daemon.exitCode !== null) return resolve();
        daemon.once("close", () => resolve());
        daemon.kill("SIGTERM");
      }),
  };
}

// ---- the floor ----

interface Floor {
  cloneMs: number;
  walkMs: number;
  walkCommits: number;
  apiMs: number;
  apiRequests: number;
  total: number;
}

async function measureFloor(work: string, env: Record<string, string>, url: string, repo: GeneratedRepo, atc: FakeAtc, paths: string[], concurrency: number): Promise<Floor> {
  const dir = join(work, "floor.git");
  await rm(dir, { recursive: true, force: true });
  // A plain clone of the one branch, from the same server.
  const clone = await mustExec("git", ["clone", "--bare", "--single-branch", "--no-tags", "--quiet", url, dir], { env });
  // The history walk back to the oldest claim: the same kind of log the scan needs, read to the end.
  const walk = await mustExec(
    "git",
    [
      "log",
      "--no-renames",
      "--name-status",
      "-z",
      "--format=%H%x00%ct%x00%B%x00",
      `${repo.oldestClaim.sha}^..refs/heads/${repo.branch}`,
      "--",
      ...repo.pools.map((p) => `:(literal)${p}/claimed/`),
    ],
    { env: { ...env, GIT_DIR: dir }, discardStdout: true },
  );
  await rm(dir, { recursive: true, force: true });
  // The same API requests, 16 in flight, on kept-alive connections.
  const token = atc.issueToken(USER.username);
  const started = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++] as string;
      const response = await fetch(`${atc.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  const apiMs = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    cloneMs: clone.ms,
    walkMs: walk.ms,
    walkCommits: repo.commits - repo.oldestClaim.index,
    apiMs,
    apiRequests: paths.length,
    total: clone.ms + walk.ms + apiMs,
  };
}

// ---- output ----

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - text.length));

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const line = (r: string[]) => `| ${r.map((c, i) => pad(c, widths[i] ?? 0)).join(" | ")} |`;
  return [line(rows[0] ?? []), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), "pool-boy-bench-"));
  const home = join(work, "home");
  await mkdir(home, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: join(home, ".gitconfig-none"),
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  };
  const atc = await startFakeAtc({ version: "8.2.5", users: [USER] });
  let server: { url: string; stop(): Promise<void> } | null = null;
  const out = (line = "") => process.stdout.write(`${line}\n`);
  try {
    const gitVersion = (await mustExec("git", ["--version"], { env })).stdout.trim();
    out(`pool-boy benchmark: ${args.pools} pools x ${args.locks} locks, ${args.commits.toLocaleString("en")} commits, ${args.claimed} claimed, API latency ${args.latency} ms, best of ${args.repeat} round(s)`);
    out(`machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}; node ${process.version}; ${gitVersion}`);

    const genStart = process.hrtime.bigint();
    const repo = await generateRepo({
      path: join(work, "pool.git"),
      env,
      pools: args.pools,
      locksPerPool: args.locks,
      commits: args.commits,
      claimed: args.claimed,
      oldestClaimAt: args.oldest,
      seed: args.seed,
      atcUrl: atc.url,
      end: new Date(Date.now() - 60_000),
      stepSeconds: 30,
      atc,
    });
    const genMs = Number(process.hrtime.bigint() - genStart) / 1e6;
    const packed = (await mustExec("git", ["count-objects", "-v"], { env: { ...env, GIT_DIR: repo.path } })).stdout;
    const packKb = Number(/size-pack: (\d+)/.exec(packed)?.[1] ?? 0);
    out(
      `generated in ${seconds(genMs)} by one git fast-import: ${(packKb / 1024).toFixed(1)} MB packed; the oldest claim is ${(repo.commits - repo.oldestClaim.index).toLocaleString("en")} commits back; ` +
        `${repo.builds} builds in the API; owners: ${Object.entries(repo.owners).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    );
    atc.latencyMs = args.latency;
    server = await serve(work, env);
    const url = `${server.url}/pool.git`;

    const h = await makeHarness(
      work,
      {
        ...env,
        POOL_REPO: url,
        POOLS: "*:2h",
        CONCOURSE_BASE_URL: atc.url,
        CONCOURSE_USERNAME: USER.username,
        CONCOURSE_PASSWORD: USER.password,
        POOL_BOY_API_TIMEOUT: "60s",
      },
      atc,
    );
    const cache = join(work, "cache");

    out("");
    out(`running, served by git daemon at ${url} (each line is one run of the built CLI)`);
    const rounds: Array<{ cold: Measured; coldCache: Measured; warmNew: Measured; warm: Measured; floor: Floor }> = [];
    for (let round = 1; round <= args.repeat; round++) {
      const cold = await measure(h, "status, cold (temporary clone)", ["status", "--json"]);
      out(`  round ${round}: ${cold.label}: ${seconds(cold.ms)}`);
      const floor = await measureFloor(work, env, url, repo, atc, cold.apiRequests, 16);
      out(`  round ${round}: floor: ${seconds(floor.total)} (clone ${seconds(floor.cloneMs)}, walk ${seconds(floor.walkMs)}, API ${seconds(floor.apiMs)})`);
      await rm(cache, { recursive: true, force: true });
      const coldCache = await measure(h, "status, cold, into an empty --cache-dir", ["status", "--json", "--cache-dir", cache]);
      out(`  round ${round}: ${coldCache.label}: ${seconds(coldCache.ms)}`);
      await appendChurn(repo, env, args.fresh, args.seed + round);
      const warmNew = await measure(h, `status, warm --cache-dir, ${args.fresh} new commits`, ["status", "--json", "--cache-dir", cache]);
      out(`  round ${round}: ${warmNew.label}: ${seconds(warmNew.ms)}`);
      const warm = await measure(h, "status, warm --cache-dir, nothing new", ["status", "--json", "--cache-dir", cache]);
      out(`  round ${round}: ${warm.label}: ${seconds(warm.ms)}`);
      rounds.push({ cold, coldCache, warmNew, warm, floor });
    }
    const clean = await measure(h, "clean, warm --cache-dir (releases the stale locks)", ["clean", "--json", "--cache-dir", cache]);
    out(`  ${clean.label}: ${seconds(clean.ms)}`);
    // A damaged cache (its biggest pack cut in half), then a cache of another repository.
    const packs = join(cache, "objects", "pack");
    const biggest = (await Promise.all((await readdir(packs)).filter((f) => f.endsWith(".pack")).map(async (f) => ({ f, size: (await stat(join(packs, f))).size })))).sort((a, b) => b.size - a.size)[0];
    if (biggest) await truncate(join(packs, biggest.f), Math.floor(biggest.size / 2));
    const damaged = await measure(h, "status, --cache-dir damaged (a pack cut in half)", ["status", "--json", "--verbose", "--cache-dir", cache]);
    out(`  ${damaged.label}: ${seconds(damaged.ms)}`);
    await mustExec("git", ["config", "poolboy.url", "git://elsewhere.example/other.git"], { env: { ...env, GIT_DIR: cache } });
    const foreign = await measure(h, "status, --cache-dir of another repository", ["status", "--json", "--verbose", "--cache-dir", cache]);
    out(`  ${foreign.label}: ${seconds(foreign.ms)}`);

    const cold = best(rounds.map((r) => r.cold));
    const coldCache = best(rounds.map((r) => r.coldCache));
    const warmNew = best(rounds.map((r) => r.warmNew));
    const warm = best(rounds.map((r) => r.warm));
    const floors = rounds.map((r) => r.floor);
    const floor: Floor = {
      cloneMs: Math.min(...floors.map((f) => f.cloneMs)),
      walkMs: Math.min(...floors.map((f) => f.walkMs)),
      walkCommits: floors[0]?.walkCommits ?? 0,
      apiMs: Math.min(...floors.map((f) => f.apiMs)),
      apiRequests: floors[0]?.apiRequests ?? 0,
      total: 0,
    };
    floor.total = floor.cloneMs + floor.walkMs + floor.apiMs;
    const runs: Array<Measured & { all?: number[] }> = [cold, coldCache, warmNew, warm, clean, damaged, foreign];

    out("");
    const mb = (kb: number | null) => (kb === null ? "n/a" : `${(kb / 1024).toFixed(0)} MB`);
    out(
      table([
        ["run", "wall time (best)", "vs floor", "git processes", "API requests (most in flight)", "peak RSS: largest / node", "claimed locks", "released"],
        ...runs.map((r) => [
          r.label,
          seconds(r.ms),
          `${(r.ms / floor.total).toFixed(2)}x`,
          `${r.git} (${r.gitBreakdown})`,
          `${r.apiRequests.length} (${r.maxInFlight})`,
          `${mb(r.rssKb)} / ${mb(r.nodeRssKb)}`,
          String(r.locks),
          String(r.released),
        ]),
        ["floor: clone + walk + API at 16 in flight", seconds(floor.total), "1.00x", "2 (clone, log)", `${floor.apiRequests} (16)`, "", "", ""],
        ["  plain clone (git clone --bare --single-branch)", seconds(floor.cloneMs), "", "", "", "", "", ""],
        [`  history walk (${floor.walkCommits.toLocaleString("en")} commits)`, seconds(floor.walkMs), "", "", "", "", "", ""],
        [`  API (${floor.apiRequests} requests, ${args.latency} ms each)`, seconds(floor.apiMs), "", "", "", "", "", ""],
      ]),
    );
    out(`every round (s): ${[cold, coldCache, warmNew, warm].map((r) => `${r.label}: ${r.all.map((ms) => (ms / 1000).toFixed(1)).join(", ")}`).join("; ")}; floor: ${floors.map((f) => (f.total / 1000).toFixed(1)).join(", ")}`);
    out(`peak RSS: ${existsSync(GNU_TIME) ? "GNU time's %M (the largest process: node or one of its git processes; the server's side runs under git daemon)" : "no GNU time here: node's own only"} / node's own (process.resourceUsage)`);

    out("");
    const goals: Array<[boolean, string]> = [
      [cold.ms <= FLOOR_FACTOR * floor.total, `status (cold) within ${FLOOR_FACTOR}x the floor: ${seconds(cold.ms)} vs ${FLOOR_FACTOR} x ${seconds(floor.total)} = ${seconds(FLOOR_FACTOR * floor.total)} (${(cold.ms / floor.total).toFixed(2)}x)`],
      [
        runs.every((r) => (r.rssKb ?? r.nodeRssKb) !== null && (r.rssKb ?? r.nodeRssKb ?? 0) < RSS_LIMIT_MB * 1024),
        `peak memory under ${RSS_LIMIT_MB} MB in every run: the most was ${mb(Math.max(...runs.map((r) => r.rssKb ?? r.nodeRssKb ?? 0)))} (node's own: ${mb(Math.max(...runs.map((r) => r.nodeRssKb ?? 0)))})`,
      ],
      [
        runs.every((r) => r.git <= GIT_PROCESS_LIMIT),
        `a constant number of git processes per run (at most ${GIT_PROCESS_LIMIT}, for ${args.claimed} claimed locks): ${runs.map((r) => r.git).join(", ")}`,
      ],
      [warmNew.ms <= WARM_SHARE * cold.ms, `a warm run (${args.fresh} new commits) at most ${WARM_SHARE * 100}% of a cold one: ${seconds(warmNew.ms)} = ${((100 * warmNew.ms) / cold.ms).toFixed(0)}% of ${seconds(cold.ms)}`],
      [warm.ms <= WARM_SHARE * cold.ms, `a warm run (nothing new) at most ${WARM_SHARE * 100}% of a cold one: ${seconds(warm.ms)} = ${((100 * warm.ms) / cold.ms).toFixed(0)}%`],
      [runs.every((r) => r.maxInFlight <= 16 + 1), `API requests bounded at 16 in flight (+1 login): most in flight ${Math.max(...runs.map((r) => r.maxInFlight))}`],
      [
        /is damaged .*rebuilding it/.test(damaged.stderr) &&
          /holds another repository .*rebuilding it/.test(foreign.stderr) &&
          damaged.locks === clean.locks - clean.released &&
          foreign.locks === damaged.locks,
        `a damaged cache and a cache of another repository are detected and rebuilt (${seconds(damaged.ms)}, ${seconds(foreign.ms)}: a cold run's cost), with the same result`,
      ],
    ];
    // What a warm run saves is the clone, which only dominates on a big repository: on a small
    // one the API's latency does, and the warm-share goal says nothing.
    const scaled = args.commits >= 50_000;
    const counted = goals.filter(([, text]) => scaled || !text.startsWith("a warm run"));
    for (const [ok, text] of goals) out(`${!counted.some(([, t]) => t === text) ? "INFO" : ok ? "PASS" : "FAIL"}  ${text}`);
    if (!scaled) out("(the warm-run goals are for the big repository: at fewer than 50,000 commits they are shown as INFO)");
    const failed = counted.filter(([ok]) => !ok).length;
    out("");
    out(failed === 0 ? "all goals met" : `${failed} goal(s) missed`);
    return failed === 0 ? 0 : 1;
  } finally {
    await server?.stop();
    await atc.close();
    if (args.keep) out(`work directory kept: ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 2;
});
