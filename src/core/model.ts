// Shared data types: the plain data that flows along the run
// config → sync → scan → parse → ask → judge → plan → release → report.
// Nothing here does I/O.

export const BUILD_STATUSES = ["pending", "started", "succeeded", "failed", "errored", "aborted"] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];
export const RUNNING_STATUSES: readonly BuildStatus[] = ["pending", "started"];

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A Concourse pipeline's instance vars (7.0+), as the JSON object the pipeline was set with. */
export type InstanceVars = { [key: string]: JsonValue };

/** The build a claim commit names. Job builds are looked up by team/pipeline/job/name, one-off builds by id. */
export type BuildRef =
  | {
      kind: "job";
      team: string;
      pipeline: string;
      /** null for a pipeline that is not instanced */
      instanceVars: InstanceVars | null;
      job: string;
      /** the job-scoped build name: "42", or "42.1" for a rerun */
      name: string;
    }
  | { kind: "one-off"; id: string };

/** Which pool-resource message shape a claim commit has (see reference §6). */
export type ClaimFormat =
  | "hash" // P/J #N (2015-09)
  | "backtick-hash" // P/J `#N` (2016-06)
  | "build" // P/J build N (2016-07, v1.0.0)
  | "team-build" // T/P/J build N (v1.0.1)
  | "team-build-vars" // T/P/J build N {json} (f6b6783, untagged)
  | "team-instanced" // T/P/{json}/J build N (v1.7.1)
  | "one-off" // one-off #ID, one-off `#ID`, one-off build ID
  | "build-url" // claiming: L + Build URL: <url> (v1.8.0)
  | "none"; // no prefix, empty Build URL, or free text: the owner is unknown

export type ClaimOperation = "claiming" | "adding claimed" | "updating";

export interface ParsedClaim {
  /** the pool-resource operation word, or null when the message is not one of its messages */
  operation: ClaimOperation | null;
  owner: BuildRef | null;
  format: ClaimFormat;
  /** when owner is null: why, in words for people */
  note: string | null;
  /**
   * The Concourse a `Build URL:` names: its external URL (scheme, host, port, path prefix), as
   * written. Absent for the other formats, which do not say which Concourse the build ran on.
   */
  concourse?: string;
}

/** The commit that put a lock file at POOL/claimed/NAME: a move from unclaimed/ or an add. */
export interface ClaimCommit {
  sha: string;
  committedAt: Date;
  /** the full message (%B), trailing whitespace trimmed */
  message: string;
}

/**
 * A later commit that only edited a claimed lock file (its content or its mode) in place. The
 * pool-resource never does that to a claimed file (it moves or adds), so such a commit was made by
 * a person or another tool: it is reported, and changes neither the lock's owner nor its age.
 */
export interface ClaimEdit {
  sha: string;
  committedAt: Date;
}

export interface ClaimedLock {
  pool: string;
  name: string;
  /** POOL/claimed/NAME */
  path: string;
  /** null when the history holds no commit that put the file there */
  claim: ClaimCommit | null;
  /** commits after the claim that edited the file in place (content or mode), newest first */
  editedAfterClaim: ClaimEdit[];
  /** a reason this lock must not be touched (also in unclaimed/, not a regular file, …), or null */
  problem: string | null;
}

export interface PoolInventory {
  pool: string;
  claimed: string[];
  unclaimed: string[];
  /**
   * claimed/ holds a dot-file (.gitkeep or the like), which keeps the folder in git when its
   * last lock leaves; without one, git drops the empty folder.
   */
  claimedKept: boolean;
}

/** What the scan saw at one commit of the branch. */
export interface RepoSnapshot {
  branch: string;
  head: string;
  pools: PoolInventory[];
  locks: ClaimedLock[];
}

/** Per-pool policy: the age after which a lock whose owner the API cannot vouch for is stale. */
export interface PoolPolicy {
  pool: string;
  /** null: never release by age */
  timeoutSeconds: number | null;
  /** true when no timeout was given for the pool at all (no --pools): only the API can judge */
  unset?: boolean;
  /** a failed or errored owner's lock is kept this long after its build ended (reason debug-window); null or absent: not kept */
  keepFailedSeconds?: number | null;
  /** released locks go to this pool's unclaimed/ (quarantine); null or absent: back to their own pool */
  releaseTo?: string | null;
  /** the source of each setting: --pools, --config FILE, .pool-boy/config.yaml or default (status --verbose) */
  sources?: { timeout: string; keepFailed: string; releaseTo: string };
}

