// A big, deterministic pool repository for the benchmark, written by one `git fast-import` (a
// stream of commits, never one git process per commit), and the builds its claims name,
// registered in the fake ATC.
//
// The history: an initial commit with every lock unclaimed, then claim/release churn by the
// pool-resource over the locks that end up free, and the final claims of the locks that end up
// claimed spread over the whole history, the oldest at `oldestClaimAt` of it (so the scan must
// read most of the history before it has found every claim). The final claims use every message
// format the pool-resource ever wrote (reference §6, fixtures/claims/), plus `updating:` commits,
// manual claims and garbled messages; their owners are started, failed, succeeded (some of them
// handing the lock on, reference §7), aborted, or unknown to the API.

import { spawn } from "node:child_process";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FakeAtc } from "../test/support/atc-server.js";
import type { BuildStatus } from "../src/core/model.js";
import { prng } from "../test/support/prng.js";
export { prng };

export interface GenerateOptions {
  /** where the bare repository goes (created; must not exist) */
  path: string;
  /** the whole environment for git */
  env: Record<string, string>;
  pools: number;
  locksPerPool: number;
  /** commits in all, the initial one included */
  commits: number;
  /** locks claimed at the end */
  claimed: number;
  /** where in the history (0 = start, 1 = head) the oldest final claim is */
  oldestClaimAt: number;
  seed: number;
  /** the API's external URL, for v1.8 "Build URL:" lines */
  atcUrl: string;
  /** the newest commit's date */
  end: Date;
  /** the API the claims' builds are registered in */
  atc: FakeAtc;
  /** seconds between commits */
  stepSeconds: number;
}

export interface GeneratedRepo {
  path: string;
  branch: string;
  pools: string[];
  /** commits in the history */
  commits: number;
  /** the claim commits of the locks claimed at the end, by "pool/lock" */
  claims: Map<string, { sha: string; index: number; format: string }>;
  /** the oldest of those */
  oldestClaim: { sha: string; index: number };
  /** locks that end up free, for later churn (appendChurn) */
  freeLocks: Array<{ pool: string; lock: string }>;
  /** builds registered in the API, and the final claims' owners by state */
  builds: number;
  owners: Record<string, number>;
}

const WHO = "git <git@localhost>";
const TEAM = "main";

/** Every claim message shape (reference §6), and whom the claim names. */
const FORMATS = [
  "none", // 015dedd: claiming: L
  "hash", // e1ec4f7: P/J #N claiming: L
  "backtick-hash", // c960810: P/J `#N` claiming: L
  "build", // v1.0.0: P/J build N claiming: L
  "team-build", // v1.0.1+: T/P/J build N claiming: L
  "team-build-handoff", // the same, on a pipeline where a downstream job takes the lock (§7)
  "one-off-hash", // one-off #ID claiming: L
  "one-off-backtick", // one-off `#ID` claiming: L
  "one-off-build", // one-off build ID claiming: L
  "team-build-vars", // f6b6783: T/P/J build N {json} claiming: L
  "team-instanced", // v1.7.1: T/P/{json}/J build N claiming: L
  "build-url", // v1.8.0: claiming: L \n Build URL: …/jobs/J/builds/N
  "build-url-vars", // v1.8.0 on Concourse 8.1+: …?vars.branch=%22main%22
  "build-url-one-off", // v1.8.0: …/builds/ID
  "updating", // claimed, later `T/P/J build N updating: L` (the newest commit that wrote the file)
  "manual", // a person's own message: no build
  "garbled", // v1.0–v1.7 Sprintf garbling: no usable owner
] as const;
type Format = (typeof FORMATS)[number];

interface Owner {
  kind: "job" | "one-off" | "none";
  pipeline: string;
  instanced: boolean;
  job: string;
  name: string;
  /** a one-off build's id (registered before its message is written) */
  oneOffId: number;
  status: BuildStatus | "unknown";
}

interface FinalClaim {
  pool: string;
  lock: string;
  index: number;
  format: Format;
  owner: Owner;
  message: string;
  /** for "updating": the index of the update commit and its message */
  update?: { index: number; message: string };
  mark: number;
}

