// The config file (--config FILE, and the repository's own .pool-boy/config.yaml) → per-pool
// settings, every problem at once with its line; and the merge of all layers (flags and env,
// --config, the repository's file) into one policy per pool, saying where each setting came from.
// Pure: the CLI and the git adapter read the files and pass their text.
//
//   pools:
//     "*": {timeout: 2h}
//     aws:
//       timeout: 90m
//       keep-failed: 1d
//       release-to: aws-dirty

import { LineCounter, parseDocument, isMap, isScalar, type Node, type Pair } from "yaml";
import type { PoolPolicy } from "../core/model.js";
import { POOL_TIMEOUT_BOUNDS, formatTimeout, parseDuration } from "../core/durations.js";
import type { PoolSelection } from "./config.js";
import { fail, ok, type Result } from "../core/result.js";

/** Where the repository keeps its own config file and holds (outside every pool's folder). */
export const REPO_CONFIG_PATH = ".pool-boy/config.yaml";

/** One pool's settings in one layer; undefined: this layer does not say. */
export interface PoolSettings {
  /** seconds, null: never */
  timeout?: number | null;
  /** seconds, null: off */
  keepFailed?: number | null;
  /** a pool name, null: back to the lock's own pool */
  releaseTo?: string | null;
}

/** One source of settings: "--pools", "--config ci.yaml", ".pool-boy/config.yaml". */
export interface ConfigLayer {
  source: string;
  /** pool name (or "*") → settings */
  pools: Map<string, PoolSettings>;
  /** whether a pool named here must exist (--pools: yes; files: a missing pool is a warning) */
  strict: boolean;
}

export type ConfigFileResult = Result<ConfigLayer, string[]>;

const KEYS = ["timeout", "keep-failed", "release-to"] as const;

export function poolNameProblem(pool: string): string | null {
  if (pool === "") return "is empty";
  if (/[/\\\0]/.test(pool) || /[\x00-\x1f\x7f]/.test(pool)) return `is not a pool name (a pool is a top-level folder: no "/" or control characters)`;
  if (pool.startsWith(".")) return `is not a pool name (a pool is a top-level folder without a leading ".")`;
  return null;
}

/** The setting meant by a misspelt key (two edits at most, case, "-" and "_" aside), or null. */
function nearest(word: string, options: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[-_ ]/g, "");
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row;
    }
    return prev[b.length] ?? Infinity;
  };
  return options.find((o) => distance(norm(o), norm(word)) <= 2) ?? null;
}

/** Parse a config file's text; `source` names it in every problem ("ci.yaml", ".pool-boy/config.yaml"). */
export function parseConfigFile(text: string, source: string): ConfigFileResult {
  const lines = new LineCounter();
  const problems: string[] = [];
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const at = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    return offset === undefined ? source : `${source}:${lines.linePos(offset).line}`;
  };
  for (const error of doc.errors) {
    const line = error.linePos?.[0]?.line ?? (error.pos?.[0] === undefined ? undefined : lines.linePos(error.pos[0]).line);
    problems.push(`${source}${line ? `:${line}` : ""}: not valid YAML: ${error.message.split("\n")[0]}`);
  }
  const layer: ConfigLayer = { source, pools: new Map(), strict: false };
  if (problems.length > 0) return fail(problems);
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ""))) return ok(layer);
  if (!isMap(root)) return fail([`${at(root)}: the file must be a mapping with a "pools:" key`]);

  for (const pair of root.items as Pair<Node, Node | null>[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (key !== "pools") {
      problems.push(`${at(pair.key)}: ${key || "(key)"}: unknown key (the file has one key: pools)`);
      continue;
    }
    const pools = pair.value;
    if (pools === null || (isScalar(pools) && pools.value === null)) continue;
    if (!isMap(pools)) {
      problems.push(`${at(pools)}: pools: must be a mapping of pool names to settings (e.g. aws: {timeout: 2h})`);
      continue;
    }
    for (const entry of pools.items as Pair<Node, Node | null>[]) {
      const pool = isScalar(entry.key) ? String(entry.key.value) : "";
      const where = at(entry.key);
      if (pool !== "*") {
        const bad = poolNameProblem(pool);
        if (bad) {
          problems.push(`${where}: pools: "${pool}" ${bad}`);
          continue;
        }
      }
      if (layer.pools.has(pool)) {
        problems.push(`${where}: pools.${pool}: the pool is given twice`);
        continue;
      }
      const settings: PoolSettings = {};
      layer.pools.set(pool, settings);
      const value = entry.value;
      if (value === null || (isScalar(value) && value.value === null)) continue;
      // `aws: 90m` is short for `aws: {timeout: 90m}`.
      if (isScalar(value)) {
        settings.timeout = durationOf(value, `pools.${pool}`, at(value), "timeout", problems);
        continue;
      }
      if (!isMap(value)) {
        problems.push(`${at(value)}: pools.${pool}: must be a mapping of settings (${KEYS.join(", ")})`);
        continue;
      }
      const seen = new Set<string>();
      for (const setting of value.items as Pair<Node, Node | null>[]) {
        const name = isScalar(setting.key) ? String(setting.key.value) : "";
        const here = at(setting.key);
        const path = `pools.${pool}.${name}`;
        if (seen.has(name)) {
          problems.push(`${here}: ${path}: given twice`);
          continue;
        }
        seen.add(name);
        const v = setting.value;
        switch (name) {
          case "timeout":
            settings.timeout = durationOf(v, path, here, "timeout", problems);
            break;
          case "keep-failed":
            settings.keepFailed = durationOf(v, path, here, "keep-failed", problems);
            break;
          case "release-to": {
            const target = isScalar(v) && v.value !== null ? String(v.value).trim() : "";
            const bad = target === "" ? "is empty (name a pool, e.g. aws-dirty)" : poolNameProblem(target);
            if (bad) problems.push(`${here}: ${path}: "${target}" ${bad}`);
            else if (target === pool) problems.push(`${here}: ${path}: "${target}" is the pool itself (leave release-to out to release in place)`);
            else settings.releaseTo = target;
            break;
          }
          default: {
            const hint = nearest(name, KEYS);
            problems.push(`${here}: ${path}: unknown setting${hint ? ` (did you mean ${hint}?)` : ""}; the settings are ${KEYS.join(", ")}`);
          }
        }
      }
    }
  }
  return problems.length > 0 ? fail(problems) : ok(layer);
}

