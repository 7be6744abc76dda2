// RunResult → text for people. Pure; the only module that uses chalk.
//
// The table fits `width` columns: run-wide facts are said once above it, WHY is short (the build's
// state or why the API could not say; the full detail is in --verbose and the JSON), and when a
// row is still too wide WHY is shortened first, then a person's note; LOCK, OWNER (a build), AGE
// and VERDICT are never cut. Only when those alone are wider than the width is a row wider.

import { Chalk, type ChalkInstance } from "chalk";
import type { BuildRef, JudgedLock, OwnerCause, Reason, RunResult } from "../core/model.js";
import { formatTimeout, roundAge } from "../core/durations.js";
import { buildUrl } from "../core/build-url.js";
import { shortestNames, refKey } from "../decide/names.js";
import { personNote } from "./json.js";
import type { PoolPolicy } from "../core/model.js";
import { escapeText, showText } from "../core/escape.js";

/** Widest a lock name or a build's name may make its column (hostile input); the full text is in --json. */
export const MAX_CELL = 48;

export interface TableOptions {
  color: boolean;
  verbose: boolean;
  /** the width to fit (default 80) */
  width?: number;
  /** wrap owners in OSC 8 terminal hyperlinks to their builds */
  hyperlinks?: boolean;
}

/** The longest a person's note is shown in the table (the whole line is in --verbose and the JSON). */
const NOTE_MAX = 24;
const MIN_WHY = 12;

/** Text from outside is shown, never executed: control characters become visible escapes. */
export function printable(text: string): string {
  return escapeText(text);
}

const len = (text: string) => [...text].length;

/** Cut to `width` characters, ending with "…" when cut. */
export function cut(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 0) return "";
  return chars.slice(0, width - 1).join("") + "…";
}

/** Words wrapped to `width`, continuation lines indented. */
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/u)) {
    const next = line === "" ? word : `${line} ${word}`;
    if (len(next) > width && line !== "") {
      lines.push(line);
      line = indent + word;
    } else line = next;
  }
  if (line !== "") lines.push(line);
  return lines.map((l) => cut(l, width));
}

function link(url: string | null, text: string, enabled: boolean): string {
  if (!enabled || !url || /[\u0000-\u0020\u007f-\u009f]/u.test(url)) return text;
  return `\u001b]8;;${url}\u001b\\${text}\u001b]8;;\u001b\\`;
}

function paint(c: ChalkInstance, reason: Reason, text: string): string {
  switch (reason) {
    case "alive":
      return c.green(text);
    case "young":
    case "no-timeout":
    case "debug-window":
      return c.cyan(text);
    case "held":
      return c.magenta(text);
    case "finished":
    case "stale":
      return c.yellow(text);
    case "unknown":
    case "conflict":
      return c.red(text);
  }
}

const CAUSE_WORDS: Record<OwnerCause, string> = {
  "no-owner": "no build named",
  "no-api": "",
  "not-found": "not found",
  "no-access": "no access",
  "api-error": "API error",
  "foreign-concourse": "other Concourse",
  "handoff-unknown": "hand-off unknown",
};

/**
 * The WHY column: a few words. The build's state when the API knows it; else why it cannot say
 * (the verdict's reason and the pool's timeout in the header say the rest). The verdict's full
 * detail is in --verbose and the JSON.
 */
export function shortWhy(j: JudgedLock): string {
  if (j.lock.problem) return printable(j.lock.problem);
  // A person's hold says who and why; a failed build kept for debugging says so.
  if (j.verdict.reason === "held") return printable(j.verdict.detail.replace(/^(held by .*?) since .*? until (?:unhold|.*? UTC): /u, "$1: "));
  if (j.verdict.reason === "debug-window" && (j.owner.kind === "finished")) return `${j.owner.holder.status}, kept for debugging`;
  const o = j.owner;
  switch (o.kind) {
    case "running":
    case "finished":
      return o.holder.status;
    case "unreachable":
      return `${CAUSE_WORDS[o.cause] || "no answer"}, kept this run`;
    case "waiting":
    case "silent": {
      const foreign = o.kind === "silent" && o.cause === "foreign-concourse" ? /another Concourse \(([^)]+)\)/u.exec(o.why)?.[1] : undefined;
      const what =
        o.kind === "waiting"
          ? `waiting for ${o.candidates.join(", ")}`
          : personNote(j) !== null
            ? "a person's note"
            : foreign
              ? `other Concourse (${escapeText(foreign)})`
              : CAUSE_WORDS[o.cause];
      const t = j.policy.timeoutSeconds;
      // A claim dated ahead of this clock is not aged while it is ahead.
      const age = (j.aheadSeconds ?? 0) > 0
        ? "dated ahead, not aged"
        : j.policy.unset
        ? "no timeout"
        : t === null
          ? "timeout never"
          : j.ageSeconds === null
            ? "no claim date"
            : what
              ? ""
              : `${j.ageSeconds > t ? "over" : "within"} the ${formatTimeout(t)} timeout`;
      return [what, age].filter((part) => part !== "").join("; ");
    }
  }
}

