// The operator's commands, on the same path as clean: sync → view (scan, policies, holds) →
// decide → one commit → compare-and-swap push; on a lost race, fetch and decide again.
//   hold POOL/LOCK, unhold POOL/LOCK, release POOL/LOCK (by hand), doctor (changes nothing).

import { execFile } from "node:child_process";
import { hostname, userInfo } from "node:os";
import type { Config } from "./decide/config.js";
import type { Hold, PoolPolicy, ReleaseMove } from "./core/model.js";
import { PoolBoyError } from "./core/errors.js";
import { safeUrl } from "./core/redact.js";
import { formatTimeout } from "./core/durations.js";
import { gitBaseEnv, prepareTransport, removeAbandonedDirs } from "./io/git/transport.js";
import { syncRepo, refresh, type SyncedRepo } from "./io/git/sync.js";
import { listTree } from "./io/git/scan.js";
import { applyEdit, applyRelease } from "./io/git/apply.js";
import { connectAtc, type AtcClient } from "./io/atc/client.js";
import { parseClaim } from "./decide/parse.js";
import { decideHold, describeHold, holdActive, holdPath, holdText } from "./decide/holds.js";
import { checkTargets, decideManualRelease } from "./decide/policy.js";
import { planRelease } from "./decide/plan.js";
import { diagnose } from "./decide/doctor.js";
import { judgeSnapshot, type RunDeps } from "./run.js";
import { holdOf, viewRepo } from "./view.js";
import type { DoctorResult, HoldResult, ManualReleaseResult } from "./report/controls.js";

export interface LockTarget {
  pool: string;
  name: string;
}

/** "aws/env-1" → { pool, name }, or a usage error naming the argument. */
export function parseTarget(text: string): LockTarget {
  const slash = text.indexOf("/");
  const pool = text.slice(0, slash);
  const name = text.slice(slash + 1);
  if (slash <= 0 || name === "" || name.includes("/") || pool.startsWith(".") || name === "." || name === "..")
    throw new PoolBoyError("usage", `"${text}" is not POOL/LOCK (e.g. aws/env-1)`, "name the lock as its pool's folder and its file name: POOL/LOCK");
  return { pool, name };
}

/** Who runs a command by hand: --by, else POOL_BOY_BY, else git's user.name/email, else USER@host. */
export async function whoRuns(by: string | undefined, env: Record<string, string | undefined>): Promise<string> {
  const given = (by ?? env["POOL_BOY_BY"] ?? "").trim();
  if (given) return given;
  const git = (key: string) =>
    new Promise<string>((resolve) =>
      // git's allowlist: it needs HOME and the config paths, never the run's credentials
      execFile("git", ["config", "--get", key], { env: gitBaseEnv({ ...process.env, ...env }, { kind: "none" }), timeout: 5000 }, (err, out) =>
        resolve(err ? "" : String(out).trim()),
      ),
    );
  const [name, email] = await Promise.all([git("user.name"), git("user.email")]);
  if (name) return email ? `${name} <${email}>` : name;
  let user = env["USER"] ?? "";
  try {
    user ||= userInfo().username;
  } catch {
    // no user database entry (a container's arbitrary uid)
  }
  return `${user || "unknown"}@${hostname()}`;
}

interface Session {
  repo: SyncedRepo;
  api: AtcClient | null;
  warnings: string[];
}

async function withSession<T>(config: Config, deps: RunDeps, useApi: boolean, fn: (s: Session) => Promise<T>): Promise<T> {
  // A run killed outright (SIGKILL) could not remove its deploy key: this one does.
  for (const dir of await removeAbandonedDirs()) deps.log(`removed ${dir}, left behind by a pool-boy run that was killed`);
  const transport = await prepareTransport({ url: config.repo, auth: config.repoAuth, env: deps.env });
  let repo: SyncedRepo | null = null;
  let api: AtcClient | null = null;
  try {
    deps.progress("syncing the pool repository…");
    const [synced, connected] = await Promise.allSettled([
      syncRepo({ url: transport.url, branch: config.branch, cacheDir: config.cacheDir, env: transport.env, mask: deps.redactor.outside, log: deps.log }),
      useApi && config.atc ? connectAtc({ ...config.atc, log: deps.log, mask: deps.redactor.outside }) : Promise.resolve(null),
    ]);
    if (synced.status === "fulfilled") repo = synced.value;
    if (connected.status === "fulfilled") api = connected.value;
    if (synced.status === "rejected") throw synced.reason;
    if (connected.status === "rejected") throw connected.reason;
    if (!repo) throw new PoolBoyError("git", "the repository could not be synced");
    deps.log(`synced ${safeUrl(config.repo)} ${repo.branch} at ${repo.head}`);
    return await fn({ repo, api, warnings: [...config.repoWarnings] });
  } finally {
    await api?.close().catch(() => undefined);
    await repo?.cleanup().catch(() => undefined);
    await transport.cleanup().catch(() => undefined);
  }
}

