// The shape of the code, checked: decisions and rendering (src/core, src/decide, src/report) are
// pure; adapters (src/io) and the edges (src/cli, src/run.ts) import them, never the other way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PURE = ["src/core", "src/decide", "src/report"];
/** Packages a pure module may use: they compute, they do no I/O. */
const PURE_PACKAGES = new Set(["chalk", "yaml"]);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : [];
  });
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]!);
}

const files = walk(join(ROOT, "src")).map((f) => relative(ROOT, f).split("\\").join("/"));
const isPure = (file: string) => PURE.some((dir) => file.startsWith(`${dir}/`));

test("the layout has pure folders and adapter folders", () => {
  assert.ok(files.filter(isPure).length >= 8, `pure modules found: ${files.filter(isPure).join(", ")}`);
  assert.ok(files.some((f) => f.startsWith("src/io/")));
});

for (const file of files.filter(isPure)) {
  test(`${file} imports only pure modules and does no I/O`, () => {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const spec of importsOf(text)) {
      if (spec.startsWith(".")) {
        const target = posix.normalize(posix.join(posix.dirname(file), spec));
        assert.ok(isPure(target), `${file} imports ${target}, an adapter: move what both need into src/core`);
      } else {
        assert.ok(PURE_PACKAGES.has(spec), `${file} imports ${spec}: a pure module takes what it needs as an argument`);
      }
    }
    assert.doesNotMatch(text, /process\.(env|argv|stdout|stderr|exit)|Date\.now\(\)|new Date\(\)/, `${file} reads the environment or the clock`);
  });
}
