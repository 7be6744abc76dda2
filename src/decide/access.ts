// What the run says about claims it could not judge for lack of API access (401/403). Pure.
//
// 401 and 403 never lead to a release: such a lock is kept (`unknown`), and the run says once per
// team what to fix (which user, which team, how), then ends with exit 5 so that a scheduled task's
// owner notices. Before asking, the teams the credentials belong to are compared with the teams
// the claims name, so a missing membership is said before the first lookup.

import type { BuildRef, ConcourseUser, JudgedLock } from "../core/model.js";

/** The credentials, without their secrets: enough to say whose access is missing and how to fix it. */
export type AccessAuth =
  | { kind: "none" }
  | { kind: "password"; username: string }
  | { kind: "token"; source: string; flyTarget?: string };

export interface AccessFacts {
  /** the configured Concourse URL */
  url: string;
  auth: AccessAuth;
  /** who the credentials belong to, when the user endpoint said */
  user: ConcourseUser | null;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The lock was kept because the API refused to show its build (401/403). */
export function keptForNoAccess(j: JudgedLock): boolean {
  // a conflict is kept for its own reason, whatever the API said
  return j.owner.kind === "unreachable" && j.owner.cause === "no-access" && j.verdict.reason === "unknown";
}

/**
 * The locks kept because Concourse refused to show their builds, said in one sentence (null:
 * none). The CLI exits 5 after it; the resource's put fails with it.
 */
export function noAccessSentence(locks: readonly JudgedLock[]): string | null {
  const kept = locks.filter(keptForNoAccess);
  if (kept.length === 0) return null;
  const teams = [...new Set(kept.map((j) => (j.owner.kind === "unreachable" ? (j.owner.access?.team ?? "the team of a one-off build") : "")))].sort();
  return `${kept.length} lock${kept.length === 1 ? " was" : "s were"} kept without a judgement: Concourse refused access to ${teams.join(", ")} (HTTP 401/403)`;
}

function who(facts: AccessFacts): string | null {
  if (facts.user?.name) return facts.user.name;
  if (facts.auth.kind === "password") return facts.auth.username;
  return null;
}

function addToTeam(user: string, team: string): string {
  return (
    `add ${user} to team ${team}: fly -t ADMIN_TARGET set-team -n ${team} --local-user ${user}, repeating the team's current ` +
    `members and groups (fly -t ADMIN_TARGET get-team -n ${team} shows them; set-team replaces them), or give pool-boy a user of team ${team}`
  );
}

function fixFor(facts: AccessFacts, team: string | null, status: 401 | 403): string {
  const teamText = team ?? "the team that ran them";
  const user = who(facts);
  switch (facts.auth.kind) {
    case "none":
      return (
        `give pool-boy a user of ${team ? `team ${team}` : teamText}: CONCOURSE_USERNAME and CONCOURSE_PASSWORD (a local user), ` +
        `a token (CONCOURSE_TOKEN or --token-file), or --target with a fly target logged in to it`
      );
    case "password":
      if (status === 403) return addToTeam(facts.auth.username, teamText);
      return `Concourse refused ${facts.auth.username}'s token even after a fresh login: check that fly -t TARGET login -c ${facts.url} -u ${facts.auth.username} works and that ${facts.auth.username} belongs to ${team ? `team ${team}` : teamText}`;
    case "token": {
      const login = facts.auth.flyTarget ? `fly -t ${facts.auth.flyTarget} login -n ${team ?? "TEAM"}` : `fly -t TARGET login -c ${facts.url} -n ${team ?? "TEAM"}`;
      if (status === 401) return `the token from ${facts.auth.source} was refused: log in again (${login}) or give CONCOURSE_USERNAME and CONCOURSE_PASSWORD of a user of ${team ? `team ${team}` : teamText}`;
      return user ? addToTeam(user, teamText) : `log in as a member of ${team ? `team ${team}` : teamText} (${login})`;
    }
  }
}

function whyRefused(facts: AccessFacts, team: string | null, status: 401 | 403): string {
  const user = who(facts);
  if (status === 401) {
    if (facts.auth.kind === "none") return "HTTP 401: the pipelines are not public and no Concourse credentials were given";
    if (facts.auth.kind === "token") return `HTTP 401: the token from ${facts.auth.source} was refused`;
    return `HTTP 401: ${facts.auth.username}'s login was refused`;
  }
  const of = facts.auth.kind === "token" ? ` (the token from ${facts.auth.source})` : "";
  return `HTTP 403: ${user ?? "the user"}${of} is not a member of ${team ? `team ${team}` : "their team"}`;
}

/**
 * One warning per team whose builds the API refused to show: how many locks were kept, why, and
 * the fix. One-off builds, whose team the claims do not name, are grouped together.
 */
export function noAccessWarnings(facts: AccessFacts, judged: JudgedLock[]): string[] {
  const byTeam = new Map<string | null, { locks: number; status: 401 | 403; builds: string[] }>();
  for (const j of judged) {
    if (!keptForNoAccess(j) || j.owner.kind !== "unreachable") continue;
    const team = j.owner.access?.team ?? null;
    const status = j.owner.access?.status ?? 401;
    const entry = byTeam.get(team) ?? { locks: 0, status, builds: [] };
    entry.locks++;
    // a 401 says more about what to fix (no or refused credentials) than a 403
    if (status === 401) entry.status = 401;
    const owner = j.claim?.owner;
    if (team === null && owner?.kind === "one-off") entry.builds.push(owner.id);
    byTeam.set(team, entry);
  }
  const teams = [...byTeam.keys()].sort((a, b) => (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0));
  return teams.map((team) => {
    const entry = byTeam.get(team)!;
    const what = team !== null ? `team ${team}` : `one-off build${entry.builds.length === 1 ? "" : "s"} ${[...new Set(entry.builds)].sort().join(", ")} (the claims do not name the team)`;
    return (
      `no access to ${what}: ${plural(entry.locks, "lock")} kept without a judgement (${whyRefused(facts, team, entry.status)}); ` +
      `the run ends with exit 5 until this is fixed. Fix: ${fixFor(facts, team, entry.status)}`
    );
  });
}

/**
 * Before asking: the teams the claims name that the credentials are not a member of. Their
 * pipelines may still be public, so this warns rather than decides.
 */
export function membershipWarnings(facts: AccessFacts, owners: Array<BuildRef | null>): string[] {
  const user = facts.user;
  if (!user || user.isAdmin || facts.auth.kind === "none") return [];
  const counts = new Map<string, number>();
  for (const owner of owners) if (owner?.kind === "job") counts.set(owner.team, (counts.get(owner.team) ?? 0) + 1);
  const mine = new Set(user.teams);
  const name = who(facts) ?? "the user";
  return [...counts.keys()]
    .filter((team) => !mine.has(team))
    .sort()
    .map(
      (team) =>
        `${name} is not a member of team ${team}, which ${plural(counts.get(team) ?? 0, "claim")} name${counts.get(team) === 1 ? "s" : ""} ` +
        `(${name}'s teams: ${user.teams.join(", ") || "none"}): unless its pipelines are public, those locks will be kept without a judgement ` +
        `and the run will end with exit 5. Fix: ${addToTeam(name, team)}`,
    );
}