/** Runs `step` until it pushed or decided nothing needs pushing; a lost race fetches and runs it again. */
async function casLoop<T>(
  config: Config,
  s: Session,
  deps: RunDeps,
  step: (attempts: number) => Promise<{ done: T; lost?: undefined } | { lost: string; done?: undefined }>,
): Promise<T> {
  for (let attempts = 1; ; attempts += 1) {
    const outcome = await step(attempts);
    if (outcome.lost === undefined) return outcome.done as T;
    deps.log(`push refused (${outcome.lost}); attempt ${attempts} of ${config.maxAttempts}`);
    if (attempts >= config.maxAttempts)
      throw new PoolBoyError(
        "git",
        `the push to ${s.repo.branch} was refused ${attempts} times: others keep pushing to the pool repository`,
        "nothing was changed; run again later or raise --max-attempts",
      );
    s.api?.forget();
    await refresh(s.repo);
  }
}

// ---- hold / unhold ----

export async function hold(config: Config, target: LockTarget, options: { reason: string; forSeconds: number | null; by: string }, deps: RunDeps): Promise<HoldResult> {
  return withSession(config, deps, false, (s) =>
    casLoop<HoldResult>(config, s, deps, async (attempts) => {
      // a hold never releases anything: a broken repository config does not stop it
      const view = await viewRepo(s.repo, config, "all", undefined, { brokenRepoConfig: "skip" });
      const now = deps.now();
      const existing = holdOf(view.holds, target.pool, target.name);
      const decision = decideHold(view.snapshot, target.pool, target.name, existing, now);
      if (!decision.ok) throw new PoolBoyError("usage", decision.problems.why, `nothing was changed; ${decision.problems.hint}`);
      const lock = view.snapshot.locks.find((l) => l.pool === target.pool && l.name === target.name);
      const h: Hold = {
        ...target,
        path: holdPath(target.pool, target.name),
        by: options.by,
        reason: options.reason,
        since: now,
        until: options.forSeconds === null ? null : new Date(now.getTime() + options.forSeconds * 1000),
        claim: lock?.claim?.sha ?? null,
      };
      const until = h.until ? `until ${h.until.toISOString()} (${formatTimeout(options.forSeconds)})` : "until unhold";
      const outcome = await applyEdit(s.repo, {
        base: view.snapshot.head,
        branch: view.snapshot.branch,
        message: `pool-boy hold: ${target.pool}/${target.name}\n\nHeld by ${options.by} ${until}: ${options.reason}\nClaim commit: ${h.claim ?? "unknown"}`,
        write: { path: h.path, content: holdText(h) },
      });
      if (!outcome.pushed) return { lost: outcome.detail };
      return { done: { command: "hold", repo: safeUrl(config.repo), branch: s.repo.branch, ...target, hold: h, commit: outcome.commits[0] as string, attempts } };
    }),
  );
}

export async function unhold(config: Config, target: LockTarget, options: { by: string }, deps: RunDeps): Promise<HoldResult> {
  return withSession(config, deps, false, (s) =>
    casLoop<HoldResult>(config, s, deps, async (attempts) => {
      const view = await viewRepo(s.repo, config, "all", undefined, { brokenRepoConfig: "skip" });
      const existing = holdOf(view.holds, target.pool, target.name);
      if (!existing)
        throw new PoolBoyError(
          "usage",
          `${target.pool}/${target.name} is not held`,
          `nothing was changed; the holds: ${view.holds.map((h) => `${h.pool}/${h.name}`).join(", ") || "none"}`,
        );
      const state = holdActive(existing, deps.now()) ? "" : " (it had expired)";
      const outcome = await applyEdit(s.repo, {
        base: view.snapshot.head,
        branch: view.snapshot.branch,
        message: `pool-boy unhold: ${target.pool}/${target.name}\n\nHold lifted by ${options.by}${state}; it was ${describeHold(existing)}`,
        remove: existing.path,
      });
      if (!outcome.pushed) return { lost: outcome.detail };
      return { done: { command: "unhold", repo: safeUrl(config.repo), branch: s.repo.branch, ...target, hold: existing, commit: outcome.commits[0] as string, attempts } };
    }),
  );
}

