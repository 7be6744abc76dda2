// One pool-boy run at a time per --cache-dir. Two runs fetching into (or rebuilding) one cache
// at once make git fail on its ref locks, and a rebuild could delete the cache under the other
// run. The lock is a file beside the cache (the cache itself may be removed and made anew),
// created with O_EXCL and held for the whole run.

import { open, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { PoolBoyError } from "../../core/errors.js";

/** A run never takes this long: a lock older than this was left by a run that was killed. */
const STALE_AFTER_MS = 15 * 60_000;
const POLL_MS = 200;

interface Holder {
  pid: number;
  host: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function holderOf(path: string): Promise<Holder | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    if (typeof parsed === "object" && parsed !== null && "pid" in parsed && "host" in parsed && "since" in parsed) return parsed as Holder;
  } catch {
    // half written or unreadable: judged by its age below
  }
  return null;
}

function stale(holder: Holder | null, now: number): boolean {
  if (!holder) return false;
  if (holder.host === hostname() && !alive(holder.pid)) return true;
  return now - Date.parse(holder.since) > STALE_AFTER_MS;
}

/**
 * Waits for the cache's lock (at most `waitMs`) and returns its release. A lock left by a run
 * that died (its pid is gone on this host, or it is older than 15 minutes) is taken over.
 */
export async function lockCache(cacheDir: string, options: { waitMs: number; log: (line: string) => void }): Promise<() => Promise<void>> {
  const path = `${cacheDir.replace(/\/+$/, "")}.lock`;
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      const file = await open(path, "wx", 0o644);
      const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await file.writeFile(JSON.stringify(me) + "\n");
      await file.close();
      return async () => {
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new PoolBoyError("config", `--cache-dir: cannot create the lock ${path}: ${(error as Error).message}`, "the cache directory's parent must be writable", { cause: error });
      }
    }
    const holder = await holderOf(path);
    if (stale(holder, Date.now())) {
      options.log(`taking over the cache lock ${path} left by pid ${holder?.pid} on ${holder?.host} (${holder?.since})`);
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() - started >= options.waitMs) {
      const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : "another run";
      throw new PoolBoyError("git", `the cache ${cacheDir} is in use by ${who}`, `wait for that run to end, or remove ${path} if no pool-boy run is going on`);
    }
    if (!told) {
      options.log(`waiting for the cache ${cacheDir}: another pool-boy run holds it`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
