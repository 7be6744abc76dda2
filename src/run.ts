// One run, in order: sync → scan → parse → ask → judge → (plan → release; on a lost race,
// sync and judge again) → result for the report stage.

import type { Config } from "./decide/config.js";
import { onlyAllows } from "./decide/config.js";
import type { Hold, JudgedLock, PoolCounts, PoolPolicy, ReleasedLock, ReleaseMove, RepoSnapshot, RunResult, RunWarning } from "./core/model.js";
import { PoolBoyError } from "./core/errors.js";
import { holdActive } from "./decide/holds.js";
import { checkTargets } from "./decide/policy.js";
import { holdOf, viewRepo } from "./view.js";
import { safeUrl, type Redactor } from "./core/redact.js";
import { prepareTransport, removeAbandonedDirs } from "./io/git/transport.js";
import { syncRepo, refresh, type SyncedRepo } from "./io/git/sync.js";
import { parseClaim } from "./decide/parse.js";
import { askOwners, type OwnerApi } from "./io/atc/ask.js";
import { judge, ageSeconds, aheadSeconds } from "./decide/judge.js";
import { planRelease } from "./decide/plan.js";
import { applyRelease } from "./io/git/apply.js";
import { connectAtc, type AtcClient } from "./io/atc/client.js";
import { checkLocalRepo } from "./io/git/local-repo.js";
import { membershipWarnings, noAccessWarnings, type AccessFacts } from "./decide/access.js";
import { foreignConcourse } from "./decide/owner.js";

export interface RunDeps {
  env: Record<string, string | undefined>;
  now: () => Date;
  /** a line for --verbose */
  log: (line: string) => void;
  /** a short progress note for a terminal */
  progress: (line: string) => void;
  /** the run's one redactor (makeRedactor(config)): adapters mask text from outside with it */
  redactor: Redactor;
  /** each judgement as it is made, before anything is released (for --json when a later step fails) */
  judged?: (result: RunResult) => void;
  /** a warning to show at once, whatever --verbose says (stderr); --verbose's log when absent */
  warn?: (line: string) => void;
}

