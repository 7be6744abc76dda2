// RunResult (or a failure) → a short plain-text summary for people and notifications
// (Slack/Teams `text_file:`, the resource's summary.txt, --summary-file). Pure: no colour, one
// line per released (or to-be-released) lock and per lock that needs a look, the rest counted.

import type { JudgedLock, RunResult } from "../core/model.js";
import { shortRef } from "../decide/owner.js";
import { formatAge } from "../core/durations.js";
import { summaryLine } from "./table.js";
import { escapeText } from "../core/escape.js";

export interface SummaryFailure {
  /** what went wrong, already redacted */
  message: string;
  /** how to fix it, already redacted */
  hint?: string;
}

export interface SummaryInput {
  command: "status" | "clean";
  /** null when the run failed before it had a result */
  result: RunResult | null;
  /** set when the run failed (also after a result, e.g. metrics could not be pushed) */
  failure: SummaryFailure | null;
}

/** A lock a person should look at: kept because pool-boy could not decide, or damaged. */
export function needsALook(j: JudgedLock): boolean {
  return j.verdict.action === "keep" && (j.verdict.reason === "unknown" || j.verdict.reason === "conflict" || j.lock.problem !== null);
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, " ").trim();
}

function lockLine(verb: string, j: JudgedLock): string {
  const owner = j.claim?.owner ? `, owner ${shortRef(j.claim.owner)}` : "";
  const age = j.ageSeconds === null ? "" : `, claimed ${formatAge(j.ageSeconds)} ago`;
  return `${verb} ${j.lock.pool}/${j.lock.name} (${j.verdict.reason}${owner}${age}): ${oneLine(j.verdict.detail)}`;
}

/** The summary text, ending with a newline. */
export function renderSummary(input: SummaryInput): string {
  const { result, failure } = input;
  const out: string[] = [];
  if (failure) {
    // A message of several lines (every configuration problem at once) keeps one line each.
    const [first = "", ...rest] = failure.message.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    out.push(`pool-boy ${input.command} FAILED: ${first}`);
    for (const line of rest) out.push(line);
    if (failure.hint) out.push(`fix: ${oneLine(failure.hint)}`);
  }
  if (result) {
    const where = `${result.repo} (${result.branch} @ ${result.head.slice(0, 8)})`;
    out.push(`pool-boy ${result.command} · ${where}: ${summaryLine(result)}`);
    if (result.mode === "timeout-only") out.push("no Concourse API configured: only the pools' timeouts decided");
    const sorted = [...result.locks].sort((a, b) => `${a.lock.pool}/${a.lock.name}`.localeCompare(`${b.lock.pool}/${b.lock.name}`));
    const released = new Set(result.released.map((m) => `${m.pool}/${m.name}`));
    for (const j of sorted) {
      if (j.verdict.action !== "release") continue;
      const key = `${j.lock.pool}/${j.lock.name}`;
      if (result.command === "clean" && !result.dryRun) out.push(lockLine(released.has(key) ? "released" : "not released", j));
      else out.push(lockLine("would release", j));
    }
    for (const j of sorted) if (needsALook(j)) out.push(lockLine("kept", j));
    for (const w of result.warnings) out.push(`warning: ${oneLine(w.message)}`);
  } else if (!failure) {
    out.push(`pool-boy ${input.command}: no result`);
  }
  // Repository and API text (lock names, claim and hold text, messages) is shown, never executed:
  // the file is read on terminals and by notification steps.
  return out.map(escapeText).join("\n") + "\n";
}
