// RunResult → text for people. Pure; the only module that uses chalk.

import { Chalk, type ChalkInstance } from "chalk";
import type { JudgedLock, Reason, RunResult } from "../core/model.js";
import { shortRef } from "../decide/owner.js";
import { formatAge, formatTimeout } from "../core/durations.js";
import { ownerStatus } from "./json.js";

function ownerCell(j: JudgedLock): string {
  const claimer = j.claim?.owner ? shortRef(j.claim.owner) : "unknown";
  const o = j.owner;
  if ((o.kind === "running" || o.kind === "finished" || o.kind === "waiting") && o.handedOff)
    return `${shortRef(o.holder.ref)}, handed off by ${claimer}`;
  return claimer;
}

function stateCell(j: JudgedLock): string {
  const o = j.owner;
  if (o.kind === "unreachable") return o.cause === "no-access" ? "no access" : "no answer";
  if (o.kind === "waiting") return `waiting for ${o.candidates.join(", ")} to take it`;
  if (o.kind === "silent") return o.holder ? o.holder.status : "-";
  return o.holder.status;
}

function paint(c: ChalkInstance, reason: Reason, text: string): string {
  switch (reason) {
    case "alive":
      return c.green(text);
    case "young":
      return c.cyan(text);
    case "finished":
    case "stale":
      return c.yellow(text);
    case "unknown":
    case "conflict":
      return c.red(text);
  }
}

function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - [...text].length));
}

export function renderTable(r: RunResult, options: { color: boolean; verbose: boolean }): string {
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const out: string[] = [];
  const released = r.command === "clean";
  const where = `${r.repo} (${r.branch} @ ${r.head.slice(0, 8)})`;
  out.push(c.bold(`pool-boy ${r.command}`) + c.dim(` · ${where}`) + (r.atcVersion ? c.dim(` · Concourse ${r.atcVersion}`) : ""));
  if (r.mode === "timeout-only")
    out.push(c.yellow("No Concourse API configured: owners are not checked, only the pools' timeouts apply."));
  for (const w of r.warnings) out.push(c.yellow(`warning: ${w}`));

  const pools = [...new Set([...r.pools.map((p) => p.pool), ...r.locks.map((l) => l.lock.pool)])].sort();
  for (const pool of pools) {
    const locks = r.locks.filter((l) => l.lock.pool === pool).sort((a, b) => a.lock.name.localeCompare(b.lock.name));
    const counts = r.pools.find((p) => p.pool === pool);
    const timeout = locks[0]?.policy.timeoutSeconds;
    out.push("");
    out.push(
      c.bold(`${pool}`) +
        c.dim(
          ` · ${counts?.claimed ?? locks.length} claimed, ${counts?.unclaimed ?? 0} unclaimed` +
            (timeout !== undefined ? ` · timeout ${formatTimeout(timeout)}` : ""),
        ),
    );
    if (locks.length === 0) {
      out.push(c.dim("  no claimed locks"));
      continue;
    }
    const verb = (j: JudgedLock) =>
      j.verdict.action === "release" ? (released ? "released" : "release") : "keep";
    const rows = locks.map((j) => [
      j.lock.name,
      ownerCell(j),
      j.ageSeconds === null ? "?" : formatAge(j.ageSeconds),
      stateCell(j),
      `${verb(j)} (${j.verdict.reason})`,
      j.verdict.detail,
    ]);
    const header = ["LOCK", "OWNER", "AGE", "BUILD", "VERDICT", "WHY"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => [...(row[i] ?? "")].length)));
    out.push("  " + c.dim(header.map((h, i) => (i === header.length - 1 ? h : pad(h, widths[i] ?? 0))).join("  ")));
    rows.forEach((row, k) => {
      const j = locks[k]!;
      const cells = row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i] ?? 0)));
      cells[4] = paint(c, j.verdict.reason, cells[4] ?? "");
      out.push("  " + cells.join("  "));
      const edited = editedNote(j);
      if (edited) out.push(c.dim(`      ${edited}`));
      if (options.verbose && j.lock.claim) out.push(c.dim(`      claim ${j.lock.claim.sha.slice(0, 12)} ${j.claim?.format ?? ""}: ${j.lock.claim.message.split("\n")[0]}`));
    });
  }
  out.push("");
  out.push(summaryLine(r));
  return out.join("\n") + "\n";
}

/** Commits that edited a claimed lock in place are shown, never acted on: owner and age stay the claim's. */
function editedNote(j: JudgedLock): string | null {
  const edits = j.lock.editedAfterClaim;
  const last = edits[0];
  if (!last) return null;
  const count = edits.length === 1 ? "1 commit" : `${edits.length} commits`;
  return `edited after the claim: ${count}, the last ${last.sha.slice(0, 12)} at ${last.committedAt.toISOString()} (owner and age are the claim's)`;
}

export function summaryLine(r: RunResult): string {
  const by = (action: "keep" | "release") => {
    const counts = new Map<string, number>();
    for (const j of r.locks) if (j.verdict.action === action) counts.set(j.verdict.reason, (counts.get(j.verdict.reason) ?? 0) + 1);
    return [...counts].map(([k, v]) => `${k} ${v}`).join(", ");
  };
  const total = r.locks.length;
  const release = r.locks.filter((j) => j.verdict.action === "release").length;
  const keep = total - release;
  const pools = new Set(r.pools.map((p) => p.pool)).size;
  const verb = r.command === "clean" ? `${r.released.length} released` : `${release} to release`;
  const parts = [`${total} claimed lock${total === 1 ? "" : "s"} in ${pools} pool${pools === 1 ? "" : "s"}`, `${verb}${release ? ` (${by("release")})` : ""}`, `${keep} kept${keep ? ` (${by("keep")})` : ""}`];
  let line = parts.join(": ").replace(/: (\d+ kept)/, ", $1");
  if (r.command === "clean" && r.commits.length > 0) line += `; pushed ${r.commits.length} commit${r.commits.length === 1 ? "" : "s"}`;
  if (r.command === "clean" && r.attempts > 1) line += ` after ${r.attempts} attempts`;
  return line + ".";
}