function ownerRefs(j: JudgedLock): BuildRef[] {
  const refs: BuildRef[] = [];
  if (j.claim?.owner) refs.push(j.claim.owner);
  const o = j.owner;
  if ((o.kind === "running" || o.kind === "finished" || o.kind === "waiting") && o.handedOff) refs.push(o.holder.ref);
  return refs;
}

interface OwnerCell {
  text: string;
  url: string | null;
  /** a person's note (without its quotes): may be shortened */
  note: string | null;
}

function ownerCell(j: JudgedLock, names: Map<string, string>, atcUrl: string | null): OwnerCell {
  const name = (ref: BuildRef) => showText(names.get(refKey(ref)) ?? refKey(ref), MAX_CELL);
  const o = j.owner;
  const claimer = j.claim?.owner ?? null;
  if ((o.kind === "running" || o.kind === "finished" || o.kind === "waiting") && o.handedOff)
    return { text: `${name(o.holder.ref)} (from ${claimer ? name(claimer) : "unknown"})`, url: buildUrl(atcUrl, o.holder.ref), note: null };
  if (claimer) return { text: name(claimer), url: buildUrl(atcUrl, claimer), note: null };
  const note = personNote(j);
  if (note !== null) return { text: `"${cut(printable(note), NOTE_MAX - 2)}"`, url: null, note: printable(note) };
  return { text: "unknown", url: null, note: null };
}

/** Column widths that fit `width`: WHY shrinks first (then goes), then a person's note. */
function layout(natural: number[], minOwner: number, width: number): { widths: number[]; showWhy: boolean } {
  const w = [...natural];
  const total = (n: number) => 2 + w.slice(0, n).reduce((a, b) => a + b, 0) + 2 * (n - 1);
  let excess = total(5) - width;
  const shrink = (i: number, floor: number) => {
    const take = Math.min(Math.max(0, excess), Math.max(0, w[i]! - floor));
    w[i]! -= take;
    excess -= take;
  };
  shrink(4, MIN_WHY);
  shrink(1, minOwner);
  shrink(4, 4);
  if (excess <= 0) return { widths: w, showWhy: true };
  // No room for WHY at all: what it gave back goes to a person's note.
  w[1] = Math.min(natural[1]!, Math.max(w[1]!, width - (total(4) - w[1]!)));
  return { widths: w, showWhy: false };
}

function where(r: RunResult): string {
  if (r.mode !== "api") return "";
  const team = r.team ? ` (team ${r.team})` : "";
  const api = r.target ? `target ${r.target}${team}` : r.atcUrl ? `${r.atcUrl}${team}` : `Concourse${team}`;
  return ` · ${api}` + (r.atcVersion ? ` · Concourse ${r.atcVersion}` : "");
}