function ownerMessage(format: Format, lock: string, o: Owner, atcUrl: string): string {
  const pj = `${o.pipeline}/${o.job}`;
  const tpj = `${TEAM}/${pj}`;
  switch (format) {
    case "none":
      return `claiming: ${lock}`;
    case "hash":
      return `${pj} #${o.name} claiming: ${lock}`;
    case "backtick-hash":
      return `${pj} \`#${o.name}\` claiming: ${lock}`;
    case "build":
      return `${pj} build ${o.name} claiming: ${lock}`;
    case "team-build":
    case "team-build-handoff":
    case "updating":
      return `${tpj} build ${o.name} claiming: ${lock}`;
    case "one-off-hash":
      return `one-off #${o.oneOffId} claiming: ${lock}`;
    case "one-off-backtick":
      return `one-off \`#${o.oneOffId}\` claiming: ${lock}`;
    case "one-off-build":
      return `one-off build ${o.oneOffId} claiming: ${lock}`;
    case "team-build-vars":
      return `${tpj} build ${o.name} {"branch":"main"} claiming: ${lock}`;
    case "team-instanced":
      return `${TEAM}/${o.pipeline}/{"branch":"main"}/${o.job} build ${o.name} claiming: ${lock}`;
    case "build-url":
      return `claiming: ${lock}\nBuild URL: ${atcUrl}/teams/${TEAM}/pipelines/${o.pipeline}/jobs/${o.job}/builds/${o.name}`;
    case "build-url-vars":
      return `claiming: ${lock}\nBuild URL: ${atcUrl}/teams/${TEAM}/pipelines/${o.pipeline}/jobs/${o.job}/builds/${o.name}?vars.branch=%22main%22`;
    case "build-url-one-off":
      return `claiming: ${lock}\nBuild URL: ${atcUrl}/builds/${o.oneOffId}`;
    case "manual":
      return `Claim ${lock} by hand to debug the network\n\nLeave it to me until Friday.`;
    case "garbled":
      return `${TEAM}/50%!o(string=${lock})ff/deploy build ${o.name} claiming: %!s(MISSING)`;
  }
}

function ownerKind(format: Format): Owner["kind"] {
  if (format === "none" || format === "manual" || format === "garbled") return "none";
  return format.startsWith("one-off") || format === "build-url-one-off" ? "one-off" : "job";
}

function quote(path: string): string {
  return `"${path.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Feeds a fast-import process, respecting back-pressure; resolves the marks file's text. */
async function fastImport(gitDir: string, env: Record<string, string>, write: (put: (chunk: string) => Promise<void>) => Promise<void>, marksFile: string): Promise<string> {
  const child = spawn("git", ["fast-import", "--quiet", "--done", `--export-marks=${marksFile}`], { cwd: gitDir, env: { ...env, GIT_DIR: gitDir }, stdio: ["pipe", "ignore", "pipe"] });
  const err: Buffer[] = [];
  child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const closed = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? -1));
  });
  let buffered: string[] = [];
  let size = 0;
  const flush = async () => {
    if (size === 0) return;
    const data = buffered.join("");
    buffered = [];
    size = 0;
    if (!child.stdin.write(data)) await new Promise<void>((resolve) => child.stdin.once("drain", () => resolve()));
  };
  const put = async (chunk: string) => {
    buffered.push(chunk);
    size += chunk.length;
    if (size > 1 << 20) await flush();
  };
  await write(put);
  await put("done\n");
  await flush();
  child.stdin.end();
  const code = await closed;
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${Buffer.concat(err).toString("utf8")}`);
  return readFile(marksFile, "utf8");
}

function commitText(branch: string, mark: number | null, date: number, message: string, from: string | null, changes: string): string {
  const data = Buffer.byteLength(message.endsWith("\n") ? message : `${message}\n`);
  return (
    `commit refs/heads/${branch}\n` +
    (mark === null ? "" : `mark :${mark}\n`) +
    `author ${WHO} ${date} +0000\ncommitter ${WHO} ${date} +0000\n` +
    `data ${data}\n${message.endsWith("\n") ? message : `${message}\n`}` +
    (from ? `from ${from}\n` : "") +
    changes +
    "\n"
  );
}

