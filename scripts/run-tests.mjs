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
// - a test file that leaves something open (a server, a child process) keeps running until that
//   limit, and fails. `--test-force-exit` would end it sooner, but on Node 20 it also drops the
//   last reports of a file whose tests all passed (seen here: 446 of 460 tests counted), so the
//   hooks close what they start instead (test/support: closeAll).
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

/** Runs one group, its report passed through to stdout and kept to find the skipped tests in. */
function runGroup(group) {
  return new Promise((resolve) => {
    const env = { ...process.env };
    // the report goes through a pipe: keep its colours on a terminal
    if (process.stdout.isTTY && !("NO_COLOR" in env) && !("FORCE_COLOR" in env)) env.FORCE_COLOR = "1";
    const child = spawn(
      process.execPath,
      ["--test", "--test-concurrency=2", `--test-timeout=${group.timeoutMs}`, "--test-reporter=spec", ...group.files],
      { stdio: ["inherit", "pipe", "inherit"], env },
    );
    let report = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      report += chunk.toString("utf8");
    });
    child.on("close", (code, signal) => resolve({ ok: code === 0 && signal === null, report }));
  });
}

let failed = false;
const skipped = [];
const totals = { pass: 0, fail: 0, skipped: 0 };
for (const group of groups) {
  const { ok, report } = await runGroup(group);
  if (!ok) failed = true;
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
