// The operator commands' results → text for people and the --json documents. Pure.
// JSON field names are a public interface: add, don't rename.

import { Chalk } from "chalk";
import type { Finding } from "../decide/doctor.js";
import { describeHold } from "../decide/holds.js";
import { lockJson } from "./json.js";
import { escapeText } from "../core/escape.js";

/** Repository text (lock names, hold reasons, paths) is shown, never executed: each line escaped. */
function lines(...texts: string[]): string {
  return texts.map(escapeText).join("\n") + "\n";
}
import type { Hold, JudgedLock, ReleaseMove } from "../core/model.js";

/** What hold and unhold did (src/operate.ts returns it). */
export interface HoldResult {
  command: "hold" | "unhold";
  repo: string;
  branch: string;
  pool: string;
  name: string;
  hold: Hold;
  commit: string;
  attempts: number;
}

/** What a release by hand did. */
export interface ManualReleaseResult {
  command: "release";
  repo: string;
  branch: string;
  lock: JudgedLock;
  move: ReleaseMove;
  /** whose build a forced release took it from, or null */
  takenFrom: string | null;
  by: string;
  reason: string;
  commit: string;
  attempts: number;
}

/** What doctor found. */
export interface DoctorResult {
  command: "doctor";
  repo: string;
  branch: string;
  head: string;
  pools: string[];
  findings: Finding[];
}

export function holdJson(r: HoldResult) {
  return {
    command: r.command,
    repo: r.repo,
    branch: r.branch,
    pool: r.pool,
    name: r.name,
    hold: { by: r.hold.by, reason: r.hold.reason, since: r.hold.since.toISOString(), until: r.hold.until ? r.hold.until.toISOString() : null, claim: r.hold.claim, path: r.hold.path },
    commit: r.commit,
    attempts: r.attempts,
  };
}

export function renderHold(r: HoldResult): string {
  const verb = r.command === "hold" ? "held" : "unheld";
  const what = r.command === "hold" ? describeHold(r.hold) : `it was ${describeHold(r.hold)}`;
  return lines(`${verb} ${r.pool}/${r.name}: ${what}`, `commit ${r.commit.slice(0, 12)} on ${r.branch} (${r.hold.path}; outside the pool's folder: no pool-resource check fires)`);
}

export function releaseJson(r: ManualReleaseResult) {
  return {
    command: r.command,
    repo: r.repo,
    branch: r.branch,
    lock: lockJson(r.lock),
    released: { pool: r.move.pool, name: r.move.name, from: r.move.from, to: r.move.to },
    takenFrom: r.takenFrom,
    by: r.by,
    reason: r.reason,
    commit: r.commit,
    attempts: r.attempts,
  };
}

export function renderRelease(r: ManualReleaseResult): string {
  const out = [`released ${r.move.pool}/${r.move.name}: ${r.move.from} → ${r.move.to}`, `by ${r.by}: ${r.reason}`];
  if (r.takenFrom) out.push(`taken by force from ${r.takenFrom}`);
  out.push(`commit ${r.commit.slice(0, 12)} on ${r.branch}${r.attempts > 1 ? ` after ${r.attempts} attempts` : ""}`);
  return lines(...out);
}

export function doctorJson(r: DoctorResult) {
  return { command: r.command, repo: r.repo, branch: r.branch, head: r.head, pools: r.pools, healthy: r.findings.length === 0, findings: r.findings };
}

export function renderDoctor(r: DoctorResult, options: { color: boolean }): string {
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const out = [c.bold("pool-boy doctor") + c.dim(` · ${escapeText(`${r.repo} (${r.branch} @ ${r.head.slice(0, 8)})`)} · ${r.pools.length} pool${r.pools.length === 1 ? "" : "s"}`)];
  for (const f of r.findings) {
    const label = f.severity === "error" ? c.red("error  ") : c.yellow("warning");
    out.push(`${label} ${escapeText(f.message)} ${c.dim(`[${f.code}]`)}`);
    out.push(c.dim(`        fix: ${escapeText(f.fix)}`));
  }
  const errors = r.findings.filter((f) => f.severity === "error").length;
  const warnings = r.findings.length - errors;
  out.push(r.findings.length === 0 ? "healthy: nothing needs a human." : `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}: something needs a human.`);
  return out.join("\n") + "\n";
}