export async function generateRepo(options: GenerateOptions): Promise<GeneratedRepo> {
  const branch = "main";
  const rng = prng(options.seed);
  const pools = Array.from({ length: options.pools }, (_, i) => `pool-${String(i + 1).padStart(2, "0")}`);
  const all = pools.flatMap((pool) => Array.from({ length: options.locksPerPool }, (_, i) => ({ pool, lock: `lock-${String(i + 1).padStart(3, "0")}` })));
  if (options.claimed > all.length) throw new Error(`cannot claim ${options.claimed} of ${all.length} locks`);
  if (options.commits < options.claimed * 2 + 10) throw new Error(`${options.commits} commits are too few for ${options.claimed} claims`);

  // Which locks end up claimed: a deterministic shuffle.
  const order = all.map((l, i) => ({ l, k: rng(), i })).sort((a, b) => a.k - b.k || a.i - b.i);
  const finalSet = order.slice(0, options.claimed).map((o) => o.l);
  const churn = order.slice(options.claimed).map((o) => o.l);

  // When each final claim happens: the first at oldestClaimAt, the others spread after it, none
  // in the last 2 commits; never two at the same index. "updating" gets a later update commit.
  const last = options.commits - 1;
  const first = Math.max(1, Math.floor(options.oldestClaimAt * last));
  const taken = new Set<number>();
  const pickIndex = (lo: number, hi: number) => {
    for (;;) {
      const i = lo + Math.floor(rng() * (hi - lo));
      if (!taken.has(i)) {
        taken.add(i);
        return i;
      }
    }
  };
  taken.add(first);
  const statuses: Array<[BuildStatus | "unknown", number]> = [["started", 0.4], ["failed", 0.25], ["succeeded", 0.2], ["aborted", 0.05], ["unknown", 0.1]];
  const pickStatus = (): BuildStatus | "unknown" => {
    let r = rng();
    for (const [status, p] of statuses) if ((r -= p) < 0) return status;
    return "started";
  };
  const atc = options.atc;
  const owners: Record<string, number> = {};
  let builds = 0;
  const finals: FinalClaim[] = finalSet.map((l, j) => {
    const format = FORMATS[j % FORMATS.length] as Format;
    const index = j === 0 ? first : pickIndex(first + 1, last - 2);
    const kind = ownerKind(format);
    const instanced = format === "team-build-vars" || format === "team-instanced" || format === "build-url-vars";
    const owner: Owner = {
      kind,
      pipeline: format === "team-build-handoff" ? "handoff" : instanced ? "instanced" : `app-${(j % 7) + 1}`,
      instanced,
      job: format === "team-build-handoff" ? "deploy" : `job-${(j % 5) + 1}`,
      name: String(j + 1),
      oneOffId: 0,
      // a hand-off claim's build succeeded: that is what makes it one
      status: format === "team-build-handoff" ? "succeeded" : pickStatus(),
    };
    // Register the owner now (a one-off's id goes into the message), except a hand-off's, whose
    // outputs need the claim commit's sha.
    const state = kind === "none" ? "no build named" : owner.status === "unknown" ? "unknown to the API" : owner.status;
    owners[state] = (owners[state] ?? 0) + 1;
    if (kind === "one-off") {
      owner.oneOffId = owner.status === "unknown" ? 9_000_000 + j : atc.addBuild({ team: TEAM, pipeline: null, status: owner.status as BuildStatus }).id;
    } else if (kind === "job" && owner.status !== "unknown" && format !== "team-build-handoff") {
      atc.addBuild({ team: TEAM, pipeline: owner.pipeline, ...(instanced ? { instanceVars: { branch: "main" } } : {}), job: owner.job, name: owner.name, status: owner.status });
    }
    if (kind !== "none" && owner.status !== "unknown") builds++;
    const claim: FinalClaim = { pool: l.pool, lock: l.lock, index, format, owner, message: ownerMessage(format, l.lock, owner, options.atcUrl), mark: j + 1 };
    if (format === "updating") {
      claim.update = { index: pickIndex(index + 1, last), message: `${TEAM}/${owner.pipeline}/${owner.job} build ${owner.name} updating: ${l.lock}` };
    }
    return claim;
  });
  const finalAt = new Map<number, FinalClaim>();
  const updateAt = new Map<number, FinalClaim>();
  for (const f of finals) {
    finalAt.set(f.index, f);
    if (f.update) updateAt.set(f.update.index, f);
  }

  await rm(options.path, { recursive: true, force: true });
  await mkdir(options.path, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const child = spawn("git", ["init", "--quiet", "--bare", `--initial-branch=${branch}`, options.path], { env: options.env, stdio: "ignore" });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`git init failed (${code})`))));
  });

  const dateOf = (i: number) => Math.floor(options.end.getTime() / 1000) - (last - i) * options.stepSeconds;
  const content = (lock: string, version = 1) => `lock: ${lock}\n${version > 1 ? `version: ${version}\n` : ""}`;
  const inline = (path: string, text: string) => `M 100644 inline ${quote(path)}\ndata ${Buffer.byteLength(text)}\n${text}\n`;
  const move = (from: string, to: string) => `R ${quote(from)} ${quote(to)}\n`;

  const marksFile = join(options.path, "bench-generate.marks");
  const free = new Set(churn.map((l) => `${l.pool}/${l.lock}`));
  const churnClaimed: Array<{ pool: string; lock: string; releaseAt: number; name: string }> = [];
  let updates = 0;
  const marks = await fastImport(
    options.path,
    options.env,
    async (put) => {
      let initial = "";
      for (const pool of pools) initial += inline(`${pool}/claimed/.gitkeep`, "") + inline(`${pool}/unclaimed/.gitkeep`, "");
      for (const l of all) initial += inline(`${l.pool}/unclaimed/${l.lock}`, content(l.lock));
      initial += inline("README.md", "# locks\n\nOne folder per pool; claimed/ and unclaimed/ hold the locks.\n");
      await put(commitText(branch, null, dateOf(0), "initial pools", null, initial));

      for (let i = 1; i <= last; i++) {
        const date = dateOf(i);
        const final = finalAt.get(i);
        if (final) {
          await put(commitText(branch, final.mark, date, final.message, null, move(`${final.pool}/unclaimed/${final.lock}`, `${final.pool}/claimed/${final.lock}`)));
          continue;
        }
        const updated = updateAt.get(i);
        if (updated?.update) {
          await put(commitText(branch, updated.mark + 1_000_000, date, updated.update.message, null, inline(`${updated.pool}/claimed/${updated.lock}`, content(updated.lock, 2))));
          continue;
        }
        // Churn: release what is due, else claim a free lock for a while (ended well before the head).
        const dueIndex = churnClaimed.findIndex((c) => c.releaseAt <= i);
        const late = last - i < 200;
        if (dueIndex >= 0 || (late && churnClaimed.length > 0) || churnClaimed.length >= 40) {
          const c = churnClaimed.splice(dueIndex >= 0 ? dueIndex : 0, 1)[0] as (typeof churnClaimed)[number];
          free.add(`${c.pool}/${c.lock}`);
          await put(commitText(branch, null, date, `${TEAM}/app-1/job-1 build ${c.name} unclaiming: ${c.lock}`, null, move(`${c.pool}/claimed/${c.lock}`, `${c.pool}/unclaimed/${c.lock}`)));
          continue;
        }
        if (!late && free.size > 0 && rng() < 0.97) {
          const pick = churn[Math.floor(rng() * churn.length)] as { pool: string; lock: string };
          const key = `${pick.pool}/${pick.lock}`;
          if (free.has(key)) {
            free.delete(key);
            const name = String(100_000 + i);
            churnClaimed.push({ ...pick, releaseAt: i + 1 + Math.floor(rng() * 60), name });
            const message = i % 2 === 0 ? `${TEAM}/app-1/job-1 build ${name} claiming: ${pick.lock}` : `claiming: ${pick.lock}\nBuild URL: ${options.atcUrl}/teams/${TEAM}/pipelines/app-1/jobs/job-1/builds/${name}`;
            await put(commitText(branch, null, date, message, null, move(`${pick.pool}/unclaimed/${pick.lock}`, `${pick.pool}/claimed/${pick.lock}`)));
            continue;
          }
        }
        // Something else: a person's commit outside the pools.
        updates++;
        await put(commitText(branch, null, date, `docs: note ${updates}`, null, inline("NOTES.md", `note ${updates}\n`)));
      }
    },
    marksFile,
  );
  await rm(marksFile, { force: true });
  if (churnClaimed.length > 0) throw new Error("generator bug: churn locks left claimed");

  const shaOf = new Map(
    marks
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" ") as [string, string])
      .map(([mark, sha]) => [Number(mark.slice(1)), sha]),
  );
  const claims = new Map<string, { sha: string; index: number; format: string }>();
  for (const f of finals) {
    const sha = shaOf.get(f.update ? f.mark + 1_000_000 : f.mark);
    if (!sha) throw new Error(`no sha for the claim of ${f.pool}/${f.lock}`);
    claims.set(`${f.pool}/${f.lock}`, { sha, index: f.update?.index ?? f.index, format: f.format });
  }
  // The hand-off claims: deploy succeeded with the claim as its output; every other one was taken
  // by a test build that is still running.
  atc.addPipeline({
    team: TEAM,
    name: "handoff",
    jobs: [
      { name: "deploy", outputs: [{ name: "lock", resource: "env-pool" }] },
      { name: "test", inputs: [{ name: "lock", resource: "env-pool", passed: ["deploy"] }] },
    ],
  });
  let handedOn = 0;
  for (const f of finals.filter((x) => x.format === "team-build-handoff")) {
    const ref = claims.get(`${f.pool}/${f.lock}`)?.sha ?? "";
    atc.addBuild({ team: TEAM, pipeline: "handoff", job: "deploy", name: f.owner.name, status: "succeeded", outputs: [{ name: "lock", resource: "env-pool", ref }] });
    if (handedOn++ % 2 === 0) {
      atc.addBuild({ team: TEAM, pipeline: "handoff", job: "test", status: "started", inputs: [{ name: "lock", resource: "env-pool", ref }] });
      builds++;
    }
  }
  const oldest = finals.reduce((a, b) => (b.index < a.index ? b : a));
  const oldestSha = shaOf.get(oldest.mark) as string;

  return {
    path: options.path,
    branch,
    pools,
    commits: options.commits,
    claims,
    oldestClaim: { sha: oldestSha, index: oldest.index },
    freeLocks: churn,
    builds,
    owners,
  };
}

