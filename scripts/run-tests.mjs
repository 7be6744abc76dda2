// Runs every compiled test file with node's test runner. Node 20 has no glob support in
// `node --test`, so the files are listed here.
//
//   node scripts/run-tests.mjs [--timeout SECONDS] [SUBSTRING...]
//
// SUBSTRINGs pick the files whose compiled path (under dist/test) holds any of them; an argument
// that names an existing *.test.js or *.test.mjs file runs that file.
//
// No run can hang:
// - every test has a time limit (--timeout, POOL_BOY_TEST_TIMEOUT, default 600 s: generous for a
//   loaded 2-core machine). Node 20 applies `--test-timeout` to each test file as a whole, newer
//   Node to each test; either way a stuck test ends, failed. The image test builds an image and
//   runs as its own group with a larger limit (POOL_BOY_IMAGE_TEST_TIMEOUT, default 2700 s).
// - each file runs in its own `node --test`, two at a time, and is killed 10 s after its limit:
//   a file that left something open (a server, a child process) ends, failed. Not
//   `--test-force-exit`: on Node 20 and 24 alike it drops the last reports of files whose tests
//   passed (seen here: 346 to 460 of 460 tests counted).
//
// At the end the skipped tests are listed with their reasons (which name the Debian package to
// install); `bash .ci/run` installs everything, and with CI=true a missing program fails instead.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (entry.endsWith(".test.js")) out.push(path);
  }
  return out;
}

function seconds(text, what) {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 1 || value > 24 * 3600) {
    console.error(`run-tests: ${what} must be a number of seconds from 1 to 86400, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return Math.round(value * 1000);
}

const args = process.argv.slice(2);
let timeoutMs = seconds(process.env.POOL_BOY_TEST_TIMEOUT ?? "600", "POOL_BOY_TEST_TIMEOUT");
const imageTimeoutMs = seconds(process.env.POOL_BOY_IMAGE_TEST_TIMEOUT ?? "2700", "POOL_BOY_IMAGE_TEST_TIMEOUT");
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--timeout") timeoutMs = seconds(args[++i], "--timeout");
  else if (args[i].startsWith("--timeout=")) timeoutMs = seconds(args[i].slice("--timeout=".length), "--timeout");
  else filters.push(args[i]);
}

const isFile = (arg) => /\.test\.m?js$/.test(arg) && existsSync(arg);
const named = filters.filter(isFile);
const substrings = filters.filter((arg) => !isFile(arg));
const files = [
  ...named,
  ...(substrings.length > 0 || named.length === 0
    ? walk("dist/test").filter((f) => substrings.length === 0 || substrings.some((filter) => f.includes(filter)))
    : []),
].sort();
if (files.length === 0) {
  console.error(`no test files found${filters.length > 0 ? ` matching ${filters.join(" or ")}` : ""}`);
  process.exit(1);
}

const isImage = (f) => f.endsWith(join("image", "image.test.js"));
const groups = [
  { files: files.filter((f) => !isImage(f)), timeoutMs },
  { files: files.filter(isImage), timeoutMs: Math.max(imageTimeoutMs, timeoutMs) },
].filter((group) => group.files.length > 0);

/** How long a file may run past its time limit before it is killed (it left something open). */
const GRACE_MS = 10_000;

/**
 * Runs one test file in its own `node --test`, with a wall-clock limit: a file whose tests are done
 * but that left a server or a child process open is killed at its limit and counts as failed.
 * Its report is kept and printed whole when it ends (two files run at a time).
 */
function runFile(file, limitMs) {
  return new Promise((resolve) => {
    const env = { ...process.env };
    // the report goes through a pipe: keep its colours on a terminal
    if (process.stdout.isTTY && !("NO_COLOR" in env) && !("FORCE_COLOR" in env)) env.FORCE_COLOR = "1";
    const child = spawn(process.execPath, ["--test", `--test-timeout=${limitMs}`, "--test-reporter=spec", file], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
      detached: true,
    });
    let report = "";
    child.stdout.on("data", (chunk) => (report += chunk.toString("utf8")));
    child.stderr.on("data", (chunk) => (report += chunk.toString("utf8")));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, limitMs + GRACE_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (killed) report += `\n✖ ${file} did not end within ${Math.round((limitMs + GRACE_MS) / 1000)} s (a test, or something it started, is still running): killed\n`;
      process.stdout.write(report);
      resolve({ ok: !killed && code === 0 && signal === null, killed, report });
    });
  });
}

/** Runs one group's files, two at a time. */
async function runGroup(group) {
  const results = [];
  let next = 0;
  const worker = async () => {
    // results in the files' order, whatever order they end in: the skipped list reads the same each run
    for (let i = next++; i < group.files.length; i = next++) results[i] = await runFile(group.files[i], group.timeoutMs);
  };
  await Promise.all([worker(), worker()]);
  return { ok: results.every((r) => r.ok), report: results.map((r) => r.report).join("\n"), killed: results.filter((r) => r.killed).length };
}

let failed = false;
const skipped = [];
const totals = { pass: 0, fail: 0, skipped: 0 };
for (const group of groups) {
  const { ok, report, killed } = await runGroup(group);
  if (!ok) failed = true;
  totals.fail += killed;
  // "﹣ name (0.1ms) # reason", at any depth (suites and tests)
  const plain = report.replace(/\x1b\[[0-9;]*m/g, "");
  for (const key of Object.keys(totals)) {
    for (const match of plain.matchAll(new RegExp(`^ℹ ${key} (\\d+)$`, "gm"))) totals[key] += Number(match[1]);
  }
  for (const match of plain.matchAll(/^\s*﹣ (.*) \([\d.]+m?s\) # (.*)$/gmu)) {
    skipped.push({ name: match[1], reason: match[2] });
  }
}

if (skipped.length > 0) {
  const byReason = new Map();
  for (const { name, reason } of skipped) byReason.set(reason, [...(byReason.get(reason) ?? []), name]);
  const lines = [`skipped ${skipped.length} test${skipped.length === 1 ? "" : "s"} (or suites); \`bash .ci/run\` as root installs everything:`];
  for (const [reason, names] of byReason) {
    lines.push(`  ${reason}`);
    for (const name of names) lines.push(`    - ${name}`);
  }
  console.error(lines.join("\n"));
}
// One closing line for every group together.
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(failed ? 1 : 0);
