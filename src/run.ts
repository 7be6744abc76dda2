// One run, in order: sync → scan → parse → ask → judge → (plan → release; on a lost race,
// sync and judge again what changed) → result for the report stage.

import type { Config } from "./decide/config.js";
import { onlyAllows } from "./decide/config.js";
import type { ApplyOutcome, ClaimedLock, Hold, JudgedLock, OwnerState, PoolCounts, PoolPolicy, ReleasedLock, ReleaseMove, ReleasePlan, RepoSnapshot, RunResult, RunWarning } from "./core/model.js";
import { PoolBoyError } from "./core/errors.js";
import { holdActive } from "./decide/holds.js";
import { checkTargets } from "./decide/policy.js";
import { holdOf, viewRepo } from "./view.js";
import { safeUrl, type Redactor } from "./core/redact.js";
import { prepareTransport, removeAbandonedDirs } from "./io/git/transport.js";
import { syncRepo, refresh, type SyncedRepo } from "./io/git/sync.js";
import { baseOf, scanSince, type ClaimBase, type ScanSince } from "./io/git/scan.js";
import { loadClaimIndex, saveClaimIndex } from "./io/git/claim-index.js";
import { parseClaim } from "./decide/parse.js";
import { askOwner, type OwnerApi } from "./io/atc/ask.js";
import { backoffMs, rejudge, type Rejudge } from "./decide/rejudge.js";
import { judge, ageSeconds, aheadSeconds } from "./decide/judge.js";
import { planRelease } from "./decide/plan.js";
import { applyRelease, pushRelease, writeRelease } from "./io/git/apply.js";
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
  /** waits between push attempts (default: a timer) */
  sleep?: (ms: number) => Promise<void>;
  /** [0, 1) for the backoff's jitter (default: Math.random) */
  random?: () => number;
  /** a warning to show at once, whatever --verbose says (stderr); --verbose's log when absent */
  warn?: (line: string) => void;
}

/** What a lost race leaves for the next round: the judgement of each lock on the old head. */
interface Previous {
  base: ClaimBase;
  judged: Map<string, JudgedLock>;
  /** lock paths touched between the old head and the new one; null: all count as new */
  touched: Set<string> | null;
  /**
   * the owners to ask again if their lock is still untouched at the new head, asked while the new
   * head is fetched (a build's state only moves forward, so an answer had before the fetch is as
   * good as one had after it): by lock path and claim commit
   */
  early: Map<string, Promise<OwnerState>>;
  /** the answers were had during this run's own successful push, not before a lost race */
  fresh: boolean;
}

const earlyKey = (lock: ClaimedLock) => `${lock.path}\0${lock.claim?.sha ?? ""}`;

/** Starts asking again, at once, what the next round will ask again about the locks it finds untouched. */
function askEarly(api: OwnerApi | null, judged: JudgedLock[]): Map<string, Promise<OwnerState>> {
  const early = new Map<string, Promise<OwnerState>>();
  if (api === null) return early;
  for (const j of judged) {
    const plan = rejudge(j, j.lock, false);
    if (plan.kind === "reuse") continue;
    const asking = askOwner(api, j.lock, j.claim, plan.kind === "handoff" ? plan.claimer : undefined);
    // Not awaited when the lock turns out touched: an error is the round's to see, not a stray rejection.
    asking.catch(() => undefined);
    early.set(earlyKey(j.lock), asking);
  }
  return early;
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
/** The report's order: pools, then locks, by name. */
const byPoolAndName = (a: JudgedLock, b: JudgedLock) => byName(a.lock.pool, b.lock.pool) || byName(a.lock.name, b.lock.name);

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
function checkOnly(config: Config, snapshot: RepoSnapshot, policies: PoolPolicy[], warnings: RunWarning[], releasedBefore: ReleaseMove[] = []): void {
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
    // (a lock an earlier round of this run released was claimed when the run began)
    const releasedEarlier = releasedBefore.some((m) => m.pool === o.pool && m.name === o.lock);
    if (o.lock !== null && !releasedEarlier && !snapshot.locks.some((l) => l.pool === o.pool && l.name === o.lock)) {
      const message = `${given}: the lock is not claimed`;
      if (!warnings.some((w) => w.message === message)) warnings.push({ code: "only-not-claimed", message });
    }
  }
}