// ---- release by hand ----

export async function releaseByHand(
  config: Config,
  target: LockTarget,
  options: { reason: string; force: boolean; by: string; to: string | null },
  deps: RunDeps,
): Promise<ManualReleaseResult> {
  return withSession(config, deps, true, (s) =>
    casLoop<ManualReleaseResult>(config, s, deps, async (attempts) => {
      const view = await viewRepo(s.repo, config, "all");
      const { snapshot } = view;
      const name = `${target.pool}/${target.name}`;
      const lock = snapshot.locks.find((l) => l.pool === target.pool && l.name === target.name);
      if (!lock) {
        const inventory = snapshot.pools.find((p) => p.pool === target.pool);
        if (!inventory) throw new PoolBoyError("usage", `${name}: there is no pool "${target.pool}" in the repository`, `the pools: ${snapshot.pools.map((p) => p.pool).join(", ") || "none"}`);
        if (inventory.unclaimed.includes(target.name)) throw new PoolBoyError("usage", `${name} is not claimed: it is in ${target.pool}/unclaimed/ already`, "nothing was changed");
        throw new PoolBoyError("usage", `${name} does not exist: there is no lock "${target.name}" in pool ${target.pool}`, "nothing was changed");
      }
      const policy: PoolPolicy = view.policies.find((p) => p.pool === target.pool) ?? { pool: target.pool, timeoutSeconds: null, keepFailedSeconds: null, releaseTo: null };
      deps.progress(`asking Concourse about ${name}…`);
      const [judged] = await judgeSnapshot({ ...snapshot, locks: [lock] }, [policy], s.api, config, deps, null, () => undefined, view.holds);
      if (!judged) throw new Error(`${name} was not judged`);
      const h = holdOf(view.holds, target.pool, target.name);
      const decision = decideManualRelease(judged, h, options.force, deps.now());
      if (!decision.ok) throw new PoolBoyError("usage", decision.problems.why, decision.problems.hint);
      const [checked] = checkTargets([{ ...judged, verdict: decision.value.verdict }], snapshot, options.to);
      if (!checked || checked.verdict.action !== "release")
        throw new PoolBoyError("usage", `refusing to release ${name}: ${checked?.verdict.detail ?? "no target"}`, "nothing was changed; pick another pool with --to, or fix the target pool");
      const plan = planRelease(snapshot.head, snapshot.branch, [checked], snapshot.pools, { reason: options.reason, by: options.by, to: options.to, takenFrom: decision.value.forced });
      const outcome = await applyRelease(s.repo, plan);
      if (!outcome.pushed) {
        if (outcome.reason === "nothing-to-do") throw new Error("a release plan with one move had nothing to do");
        return { lost: outcome.detail };
      }
      return {
        done: {
          command: "release",
          repo: safeUrl(config.repo),
          branch: s.repo.branch,
          lock: checked,
          move: plan.moves[0] as ReleaseMove,
          takenFrom: decision.value.forced,
          by: options.by,
          reason: options.reason,
          commit: outcome.commits[0] as string,
          attempts,
        },
      };
    }),
  );
}

// ---- doctor ----

export async function doctor(config: Config, deps: RunDeps): Promise<DoctorResult> {
  return withSession(config, deps, false, async (s) => {
    const view = await viewRepo(s.repo, config, "all", undefined, { brokenRepoConfig: "skip" });
    const entries = await listTree(s.repo.target, view.snapshot.head);
    const claims = view.snapshot.locks.map((l) => ({ pool: l.pool, name: l.name, claim: l.claim ? parseClaim(l.claim.message, config.team) : null }));
    const findings = diagnose({ entries, claims, holds: view.holds, holdProblems: view.holdProblems, missingPools: view.missingPools, repoConfigProblems: view.repoConfigProblems, now: deps.now() });
    return { command: "doctor", repo: safeUrl(config.repo), branch: s.repo.branch, head: view.snapshot.head, pools: view.snapshot.pools.map((p) => p.pool), findings };
  });
}