function durationOf(v: Node | null, path: string, where: string, key: "timeout" | "keep-failed", problems: string[]): number | null | undefined {
  const raw = isScalar(v) ? v.value : undefined;
  if (key === "keep-failed" && (raw === false || raw === 0 || raw === "0" || raw === "off" || raw === "none")) return null;
  if (key === "keep-failed" && raw === "never") {
    problems.push(`${where}: ${path}: "never" is ambiguous here: write off (no debug window) or a duration such as 1d`);
    return undefined;
  }
  const text = typeof raw === "number" && Number.isInteger(raw) && raw > 0 ? String(raw) : typeof raw === "string" ? raw : null;
  const seconds = text === null ? undefined : parseDuration(text);
  if (seconds === undefined) {
    const shown = raw === undefined || raw === null ? "(nothing)" : JSON.stringify(raw);
    const forms = key === "timeout" ? "minutes like 90, or 90m, 2h, 1d, never" : "90m, 2h, 1d, or off";
    problems.push(`${where}: ${path}: ${shown} is not a duration (use ${forms})`);
    return undefined;
  }
  // The bounds of --pools: a timeout of seconds would take at once every lock nobody vouches for.
  if (key === "timeout" && seconds !== null) {
    const { min, max } = POOL_TIMEOUT_BOUNDS;
    const bound =
      seconds < min ? `is shorter than the shortest timeout, ${formatTimeout(min)} (a lock nobody vouches for would be taken at once)` : seconds > max ? `is longer than the longest timeout, ${formatTimeout(max)}` : null;
    if (bound) {
      problems.push(`${where}: ${path}: "${text}" ${bound}; give ${formatTimeout(min)} to ${formatTimeout(max)}, or never to never release by age`);
      return undefined;
    }
  }
  return seconds;
}

/** --pools as a layer (the highest): each pool named must exist. */
export function layerFromSelection(selection: PoolSelection, source: string): ConfigLayer {
  const pools = new Map<string, PoolSettings>();
  for (const p of selection.named) pools.set(p.pool, { timeout: p.timeoutSeconds });
  if (selection.wildcard !== undefined) pools.set("*", { timeout: selection.wildcard });
  return { source, pools, strict: true };
}

export interface Policies {
  /** one per pool judged, sorted by name */
  policies: PoolPolicy[];
  /** pools a config file names that the repository does not have (skipped), with the file */
  missing: Array<{ pool: string; source: string }>;
  /** pools a strict layer (--pools) names that the repository does not have: a usage error */
  required: Array<{ pool: string; source: string }>;
}

/**
 * The policy of each pool: for each setting, the first layer (highest precedence first) that
 * says it for the pool by name, or else by "*". Which pools: those of the first layer that names
 * any (every pool of the repository for "*"); the layers below only add settings. So
 * `--pools aws:2h` looks at aws alone, whatever the files name.
 */
export function mergePolicies(existing: string[], layers: ConfigLayer[]): Policies {
  const have = new Set(existing);
  const named = new Set<string>();
  const missing: Policies["missing"] = [];
  const required: Policies["required"] = [];
  let everyPool = false;
  const selecting = layers.find((l) => l.pools.size > 0);
  for (const layer of layers) {
    for (const pool of layer.pools.keys()) {
      if (pool === "*") {
        if (layer === selecting) everyPool = true;
        continue;
      }
      if (!have.has(pool)) {
        if (layer.strict) required.push({ pool, source: layer.source });
        else if (!missing.some((m) => m.pool === pool)) missing.push({ pool, source: layer.source });
        continue;
      }
      if (layer === selecting) named.add(pool);
    }
  }
  const pools = [...new Set([...(everyPool ? existing : []), ...named])].sort();
  const policies = pools.map((pool): PoolPolicy => {
    const pick = <K extends keyof PoolSettings>(key: K): [PoolSettings[K] | undefined, string] => {
      for (const layer of layers) {
        const own = layer.pools.get(pool)?.[key];
        if (own !== undefined) return [own, layer.source];
        const any = layer.pools.get("*")?.[key];
        if (any !== undefined) return [any, `${layer.source} "*"`];
      }
      return [undefined, "default"];
    };
    const [timeout, timeoutSource] = pick("timeout");
    const [keepFailed, keepSource] = pick("keepFailed");
    const [releaseTo, releaseSource] = pick("releaseTo");
    return {
      pool,
      timeoutSeconds: timeout ?? null,
      keepFailedSeconds: keepFailed ?? null,
      // a "*" release-to never sends a pool's locks to itself
      releaseTo: releaseTo && releaseTo !== pool ? releaseTo : null,
      sources: { timeout: timeoutSource, keepFailed: keepSource, releaseTo: releaseSource },
    };
  });
  return { policies, missing, required };
}