function accessFacts(config: Config, api: AtcClient): AccessFacts {
  const auth = config.atc?.auth;
  return {
    url: api.url,
    auth:
      auth?.kind === "password"
        ? { kind: "password", username: auth.username }
        : auth?.kind === "token"
          ? { kind: "token", source: auth.source, ...(auth.flyTarget ? { flyTarget: auth.flyTarget } : {}) }
          : { kind: "none" },
    user: api.user,
  };
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function countsAfter(snapshot: RepoSnapshot, moves: ReleaseMove[], pools: PoolPolicy[]): PoolCounts[] {
  const wanted = new Set(pools.map((p) => p.pool));
  return snapshot.pools
    .filter((p) => wanted.has(p.pool))
    .sort((a, b) => byName(a.pool, b.pool))
    .map((p) => {
      const out = moves.filter((m) => m.pool === p.pool).length;
      const into = moves.filter((m) => m.to.startsWith(`${p.pool}/unclaimed/`)).length;
      return { pool: p.pool, claimed: p.claimed.length - out, unclaimed: p.unclaimed.length + into };
    });
}

export async function judgeSnapshot(
  snapshot: RepoSnapshot,
  policies: PoolPolicy[],
  api: OwnerApi | null,
  config: Config,
  deps: RunDeps,
  beforeAsking: (claims: Array<ReturnType<typeof parseClaim> | null>) => void = () => undefined,
  holds: Hold[] = [],
): Promise<JudgedLock[]> {
  const byPool = new Map(policies.map((p) => [p.pool, p]));
  const locks = snapshot.locks
    .filter((l) => byPool.has(l.pool) && onlyAllows(config.only, l.pool, l.name))
    .sort((a, b) => byName(a.pool, b.pool) || byName(a.name, b.name));
  const claims = locks.map((l) => (l.claim ? parseClaim(l.claim.message, config.team) : null));
  beforeAsking(claims);
  if (api && locks.length > 0) deps.progress(`asking Concourse about ${locks.length} claimed lock${locks.length === 1 ? "" : "s"}…`);
  const owners = await askOwners(api, locks.map((lock, i) => ({ lock, claim: claims[i] ?? null })));
  const now = deps.now();
  return locks.map((lock, i) => {
    const policy = byPool.get(lock.pool) ?? { pool: lock.pool, timeoutSeconds: null };
    const owner = owners[i]!;
    const hold = holdOf(holds, lock.pool, lock.name);
    return {
      lock,
      claim: claims[i] ?? null,
      owner,
      verdict: judge(lock, owner, policy, now, hold),
      ageSeconds: ageSeconds(lock, now),
      aheadSeconds: aheadSeconds(lock, now),
      policy,
      hold: hold && holdActive(hold, now) ? hold : null,
    };
  });
}

/** Each move with the verdict that made it and its commit (apply makes one commit per move, in order). */
function releasedLocks(moves: ReleaseMove[], commits: string[], judged: JudgedLock[]): ReleasedLock[] {
  return moves.map((m, i) => {
    const verdict = judged.find((j) => j.lock.pool === m.pool && j.lock.name === m.name)?.verdict;
    return {
      ...m,
      reason: verdict?.action === "release" ? verdict.reason : "stale",
      detail: verdict?.detail ?? "",
      commit: commits.length === moves.length ? (commits[i] ?? null) : null,
    };
  });
}

/** --only names a pool that is not there, or one not judged: bad input. A lock that is not claimed: said once. */
function checkOnly(config: Config, snapshot: RepoSnapshot, policies: PoolPolicy[], warnings: RunWarning[]): void {
  const pools = snapshot.pools.map((p) => p.pool);
  for (const o of config.only) {
    const given = `--only ${o.pool}${o.lock ? `/${o.lock}` : ""}`;
    // every pool was read (a `*` entry, or no pools named): one that is not judged does not exist
    const everyPool = config.pools.wildcard !== undefined || policies.some((p) => p.unset);
    if (!pools.includes(o.pool) && (everyPool || policies.length === 0))
      throw new PoolBoyError("config", `${given}: pool "${o.pool}" does not exist`, `the repository has: ${pools.join(", ") || "no pools"}`);
    if (!policies.some((p) => p.pool === o.pool))
      throw new PoolBoyError(
        "config",
        `${given}: pool "${o.pool}" is not among the pools judged (${policies.map((p) => p.pool).join(", ")})`,
        `add it to --pools (or the config file), or use "*:TIMEOUT"`,
      );
    if (o.lock !== null && !snapshot.locks.some((l) => l.pool === o.pool && l.name === o.lock)) {
      const message = `${given}: the lock is not claimed`;
      if (!warnings.some((w) => w.message === message)) warnings.push({ code: "only-not-claimed", message });
    }
  }
}

export async function run(config: Config, deps: RunDeps): Promise<RunResult> {
  const startedAt = deps.now();
  // A run killed outright (SIGKILL) could not remove its deploy key: this one does.
  for (const dir of await removeAbandonedDirs()) deps.log(`removed ${dir}, left behind by a pool-boy run that was killed`);
  const transport = await prepareTransport({ url: config.repo, auth: config.repoAuth, env: deps.env });
  const warnings: RunWarning[] = config.repoWarnings.map((message) => ({ code: "repo-credentials", message }));
  let repo: SyncedRepo | null = null;
  let api: AtcClient | null = null;
  try {
    if (transport.kind === "local") await checkLocalRepo({ url: transport.url, branch: config.branch, command: config.command, env: transport.env });
    deps.progress("syncing the pool repository…");
    // Log in while the repo syncs; a failed login stops the run before anything changes.
    const [synced, connected] = await Promise.allSettled([
      syncRepo({ url: transport.url, branch: config.branch, cacheDir: config.cacheDir, env: transport.env, mask: deps.redactor.outside, log: deps.log }),
      config.atc ? connectAtc({ ...config.atc, log: deps.log, mask: deps.redactor.outside }) : Promise.resolve(null),
    ]);
    if (synced.status === "fulfilled") repo = synced.value;
    if (connected.status === "fulfilled") api = connected.value;
    if (synced.status === "rejected") throw synced.reason;
    if (connected.status === "rejected") throw connected.reason;
    if (!repo) throw new PoolBoyError("git", "the repository could not be synced");
    deps.log(`synced ${safeUrl(config.repo)} ${repo.branch} at ${repo.head}`);
    if (api) deps.log(`Concourse ${api.version ?? "(version unknown)"} at ${config.atc?.url}`);

    const facts = api ? accessFacts(config, api) : null;
    const hosts = api?.hosts ?? [];
    // Said once per run, before the first lookup: teams the claims name that the credentials lack.
    const warned = new Set<string>();
    const beforeAsking = (claims: Array<ReturnType<typeof parseClaim> | null>) => {
      if (!facts) return;
      const owners = claims.filter((c) => c !== null && foreignConcourse(c.concourse, hosts) === null).map((c) => c?.owner ?? null);
      for (const line of membershipWarnings(facts, owners)) {
        if (warned.has(line)) continue;
        warned.add(line);
        (deps.warn ?? deps.log)(line);
      }
    };

    for (let attempts = 1; ; attempts += 1) {
      deps.progress("reading claims…");
      const view = await viewRepo(repo, config, "pools");
      const { snapshot } = view;
      const policies = view.policies.filter((p) => config.only.length === 0 || config.only.some((o) => o.pool === p.pool));
      checkOnly(config, snapshot, view.policies, warnings);
      const judged = checkTargets(await judgeSnapshot(snapshot, policies, api, config, deps, beforeAsking, view.holds), snapshot);
      const result = (moves: ReleaseMove[], commits: string[]): RunResult => ({
        command: config.command,
        repo: safeUrl(config.repo),
        branch: snapshot.branch,
        head: commits[commits.length - 1] ?? snapshot.head,
        mode: api ? "api" : "timeout-only",
        atcVersion: api?.version ?? null,
        atcUrl: api ? (config.atc?.url ?? null) : null,
        target: config.target,
        team: config.team,
        locks: judged,
        pools: countsAfter(snapshot, moves, policies),
        policies,
        only: config.only.map((o) => (o.lock === null ? o.pool : `${o.pool}/${o.lock}`)),
        released: releasedLocks(moves, commits, judged),
        commits,
        attempts,
        api: api?.stats() ?? null,
        startedAt,
        finishedAt: deps.now(),
        // once per team whose builds may not be read: what to fix (the run then ends with exit 5)
        warnings: [
          ...warnings,
          ...view.warnings.map((message) => ({ code: "config-pool-missing", message })),
          ...(facts ? noAccessWarnings(facts, judged).map((message) => ({ code: "no-access", message })) : []),
        ],
      });
      deps.judged?.(result([], []));
      if (config.command === "status") return result([], []);

      const plan = planRelease(snapshot.head, snapshot.branch, judged, snapshot.pools);
      if (config.dryRun) return { ...result([], []), dryRun: true, plan };
      if (plan.moves.length === 0) return result([], []);
      deps.progress(`releasing ${plan.moves.length} lock${plan.moves.length === 1 ? "" : "s"}…`);
      const outcome = await applyRelease(repo, plan);
      if (outcome.pushed) {
        deps.log(`pushed ${outcome.commits.length} commit(s) to ${snapshot.branch}`);
        return result(plan.moves.slice(outcome.from), outcome.commits);
      }
      if (outcome.reason === "nothing-to-do") return result([], []);
      // Someone pushed meanwhile. The decision was made on an old view: throw it away, fetch, judge again.
      deps.log(`push refused (${outcome.detail}); attempt ${attempts} of ${config.maxAttempts}`);
      if (attempts >= config.maxAttempts)
        throw new PoolBoyError(
          "git",
          `the push to ${snapshot.branch} was refused ${attempts} times: others keep pushing to the pool repository`,
          "nothing was released; run again later or raise --max-attempts",
        );
      api?.forget();
      await refresh(repo);
    }
  } finally {
    await api?.close().catch(() => undefined);
    await repo?.cleanup().catch(() => undefined);
    await transport.cleanup().catch(() => undefined);
  }
}