/**
 * A person's hold on a claimed lock: clean never releases it until `until` (or unhold). Stored in
 * the pool repository at .pool-boy/holds/POOL/LOCK, outside every pool's folder.
 */
export interface Hold {
  pool: string;
  name: string;
  /** the file in the repository */
  path: string;
  by: string;
  reason: string;
  since: Date;
  /** null: until unhold */
  until: Date | null;
  /** the claim commit the lock had when it was held, or null */
  claim: string | null;
}

/** A build as the ATC describes it, reduced to what pool-boy uses. */
export interface BuildInfo {
  id: number;
  name: string;
  status: BuildStatus;
  team: string;
  pipeline: string | null;
  job: string | null;
  instanceVars: InstanceVars | null;
  /** unix seconds */
  startTime: number | null;
  endTime: number | null;
}

/** The outcome of one API lookup. Expected outcomes are values, not exceptions. */
export type Lookup<T> =
  | { kind: "found"; value: T }
  | { kind: "not-found"; detail: string }
  | { kind: "no-access"; status: 401 | 403; detail: string }
  | { kind: "transient"; detail: string };

/** A build as reported: who it is and what state it is in. */
export interface BuildState {
  ref: BuildRef;
  status: BuildStatus;
  id: number | null;
  /** unix seconds the build ended, when the API said (for keep-failed) */
  endTime?: number | null;
}

/**
 * Why the owner of a lock could not be judged, for machines (JSON `cause`, metrics):
 * - no-owner: the claim commit names no build (by hand, an old or garbled message)
 * - no-api: no Concourse API is configured
 * - not-found: Concourse's own empty-bodied 404 for the team, pipeline, job or build (or its
 *   empty 400 for a query it cannot read)
 * - no-access: 401 or 403: the build may not be read with the credentials given (kept, exit 5)
 * - api-error: no usable answer (timeout, 5xx, a 404 or 200 Concourse never writes): kept this run
 * - foreign-concourse: the Build URL names another Concourse, which is not asked
 * - handoff-unknown: the claimer succeeded, but the API cannot say who took the lock on
 */
export const OWNER_CAUSES = [
  "no-owner",
  "no-api",
  "not-found",
  "no-access",
  "api-error",
  "foreign-concourse",
  "handoff-unknown",
] as const;
export type OwnerCause = (typeof OWNER_CAUSES)[number];

/**
 * What the API tells us about the build that holds a lock (the claiming build, or the
 * build it was handed to). Decided by a pure function from lookups.
 */
export type OwnerState =
  | { kind: "running"; holder: BuildState; handedOff: boolean }
  | { kind: "finished"; holder: BuildState; handedOff: boolean }
  /** the holder finished but a job downstream may still take the lock: the timeout decides */
  | { kind: "waiting"; holder: BuildState; handedOff: boolean; candidates: string[] }
  /** the API cannot say (no owner, no API, 404, another Concourse, hand-off data missing): the timeout decides */
  | { kind: "silent"; why: string; cause: OwnerCause; holder: BuildState | null }
  /** no usable answer (transient failure after retries, an answer Concourse never writes) or no access (401/403): keep */
  | {
      kind: "unreachable";
      why: string;
      cause: OwnerCause;
      /** with cause no-access: the team refused (null for a one-off build) and the status */
      access?: { team: string | null; status: 401 | 403 };
    };

export const REASONS = ["alive", "finished", "stale", "young", "no-timeout", "unknown", "conflict", "held", "debug-window"] as const;
export type Reason = (typeof REASONS)[number];

export type Verdict =
  | { action: "keep"; reason: "alive" | "young" | "no-timeout" | "unknown" | "conflict" | "held" | "debug-window"; detail: string }
  | { action: "release"; reason: "finished" | "stale"; detail: string };

/** One claimed lock with everything decided about it. */
export interface JudgedLock {
  lock: ClaimedLock;
  claim: ParsedClaim | null;
  owner: OwnerState;
  verdict: Verdict;
  /** seconds between the claim commit and the judgement, null when no claim commit was found */
  ageSeconds: number | null;
  /** seconds the claim commit is dated ahead of the judgement (clock skew): 0 when it is not, null without a claim commit */
  aheadSeconds?: number | null;
  policy: PoolPolicy;
  /** the hold in force on this lock, when there is an active one */
  hold?: Hold | null;
}

