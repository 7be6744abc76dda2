// Reads the --target named in ~/.flyrc for config resolution: the target, why it cannot be
// used (a sentence), or null when there is no such target.

import { access } from "node:fs/promises";
import { PoolBoyError } from "../../core/errors.js";
import type { FlyTargetInput } from "../../decide/config.js";
import { flyrcPaths, parseFlyrc, readFlyrc } from "./flyrc.js";

export async function readFlyTarget(name: string, env: Record<string, string | undefined>): Promise<FlyTargetInput | string | null> {
  let text: string | null;
  try {
    text = await readFlyrc(env);
  } catch (error) {
    return error instanceof PoolBoyError ? error.message : String(error);
  }
  if (text === null) return `no .flyrc found (looked at ${flyrcPaths(env).join(", ") || "nowhere: HOME is not set"}); log in first: fly -t ${name} login -c URL`;
  const target = parseFlyrc(text, name);
  if (target instanceof PoolBoyError) return target.hint ? `${target.message} (${target.hint})` : target.message;
  if (target.clientCertPath || target.clientKeyPath) {
    return `fly target "${name}" uses a client certificate, which pool-boy does not send yet; use CONCOURSE_TOKEN or a password instead`;
  }
  const token = target.token && target.token.value.trim() !== "" ? target.token.value : null;
  return { name, api: target.api, team: target.team, token, insecure: target.insecure, caCert: target.caCert, file: await whichFlyrc(env) };
}

/** The .flyrc that readFlyrc read (the first that exists), for messages. */
async function whichFlyrc(env: Record<string, string | undefined>): Promise<string | undefined> {
  for (const path of flyrcPaths(env)) if (await access(path).then(() => true, () => false)) return path;
  return undefined;
}