export function renderTable(r: RunResult, options: TableOptions): string {
  const width = Math.max(20, options.width ?? 80);
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const out: string[] = [];
  // a dry run released nothing: its rows say what clean would do, as status's do
  const cleaned = r.command === "clean" && !r.dryRun;
  const title = `pool-boy ${r.command}${r.dryRun ? " --dry-run" : ""}`;

  // Run-wide facts, once.
  out.push(c.bold(title) + c.dim(cut(where(r), width - len(title))));
  // The repository is said whole (it is what a person looks for); too long, the branch goes below.
  const head = `(${printable(r.branch)} @ ${r.head.slice(0, 8)})`;
  const repo = printable(r.repo);
  if (len(repo) + 1 + len(head) <= width) out.push(c.dim(`${repo} ${head}`));
  else out.push(c.dim(repo), c.dim(`  ${head}`));
  const facts: string[] = [];
  if (r.mode === "timeout-only") facts.push("No Concourse API configured: only the pools' timeouts apply.");
  if (r.policies?.some((p) => p.unset))
    facts.push(
      r.mode === "api"
        ? "No timeouts given (--pools): only the API judges; a lock only a timeout could judge is kept."
        : "No timeouts given (--pools): nothing can be judged; every lock is kept.",
    );
  if (r.only && r.only.length > 0) facts.push(`Only ${r.only.join(", ")}.`);
  for (const f of facts) out.push(...wrap(f, width, "  ").map((l) => c.yellow(l)));
  // Warnings whole, one line each: they carry commands to copy.
  for (const w of r.warnings) out.push(c.yellow(`warning: ${escapeText(w.message)}`));

  const names = shortestNames(r.locks.flatMap(ownerRefs));
  const atcUrl = r.atcUrl ?? null;
  const pools = [...new Set([...r.pools.map((p) => p.pool), ...r.locks.map((l) => l.lock.pool)])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const pool of pools) {
    const locks = r.locks.filter((l) => l.lock.pool === pool);
    const counts = r.pools.find((p) => p.pool === pool);
    const policy = r.policies?.find((p) => p.pool === pool) ?? locks[0]?.policy;
    const released = cleaned ? r.released.filter((m) => m.pool === pool).length : 0;
    // Counts that match the rows: after clean, released rows are counted as released.
    const shown = locks.length - released;
    const claimedNow = counts?.claimed ?? shown;
    const claimed = r.only && r.only.length > 0 && claimedNow > shown ? `${shown} of ${claimedNow} claimed` : `${shown} claimed`;
    const timeout = policy ? (policy.unset ? " · no timeout" : ` · timeout ${formatTimeout(policy.timeoutSeconds)}`) : "";
    out.push("");
    out.push(
      c.bold(showText(pool, MAX_CELL)) +
        c.dim(` · ${claimed}${cleaned ? `, ${released} released` : ""}, ${counts?.unclaimed ?? 0} unclaimed${timeout}`),
    );
    if (options.verbose && policy && !policy.unset) out.push(c.dim(`  settings: ${policyLine(policy)}`));
    if (locks.length === 0) {
      out.push(c.dim("  no claimed locks"));
      continue;
    }
    const verb = (j: JudgedLock) => (j.verdict.action === "release" ? (cleaned ? "released" : "release") : "keep");
    const owners = locks.map((j) => ownerCell(j, names, atcUrl));
    const rows = locks.map((j, k) => [
      showText(j.lock.name, MAX_CELL),
      owners[k]!.text,
      j.ageSeconds === null ? "?" : (j.aheadSeconds ?? 0) > 0 ? `dated ${roundAge(j.aheadSeconds ?? 0)} ahead` : roundAge(j.ageSeconds),
      `${verb(j)} (${j.verdict.reason})`,
      shortWhy(j),
    ]);
    const header = ["LOCK", "OWNER", "AGE", "VERDICT", "WHY"];
    const natural = header.map((h, i) => Math.max(h.length, ...rows.map((row) => len(row[i] ?? ""))));
    const minOwner = Math.max(header[1]!.length, ...owners.map((o) => (o.note !== null ? Math.min(len(o.text), 12) : len(o.text))));
    const { widths, showWhy } = layout(natural, minOwner, width);
    // A shortened note keeps its closing quote.
    owners.forEach((o, k) => {
      if (o.note !== null && len(o.text) > widths[1]!) rows[k]![1] = `"${cut(o.note, widths[1]! - 2)}"`;
    });
    const visible = header.map((_, i) => i).filter((i) => i !== 4 || showWhy);
    const last = visible[visible.length - 1]!;
    const line = (cells: string[], style: (i: number, text: string) => string) =>
      (
        "  " +
        visible
          .map((i) => {
            const text = cut(cells[i] ?? "", widths[i]!);
            return style(i, text) + (i === last ? "" : " ".repeat(Math.max(0, widths[i]! - len(text))));
          })
          .join("  ")
      ).trimEnd();
    out.push(c.dim(line(header, (_, t) => t)));
    rows.forEach((row, k) => {
      const j = locks[k]!;
      const owner = owners[k]!;
      out.push(
        line(row, (i, text) => {
          if (i === 3) return paint(c, j.verdict.reason, text);
          if (i === 1) return link(owner.url, text, options.hyperlinks ?? false);
          return text;
        }),
      );
      const edited = editedNote(j);
      if (edited) out.push(c.dim(`      ${edited}`));
      if (options.verbose) {
        // The full detail, wrapped; the claim's first line and the build's URL as they are.
        for (const l of wrap(`why: ${printable(j.verdict.detail)}`, width - 6, "  ")) out.push(c.dim(`      ${l}`));
        if (j.lock.claim) out.push(c.dim(`      claim ${j.lock.claim.sha.slice(0, 12)} ${j.claim?.format ?? ""}: ${showText(j.lock.claim.message.split("\n")[0] ?? "", 200)}`));
        if (owner.url) out.push(c.dim(`      ${printable(owner.url)}`));
      }
    });
  }
  if (r.dryRun) out.push(...planLines(r));
  out.push("");
  // One line whatever the width, so that a log can be searched for it.
  out.push(summaryLine(r));
  return out.join("\n") + "\n";
}

