// fly's ~/.flyrc (reference §2): where it is, and the one target pool-boy was told to use.
// parseFlyrc is pure; readFlyrc finds and reads the file; readFlyTarget gives resolveConfig the
// target, or why it cannot be used.

import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { PoolBoyError } from "../../core/errors.js";
import { fail, ok, type Result } from "../../core/result.js";
import type { FlyTarget } from "../../decide/config.js";

export type { FlyTarget } from "../../decide/config.js";

/** Why a target cannot be used: a sentence and what to do. */
export interface FlyrcProblem {
  message: string;
  hint: string | null;
}

/** The environment variables that decide where the file is. */
export interface FlyrcEnv {
  FLY_HOME?: string | undefined;
  HOME?: string | undefined;
  USERPROFILE?: string | undefined;
  HOMEDRIVE?: string | undefined;
  HOMEPATH?: string | undefined;
}

/**
 * Candidate paths, first match wins. fly itself stops at FLY_HOME (v7.7.0+) when it is set; falling
 * back to HOME as well still finds the file of an older fly that ignored FLY_HOME.
 */
export function flyrcPaths(env: FlyrcEnv): string[] {
  const dirs: string[] = [];
  if (env.FLY_HOME) dirs.push(env.FLY_HOME);
  if (env.HOME) dirs.push(env.HOME);
  if (env.USERPROFILE) dirs.push(env.USERPROFILE);
  if (env.HOMEDRIVE && env.HOMEPATH) dirs.push(env.HOMEDRIVE + env.HOMEPATH);
  return [...new Set(dirs)].map((dir) => join(dir, ".flyrc"));
}

/** The text of the first .flyrc found, or null when there is none. */
export async function readFlyrc(env: FlyrcEnv): Promise<string | null> {
  for (const path of flyrcPaths(env)) {
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      throw new PoolBoyError("config", `cannot read ${path}: ${code ?? String(error)}`, "check the file's permissions, or set FLY_HOME to the folder holding .flyrc", { cause: error });
    }
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(props: Record<string, unknown>, key: string): Result<string | null, FlyrcProblem> {
  const value = props[key];
  if (value === undefined || value === null || value === "") return ok(null);
  if (typeof value !== "string") return fail({ message: `.flyrc: "${key}" must be text`, hint: null });
  return ok(value);
}

/** The named target from the text of a .flyrc, or why it cannot be used. No message quotes the file (it holds tokens). */
export function parseFlyrc(text: string, target: string): Result<FlyTarget, FlyrcProblem> {
  const fixHint = `run: fly -t ${target} login -c https://YOUR-CONCOURSE`;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    // the YAML error quotes the offending line, which may hold a token: only where it is
    const line = (error as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    const why = line ? ` (line ${line.line}, column ${line.col})` : "";
    return fail({ message: `.flyrc is not valid YAML${why}`, hint: fixHint });
  }
  const targets = isRecord(doc) ? doc["targets"] : undefined;
  if (!isRecord(targets)) return fail({ message: `.flyrc has no targets`, hint: fixHint });
  const props = targets[target];
  if (!isRecord(props)) {
    const known = Object.keys(targets).sort();
    const list = known.length ? `; it has ${known.map((n) => `"${n}"`).join(", ")}` : "";
    return fail({ message: `.flyrc has no target "${target}"${list}`, hint: fixHint });
  }
  const apiRead = optionalString(props, "api");
  if (!apiRead.ok) return apiRead;
  const api = apiRead.value;
  if (api === null) return fail({ message: `.flyrc target "${target}" has no api URL`, hint: fixHint });
  const teamRead = optionalString(props, "team");
  if (!teamRead.ok) return teamRead;
  const team = teamRead.value;
  const caCertRead = optionalString(props, "ca_cert");
  if (!caCertRead.ok) return caCertRead;
  const caCert = caCertRead.value;
  const clientCertPathRead = optionalString(props, "client_cert_path");
  if (!clientCertPathRead.ok) return clientCertPathRead;
  const clientCertPath = clientCertPathRead.value;
  const clientKeyPathRead = optionalString(props, "client_key_path");
  if (!clientKeyPathRead.ok) return clientKeyPathRead;
  const clientKeyPath = clientKeyPathRead.value;
  // v6.6.0+ mutual TLS
  if (clientCertPath || clientKeyPath) {
    return fail({ message: `fly target "${target}" uses a client certificate, which pool-boy does not send yet`, hint: "use CONCOURSE_TOKEN or a password instead" });
  }
  const insecure = props["insecure"];
  if (insecure !== undefined && insecure !== null && typeof insecure !== "boolean") {
    return fail({ message: `.flyrc target "${target}": "insecure" must be true or false`, hint: null });
  }
  // none when the target never logged in; type and value are "" after `fly logout`
  let token: string | null = null;
  const rawToken = props["token"];
  if (isRecord(rawToken)) {
    const value = rawToken["value"];
    token = typeof value === "string" && value.trim() !== "" ? value : null;
  } else if (rawToken !== undefined && rawToken !== null) {
    return fail({ message: `.flyrc target "${target}": "token" must have a type and a value`, hint: fixHint });
  }
  return ok({ name: target, api, team: team ?? "main", token, insecure: insecure === true, caCert });
}

/** The target named by --target for resolveConfig: the target, or why it cannot be used (a sentence). */
export async function readFlyTarget(name: string, env: FlyrcEnv): Promise<Result<FlyTarget, string>> {
  let text: string | null;
  try {
    text = await readFlyrc(env);
  } catch (error) {
    return fail(error instanceof PoolBoyError ? error.message : String(error));
  }
  if (text === null) return fail(`no .flyrc found (looked at ${flyrcPaths(env).join(", ") || "nowhere: HOME is not set"}); log in first: fly -t ${name} login -c URL`);
  const target = parseFlyrc(text, name);
  if (!target.ok) return fail(target.problems.hint ? `${target.problems.message} (${target.problems.hint})` : target.problems.message);
  const file = await whichFlyrc(env);
  return file === undefined ? target : ok({ ...target.value, file });
}

/** The .flyrc that readFlyrc read (the first that exists), for messages. */
async function whichFlyrc(env: FlyrcEnv): Promise<string | undefined> {
  for (const path of flyrcPaths(env)) if (await access(path).then(() => true, () => false)) return path;
  return undefined;
}