export async function judgeSnapshot(
  snapshot: RepoSnapshot,
  policies: PoolPolicy[],
  api: OwnerApi | null,
  config: Config,
  deps: RunDeps,
  previous: Previous | null,
  beforeAsking: (claims: Array<ReturnType<typeof parseClaim> | null>) => void = () => undefined,
  holds: Hold[] = [],
  /**
   * called before the answers are awaited, with every lock judged on what is known without them
   * (reused answers; the others kept as "not asked yet"): what can be prepared meanwhile
   */
  provisional?: (judged: JudgedLock[]) => void,
): Promise<JudgedLock[]> {
  const byPool = new Map(policies.map((p) => [p.pool, p]));
  const locks = snapshot.locks
    .filter((l) => byPool.has(l.pool) && onlyAllows(config.only, l.pool, l.name))
    .sort((a, b) => byName(a.pool, b.pool) || byName(a.name, b.name));
  const claims = locks.map((l) => (l.claim ? parseClaim(l.claim.message, config.team) : null));
  beforeAsking(claims);
  // After a lost race only what may have changed is asked again (decide/rejudge.ts).
  const plans: Rejudge[] = locks.map((lock) =>
    previous === null ? { kind: "ask", why: "first round" } : rejudge(previous.judged.get(lock.path), lock, previous.touched === null || previous.touched.has(lock.path), previous.fresh),
  );
  const asked = plans.filter((p) => p.kind !== "reuse").length;
  if (previous !== null) {
    const count = (kind: Rejudge["kind"]) => plans.filter((p) => p.kind === kind).length;
    deps.log(`judging again: ${count("reuse")} answer(s) reused, ${count("handoff")} hand-off(s) and ${count("ask")} owner(s) asked again`);
  }
  if (api && asked > 0) deps.progress(`asking Concourse about ${asked} claimed lock${asked === 1 ? "" : "s"}…`);
  // One clock reading for the whole judgement (taken before the answers: ages are never overstated).
  const now = deps.now();
  const judgeAll = (owners: OwnerState[]): JudgedLock[] =>
    locks.map((lock, i) => {
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
  if (provisional && plans.some((p) => p.kind === "reuse")) {
    const pending: OwnerState = { kind: "unreachable", why: "not asked yet", cause: "api-error" };
    provisional(judgeAll(locks.map((lock, i) => (plans[i]?.kind === "reuse" ? (previous?.judged.get(lock.path) as JudgedLock).owner : pending))));
  }
  const owners = await Promise.all(
    locks.map((lock, i) => {
      const plan = plans[i] as Rejudge;
      if (plan.kind === "reuse") return (previous?.judged.get(lock.path) as JudgedLock).owner;
      const untouched = previous !== null && previous.touched !== null && !previous.touched.has(lock.path);
      const early = untouched ? previous?.early.get(earlyKey(lock)) : undefined;
      if (early) return early;
      return askOwner(api, lock, claims[i] ?? null, plan.kind === "handoff" ? plan.claimer : undefined);
    }),
  );
  return judgeAll(owners);
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
    repo = synced.value;
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

    let previous: Previous | null = null;
    let fetchMs = 0;
    /** refused pushes (another run's identical release does not count) */
    let refused = 0;
    /** what earlier rounds of this run released (when a round's answers found more to release) */
    const earlier: { locks: JudgedLock[]; moves: ReleaseMove[]; commits: string[] } = { locks: [], moves: [], commits: [] };
    // With a cache, the claim index of the last run: only the commits since its head are walked.
    let indexBase: ClaimBase | null = null;
    if (repo.cached) {
      const index = await loadClaimIndex(repo);
      indexBase = index.base;
      deps.log(index.base ? `claim index at ${index.base.head.slice(0, 12)}: walking only the commits since` : `${index.problem}: walking the whole history`);
    }
    /** the result so far, once a round of this run pushed and another round follows */
    let done: RunResult | null = null;
    try {
      for (let attempts = 1; ; attempts += 1) {
        deps.progress("reading claims…");
        const t0 = Date.now();
        let scan: ScanSince | null = null;
        const synced: SyncedRepo = repo;
        const view = await viewRepo(repo, config, "pools", async (pools) => {
          scan = await scanSince(synced, pools, previous?.base ?? indexBase);
          return scan.snapshot;
        });
        const scanned = scan as unknown as ScanSince;
        const t1 = Date.now();
        if (previous === null && indexBase !== null) {
          deps.log(
            scanned.touched === null
              ? `the claim index was not used (${scanned.stats.fallback ?? "?"}): the whole history was read`
              : `claim index used: ${scanned.stats.commitsRead} new commit(s) read`,
          );
        }
        if (repo.cached) {
          // A failure to write the index costs the next run a full walk, not this run its result.
          await saveClaimIndex(repo, scanned.snapshot).catch((err: unknown) => deps.log(`the claim index could not be written: ${err instanceof Error ? err.message : String(err)}`));
        }
        const snapshot = scanned.snapshot;
        if (previous !== null) {
          previous.touched = scanned.touched;
          deps.log(
            scanned.touched === null
              ? `the whole history read again (${scanned.stats.fallback ?? "no usable base"})`
              : `read ${scanned.stats.commitsRead} new commit(s); ${scanned.touched.size} lock(s) touched since ${previous.base.head.slice(0, 12)}`,
          );
        }
        const policies = view.policies.filter((p) => config.only.length === 0 || config.only.some((o) => o.pool === p.pool));
        checkOnly(config, snapshot, view.policies, warnings, earlier.moves);
        // After a lost race the releases decided without a new answer (final owners of untouched
        // locks) are written at once, while the rest is asked, and pushed (below).
        let early: { plan: ReleasePlan; commits: Promise<string[]>; judged: JudgedLock[] } | null = null;
        const prepare =
          config.command === "clean" && previous !== null
            ? (provisional: JudgedLock[]) => {
                const checked = checkTargets(provisional, snapshot);
                const plan = planRelease(snapshot.head, snapshot.branch, checked, snapshot.pools);
                if (plan.moves.length === 0 || repo === null) return;
                const commits = writeRelease(repo, plan, scanned.tree);
                commits.catch(() => undefined);
                early = { plan, commits, judged: checked };
              }
            : undefined;
        const judging = judgeSnapshot(snapshot, policies, api, config, deps, previous, beforeAsking, view.holds, prepare).then((judged) => checkTargets(judged, snapshot));
        judging.catch(() => undefined);
        const result = (judged: JudgedLock[], moves: ReleaseMove[], commits: string[]): RunResult => {
          const allCommits = [...earlier.commits, ...commits];
          // the locks released by an earlier push of this run are no longer claimed at this head
          const locks = earlier.locks.length ? [...earlier.locks, ...judged].sort(byPoolAndName) : judged;
          return {
            command: config.command,
            repo: safeUrl(config.repo),
            branch: snapshot.branch,
            head: allCommits[allCommits.length - 1] ?? snapshot.head,
            mode: api ? "api" : "timeout-only",
            atcVersion: api?.version ?? null,
            atcUrl: api ? (config.atc?.url ?? null) : null,
            target: config.target,
            team: config.team,
            locks,
            pools: countsAfter(snapshot, moves, policies),
            policies,
            only: config.only.map((o) => (o.lock === null ? o.pool : `${o.pool}/${o.lock}`)),
            released: releasedLocks([...earlier.moves, ...moves], allCommits, locks),
            commits: allCommits,
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
          };
        };
        if (config.command === "status") {
          const judged = await judging;
          deps.judged?.(result(judged, [], []));
          return result(judged, [], []);
        }
        if (config.dryRun) {
          // clean --dry-run: the commits clean would push, with their messages; nothing is pushed
          const judged = await judging;
          deps.judged?.(result(judged, [], []));
          return { ...result(judged, [], []), dryRun: true, plan: planRelease(snapshot.head, snapshot.branch, judged, snapshot.pools) };
        }

        let judged: JudgedLock[];
        let outcome: ApplyOutcome;
        let plan: ReleasePlan;
        let more = false;
        const decided = early as { plan: ReleasePlan; commits: Promise<string[]>; judged: JudgedLock[] } | null;
        if (decided !== null) {
          // Releases decided without a new answer (final owners of untouched locks) are pushed at
          // once; the answers being awaited can only keep locks or find more to release, which the
          // next round (on the head this push makes) then does.
          deps.progress(`releasing ${decided.plan.moves.length} lock${decided.plan.moves.length === 1 ? "" : "s"}…`);
          plan = decided.plan;
          outcome = await pushRelease(repo, plan, await decided.commits);
          const releasing = new Set(plan.moves.map((m) => m.from));
          // A lock the early plan moves keeps the verdict that moved it: the answers' judgement may
          // give its release-to name to another lock first (checkTargets' order), which the next
          // round then finds taken.
          const movedEarly = new Map(decided.judged.filter((j) => releasing.has(j.lock.path)).map((j) => [j.lock.path, j]));
          judged = (await judging).map((j) => (outcome.pushed ? (movedEarly.get(j.lock.path) ?? j) : j));
          deps.judged?.(result(judged, [], []));
          more = outcome.pushed && planRelease(snapshot.head, snapshot.branch, judged, snapshot.pools).moves.some((m) => !releasing.has(m.from));
        } else {
          judged = await judging;
          deps.judged?.(result(judged, [], []));
          plan = planRelease(snapshot.head, snapshot.branch, judged, snapshot.pools);
          if (plan.moves.length === 0) return result(judged, [], []);
          deps.progress(`releasing ${plan.moves.length} lock${plan.moves.length === 1 ? "" : "s"}…`);
          outcome = await applyRelease(repo, plan, scanned.tree);
        }
        const t2 = Date.now();
        deps.log(`round ${attempts}: fetch ${fetchMs} ms, scan ${t1 - t0} ms, judge, write and push ${t2 - t1} ms`);
        if (outcome.pushed) {
          deps.log(`pushed ${outcome.commits.length} commit(s) to ${snapshot.branch}`);
          // (another run that wrote the same first commits pushed those: they are not this run's)
          const mine = plan.moves.slice(outcome.from);
          if (!more) return result(judged, mine, outcome.commits);
          // The answers found more to release: one more round, on the head just pushed.
          done = result(judged, mine, outcome.commits);
          const releasing = new Set(mine.map((m) => m.from));
          earlier.locks.push(...judged.filter((j) => releasing.has(j.lock.path)));
          earlier.moves.push(...mine);
          earlier.commits.push(...outcome.commits);
          deps.log("the answers found more locks to release: one more round");
        } else {
          if (outcome.reason === "nothing-to-do") return result(judged, [], []);
          // Someone pushed meanwhile. The decision was made on an old view: fetch, judge again what changed.
          deps.log(`push refused (${outcome.detail}); attempt ${attempts} of ${config.maxAttempts}`);
          // Another run pushed this very release: what this run set out to do is done, and the next
          // round (which finds nothing left to release) is not one more lost race.
          if (!outcome.alreadyThere) refused++;
          if (refused >= config.maxAttempts && earlier.moves.length > 0) {
            // An earlier round of this run did release locks: that is the result; the rest waits for the next run.
            warnings.push({ code: "push-refused", message: `${plan.moves.length} more lock(s) could not be released: the push was refused ${refused} times (others keep pushing); the next run will` });
            return result(judged, [], []);
          }
          if (refused >= config.maxAttempts)
            throw new PoolBoyError(
              "git",
              `the push to ${snapshot.branch} was refused ${refused} times: others keep pushing to the pool repository`,
              "nothing was released; run again later or raise --max-attempts",
            );
        }
        // The next round judges the new head, reusing only what a final state or an untouched lock allows.
        api?.forget();
        previous = {
          base: baseOf(snapshot),
          judged: new Map(judged.map((j) => [j.lock.path, j])),
          touched: null,
          early: outcome.pushed ? new Map() : askEarly(api, judged),
          fresh: outcome.pushed,
        };
        const wait = outcome.pushed ? 0 : backoffMs(refused, (deps.random ?? Math.random)());
        if (wait > 0) await (deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(wait);
        const tf = Date.now();
        await refresh(repo);
        fetchMs = Date.now() - tf;
      }
    } catch (err) {
      // A later round failed (git, Concourse, a config file broken meanwhile) after an earlier one
      // pushed: those releases are done and are the result; the rest waits for the next run.
      if (done === null || !(err instanceof PoolBoyError)) throw err;
      const why = err.message;
      deps.log(`a later round failed: ${why}`);
      const failed: RunWarning = { code: "round-failed", message: `after ${done.released.length} lock(s) were released, the next round failed: ${why}; the next run judges the rest` };
      return { ...done, finishedAt: deps.now(), warnings: [...done.warnings, failed] };
    }
  } finally {
    await api?.close().catch(() => undefined);
    await repo?.cleanup().catch(() => undefined);
    await transport.cleanup().catch(() => undefined);
  }
}

