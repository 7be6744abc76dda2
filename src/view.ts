// What the repository says at one head, with the operator's settings: scan the pools, read
// .pool-boy/ (the repository's config file and the holds), merge the settings of every source
// into one policy per pool. Used by every command (status, clean, hold, release, doctor).

import type { Config } from "./decide/config.js";
import type { Hold, PoolPolicy, RepoSnapshot } from "./core/model.js";
import { ConfigErrors, PoolBoyError } from "./core/errors.js";
import { layerFromSelection, mergePolicies, parseConfigFile, REPO_CONFIG_PATH, type ConfigLayer } from "./decide/config-file.js";
import { parseHold } from "./decide/holds.js";
import { readControls } from "./io/git/controls.js";
import { scanRepo } from "./io/git/scan.js";
import type { SyncedRepo } from "./io/git/sync.js";

/** What the repository at one head says: the pools and their locks, each pool's policy, the holds. */
export interface RepoView {
  snapshot: RepoSnapshot;
  policies: PoolPolicy[];
  holds: Hold[];
  /** hold files that could not be read (they still hold their lock) */
  holdProblems: Array<{ path: string; problem: string }>;
  /** pools the config files name that the repository lacks */
  missingPools: Array<{ pool: string; source: string }>;
  warnings: string[];
  /** the repository's config file's problems, when the caller reads past a broken file (doctor, hold) */
  repoConfigProblems: string[];
}

/**
 * Scan the synced head with the settings of every layer: flags and env (--pools), then --config,
 * then the repository's .pool-boy/config.yaml. "pools": a run over pools (status, clean) needs at
 * least one layer to name some; "all": the commands on one lock and doctor read every pool.
 */
export async function viewRepo(
  repo: SyncedRepo,
  config: Config,
  mode: "pools" | "all",
  /** how the pools are scanned (run.ts: through the claim index and the last round's base) */
  scan: (pools: string[] | "*") => Promise<RepoSnapshot> = (pools) => scanRepo(repo, pools),
  options: { brokenRepoConfig?: "refuse" | "skip" } = {},
): Promise<RepoView> {
  const needPools = mode === "pools";
  const controls = await readControls(repo, repo.head);
  const layers: ConfigLayer[] = [];
  const repoConfigProblems: string[] = [];
  if (config.pools.named.length > 0 || config.pools.wildcard !== undefined) layers.push(layerFromSelection(config.pools, "--pools"));
  if (config.configFile) layers.push(config.configFile);
  if (controls.configText !== null) {
    const parsed = parseConfigFile(controls.configText, REPO_CONFIG_PATH);
    // A broken file refuses every run that reads settings from it (status, clean, release): its
    // settings are unknown, so nothing is judged by them. doctor reports it; hold/unhold (which
    // only keep locks) read past it.
    if (!parsed.ok && options.brokenRepoConfig !== "skip")
      throw new ConfigErrors(
        parsed.problems.map((p) => `${p} (in ${repo.display}, ${repo.branch} at ${repo.head.slice(0, 12)})`),
        `nothing was changed; fix ${REPO_CONFIG_PATH} in the repository (pool-boy doctor shows its problems); --config FILE and --pools override its settings pool by pool but do not replace a broken file`,
      );
    if (parsed.ok) layers.push(parsed.value);
    else repoConfigProblems.push(...parsed.problems);
  }
  // No pools named anywhere: every pool, with no timeout. Only the API judges; a lock that only a
  // timeout could judge is kept, with that reason (clean never releases by a guessed age).
  if (needPools && layers.every((l) => l.pools.size === 0)) {
    const snapshot = await scan("*");
    const policies = snapshot.pools.map((p) => ({ pool: p.pool, timeoutSeconds: null, unset: true }));
    return { ...holdsOf(controls.holdFiles), snapshot, policies, missingPools: [], warnings: [], repoConfigProblems };
  }
  // Only --pools: scan just the pools it names, as before; a config file may name pools the
  // repository lacks (a warning, and doctor reports it), so then every pool is read.
  const onlyFlags = needPools && layers.length === 1 && layers[0]?.strict && config.pools.wildcard === undefined;
  const snapshot = await scan(onlyFlags ? config.pools.named.map((p) => p.pool) : "*");
  // "all": every pool has its settings (a release by hand honours release-to whatever --pools
  // names); a leading "*" layer that says nothing selects every pool without setting anything.
  const every: ConfigLayer = { source: "(every pool)", pools: new Map([["*", {}]]), strict: false };
  const merged = mergePolicies(snapshot.pools.map((p) => p.pool), needPools ? layers : [every, ...layers]);
  const required = merged.required[0];
  if (!needPools) merged.missing.push(...merged.required);
  else if (required)
    throw new PoolBoyError(
      "config",
      `pool "${required.pool}" does not exist in ${repo.display} (${repo.branch}): there is no ${required.pool}/claimed/ folder`,
      snapshot.pools.length ? `the pools in the repository: ${snapshot.pools.map((p) => p.pool).join(", ")}` : "the repository has no pools",
    );
  const { holds, holdProblems } = holdsOf(controls.holdFiles);
  const warnings = merged.missing.map((m) => `${m.source} names pool "${m.pool}", which the repository does not have: skipped`);
  return { snapshot, policies: merged.policies, holds, holdProblems, missingPools: merged.missing, warnings, repoConfigProblems };
}

function holdsOf(files: Array<{ path: string; text: string }>): { holds: Hold[]; holdProblems: RepoView["holdProblems"] } {
  const holds: Hold[] = [];
  const holdProblems: RepoView["holdProblems"] = [];
  for (const file of files) {
    const parsed = parseHold(file.path, file.text);
    if (!parsed) {
      holdProblems.push({ path: file.path, problem: "not a hold file (holds are .pool-boy/holds/POOL/LOCK)" });
      continue;
    }
    holds.push(parsed.hold);
    if (parsed.problem) holdProblems.push({ path: file.path, problem: parsed.problem });
  }
  return { holds, holdProblems };
}

export function holdOf(holds: Hold[], pool: string, name: string): Hold | null {
  return holds.find((h) => h.pool === pool && h.name === name) ?? null;
}