export interface ReleaseMove {
  pool: string;
  name: string;
  from: string;
  to: string;
  message: string;
  /** POOL/claimed/.gitkeep, added by the same commit when it moves the last lock out of a claimed/ nothing else keeps */
  gitkeep?: string;
}

/** The commits `clean` intends to make on top of `base`, one per lock. */
export interface ReleasePlan {
  base: string;
  branch: string;
  moves: ReleaseMove[];
}

export type ApplyOutcome =
  /**
   * `commits` are this run's release commits, `from` the index of the first in the plan: another
   * run that wrote the very same first commits (same base, same plan prefix, same second) and
   * pushed them first released those, not this one.
   */
  | { pushed: true; commits: string[]; from: number }
  | {
      pushed: false;
      reason: "non-fast-forward" | "nothing-to-do";
      detail: string;
      /** the branch was at these very commits already: another run made and pushed the same release */
      alreadyThere?: boolean;
    };

/** Who the Concourse credentials belong to, from the user endpoint: the teams they may read (reference §4). */
export interface ConcourseUser {
  /** user_name, else name, else sub; null when the answer names nobody */
  name: string | null;
  teams: string[];
  /** an admin reads every team */
  isAdmin: boolean;
}

export interface ApiStats {
  requests: number;
  maxInFlight: number;
  /** request outcomes: ok, not-found, no-access, transient, retry */
  outcomes: Record<string, number>;
}

// ---- What the ATC says for hand-off decisions (reference §7), reduced to what is used. ----
// Nothing from a job's `inputs` endpoint (which carries the resource's `source`) is kept.

export interface JobInput {
  /** the get step's name */
  name: string;
  resource: string;
  /** jobs named in `passed:`; empty when none */
  passed: string[];
}

export interface JobOutput {
  /** the put step's name */
  name: string;
  resource: string;
}

export interface JobInfo {
  name: string;
  paused: boolean;
  inputs: JobInput[];
  outputs: JobOutput[];
}

/** One input or output of a build: a step name and the pool-resource version's ref (a commit sha). */
export interface BuildVersionRef {
  name: string;
  /** version.ref, or null when the version has no `ref` key (not a pool-resource version) */
  ref: string | null;
}

export interface BuildResources {
  inputs: BuildVersionRef[];
  outputs: BuildVersionRef[];
}

export interface ResourceVersion {
  id: number;
  ref: string | null;
  enabled: boolean;
}

// ---- The result of one run, for the report stage (table, JSON, metrics). ----

export interface PoolCounts {
  pool: string;
  claimed: number;
  unclaimed: number;
}

/** A run-wide warning: a stable code for machines and a sentence for people. */
export interface RunWarning {
  code: string;
  message: string;
}

/** A lock `clean` released: the move, why, and the commit that did it. */
export interface ReleasedLock extends ReleaseMove {
  reason: "finished" | "stale";
  detail: string;
  commit: string | null;
}

export interface RunResult {
  command: "status" | "clean";
  /** the repository as given, credentials removed */
  repo: string;
  branch: string;
  /** the branch head the final judgement was made on (after clean: the pushed head) */
  head: string;
  /** "api" when the owner builds were asked about; "timeout-only" when no API is configured */
  mode: "api" | "timeout-only";
  atcVersion: string | null;
  /** the Concourse's URL (for build links), null without an API */
  atcUrl?: string | null;
  /** the fly target used, if any */
  target?: string | null;
  /** the team claims without one are looked up in */
  team?: string;
  /** sorted by pool, then lock name: the order the table and the JSON show */
  locks: JudgedLock[];
  /** counts after the run (after clean: after the release), sorted by pool name */
  pools: PoolCounts[];
  /** the pools' timeouts as used */
  policies?: PoolPolicy[];
  /** --only, as given (empty: every lock of the selected pools) */
  only?: string[];
  released: ReleasedLock[];
  commits: string[];
  /** judge-and-push rounds (more than 1 after lost races) */
  attempts: number;
  api: ApiStats | null;
  startedAt: Date;
  finishedAt: Date;
  warnings: RunWarning[];
}
