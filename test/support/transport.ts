// The transport as a run prepares it: the repository's credentials resolved by resolveRepo (as
// resolveConfig does), then prepareTransport. With the redactor a run would build from them.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PoolBoyError } from "../../src/core/errors.js";
import { makeRedactor, type Redactor } from "../../src/core/redact.js";
import { resolveRepo } from "../../src/decide/config.js";
import { prepareTransport, type Transport } from "../../src/io/git/transport.js";

export interface PreparedTransport extends Transport {
  warnings: string[];
  redactor: Redactor;
}

export async function transportFor(input: { url: string; env: Record<string, string | undefined>; tmpRoot?: string }): Promise<PreparedTransport> {
  const home = input.env.HOME;
  const userKnownHosts = home ? await readFile(join(home, ".ssh", "known_hosts"), "utf8").catch(() => null) : null;
  const repo = resolveRepo(input.url, "POOL_REPO", input.env, userKnownHosts);
  if (repo.problems.length > 0) throw new PoolBoyError("config", repo.problems.join("\n"));
  const transport = await prepareTransport({ url: repo.url, auth: repo.auth, env: input.env, ...(input.tmpRoot ? { tmpRoot: input.tmpRoot } : {}) });
  return { ...transport, warnings: repo.warnings, redactor: makeRedactor({ secrets: repo.secrets }) };
}