/** clean --dry-run: the commits clean would push, each with its message, as it would be written. */
function planLines(r: RunResult): string[] {
  const plan = r.plan;
  if (!plan || plan.moves.length === 0) return ["", "Dry run: nothing to release, so no commit would be pushed."];
  const n = plan.moves.length;
  const out = ["", `Dry run: clean would push ${n} commit${n === 1 ? "" : "s"} to ${printable(plan.branch)} on top of ${plan.base.slice(0, 8)} (nothing was pushed):`];
  plan.moves.forEach((m, i) => {
    out.push("", `  ${i + 1}. ${showText(m.from, MAX_CELL)} → ${showText(m.to, MAX_CELL)}${m.gitkeep ? ` (+ ${showText(m.gitkeep, MAX_CELL)})` : ""}`);
    // the message whole, never cut, a line at a time: it is what the commit would say
    for (const line of m.message.split("\n")) out.push(line === "" ? "" : `     ${printable(line)}`);
  });
  return out;
}

/** Commits that edited a claimed lock in place are shown, never acted on: owner and age stay the claim's. */
function editedNote(j: JudgedLock): string | null {
  const edits = j.lock.editedAfterClaim;
  const last = edits[0];
  if (!last) return null;
  const count = edits.length === 1 ? "1 commit" : `${edits.length} commits`;
  return `edited after the claim: ${count}, the last ${last.sha.slice(0, 12)} at ${last.committedAt.toISOString()} (owner and age are the claim's)`;
}

/** "timeout 2h (--pools), keep-failed 1d (.pool-boy/config.yaml), release-to aws-dirty (--config ci.yaml)" */
export function policyLine(p: PoolPolicy): string {
  const origin = (key: "timeout" | "keepFailed" | "releaseTo") => (p.sources ? ` (${p.sources[key]})` : "");
  return [
    `timeout ${formatTimeout(p.timeoutSeconds)}${origin("timeout")}`,
    `keep-failed ${p.keepFailedSeconds ? formatTimeout(p.keepFailedSeconds) : "off"}${origin("keepFailed")}`,
    `release-to ${p.releaseTo ?? "(its own pool)"}${origin("releaseTo")}`,
  ].join(", ");
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
  const verb = r.command === "clean" && !r.dryRun ? `${r.released.length} released` : `${release} to release`;
  const parts = [`${total} claimed lock${total === 1 ? "" : "s"} in ${pools} pool${pools === 1 ? "" : "s"}`, `${verb}${release ? ` (${by("release")})` : ""}`, `${keep} kept${keep ? ` (${by("keep")})` : ""}`];
  let line = parts.join(": ").replace(/: (\d+ kept)/, ", $1");
  if (r.command === "clean" && r.commits.length > 0) line += `; pushed ${r.commits.length} commit${r.commits.length === 1 ? "" : "s"}`;
  if (r.command === "clean" && r.attempts > 1) line += ` after ${r.attempts} attempts`;
  if (r.dryRun) line += "; dry run: nothing pushed";
  return line + ".";
}