/**
 * `count` more commits on top of the branch, by one fast-import: claims and releases of free locks
 * by the pool-resource, as happen between two runs.
 */
export async function appendChurn(repo: GeneratedRepo, env: Record<string, string>, count: number, seed: number): Promise<void> {
  const rng = prng(seed);
  const now = Math.floor(Date.now() / 1000);
  const marksFile = join(repo.path, "bench-append.marks");
  await fastImport(
    repo.path,
    env,
    async (put) => {
      for (let i = 0; i < count; i += 2) {
        const l = repo.freeLocks[Math.floor(rng() * repo.freeLocks.length)] as { pool: string; lock: string };
        const from = i === 0 ? `refs/heads/${repo.branch}^0` : null;
        await put(commitText(repo.branch, null, now - (count - i), `${TEAM}/app-1/job-1 build ${900_000 + i} claiming: ${l.lock}`, from, `R ${quote(`${l.pool}/unclaimed/${l.lock}`)} ${quote(`${l.pool}/claimed/${l.lock}`)}\n`));
        if (i + 1 < count) await put(commitText(repo.branch, null, now - (count - i - 1), `${TEAM}/app-1/job-1 build ${900_000 + i} unclaiming: ${l.lock}`, null, `R ${quote(`${l.pool}/claimed/${l.lock}`)} ${quote(`${l.pool}/unclaimed/${l.lock}`)}\n`));
      }
    },
    marksFile,
  );
  await rm(marksFile, { force: true });
}
