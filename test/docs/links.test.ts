// The docs stay true: every relative link in README.md and docs/*.md resolves (files and
// #anchors), every `--option` they name is one of pool-boy's (or a listed option of another
// tool), and every option --help mentions is one --help lists.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { poolBoy } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

async function docs(): Promise<string[]> {
  const inDocs = (await readdir(join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => join(ROOT, "docs", f));
  return [join(ROOT, "README.md"), ...inDocs];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = (heading[1] ?? "")
      .trim()
      .toLowerCase()
      .replace(/[`*_]/g, "")
      .replace(/[^\p{L}\p{N}\s-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Markdown text outside fenced code blocks. */
function prose(markdown: string): string {
  let fenced = false;
  return markdown
    .split("\n")
    .filter((line) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced;
        return false;
      }
      return !fenced;
    })
    .join("\n");
}

test("every relative link in README.md and docs/*.md resolves, anchors included", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of await docs()) {
    const text = await readFile(file, "utf8");
    for (const match of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1] ?? "";
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      checked += 1;
      const [path = "", anchor] = target.split("#", 2);
      const resolved = path === "" ? file : join(dirname(file), decodeURIComponent(path));
      const where = `${relative(ROOT, file)}: ${target}`;
      const info = await stat(resolved).catch(() => null);
      if (!info) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor && resolved.endsWith(".md") && !anchors(await readFile(resolved, "utf8")).has(anchor)) broken.push(`${where} (no such heading)`);
    }
  }
  assert.ok(checked > 0, "no links found: the test reads the wrong files");
  assert.deepEqual(broken, []);
});

/** Options of other programs that the docs show, with the program. */
const OTHER_TOOLS: Record<string, string> = {
  "--collector": "node_exporter (--collector.textfile.directory)",
  "--rm": "docker run",
  "--init": "docker run",
  "--env": "buildah run",
  "--name": "buildah from",
  "--build-arg": "docker build",
  "--no-install-recommends": "apt-get install",
  "--variant": "debootstrap",
  "--objects": "git rev-list",
  "--bare": "git clone",
  "--local": "git clone",
  "--silent": "npm pack",
  "--prefix": "npm install",
};
/** Options the docs name because pool-boy refuses them (secrets never come from flags): checked below. */
const REFUSED = ["--password", "--token"];
/** `npm run bench -- …`: checked against the benchmark's own list below. */
const BENCH = ["--commits", "--pools", "--locks", "--claimed", "--latency", "--oldest", "--new", "--repeat", "--seed", "--keep", "--contention", "--scaling", "--scaling-commits", "--scaling-claimed"];

async function helpTexts(): Promise<{ listed: Set<string>; text: string }> {
  const top = await poolBoy(["--help"], {});
  assert.equal(top.code, 0, top.stderr);
  const texts: string[] = [top.stdout];
  // every command's own --help, as the top-level help lists them
  const commands = /\nCommands:\n([\s\S]*?)\n\n/.exec(top.stdout)?.[1] ?? "";
  const names = [...commands.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((name) => name !== "help");
  assert.ok(names.includes("status") && names.includes("clean"), `commands: ${names.join(", ")}`);
  for (const name of names) {
    const run = await poolBoy([name, "--help"], {});
    assert.equal(run.code, 0, run.stderr);
    texts.push(run.stdout);
  }
  const text = texts.join("\n");
  const listed = new Set<string>();
  for (const line of text.split("\n")) {
    const option = /^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)/.exec(line);
    if (option?.[1]) listed.add(option[1]);
  }
  return { listed, text };
}

const OPTION = /(?<![\w-])--[a-z][a-z0-9-]*/g;

test("every --option the docs name is one of pool-boy's, or a listed option of another tool", async () => {
  const { listed } = await helpTexts();
  const bench = await readFile(join(ROOT, "bench", "bench.ts"), "utf8");
  for (const option of BENCH) assert.ok(bench.includes(option), `the benchmark has no ${option}: update this list`);
  for (const option of REFUSED) {
    const run = await poolBoy(["status", option, "x"], {});
    assert.equal(run.code, 2, `${option} is refused`);
    assert.match(run.stderr, new RegExp(`${option} is not accepted`));
  }
  const unknown: string[] = [];
  for (const file of await docs()) {
    const text = await readFile(file, "utf8");
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      for (const match of line.matchAll(OPTION)) {
        const option = match[0];
        if (listed.has(option) || OTHER_TOOLS[option] || REFUSED.includes(option)) continue;
        // The benchmark's options, on the lines that talk about it.
        const around = lines.slice(Math.max(0, i - 8), i + 1).join("\n");
        if (BENCH.includes(option) && /bench/i.test(around)) continue;
        unknown.push(`${relative(ROOT, file)}:${i + 1}: ${option}`);
      }
    });
  }
  assert.deepEqual(unknown, []);
});

test("every --option --help mentions is one --help lists", async () => {
  const { listed, text } = await helpTexts();
  for (const expected of ["--repo", "--pools", "--only", "--exit-code", "--debug", "--target", "--help", "--version"]) assert.ok(listed.has(expected), `--help lists no ${expected}`);
  const mentioned = new Set([...text.matchAll(OPTION)].map((m) => m[0]));
  assert.deepEqual([...mentioned].filter((o) => !listed.has(o)), []);
});
