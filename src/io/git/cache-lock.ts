// One pool-boy run at a time per --cache-dir. Two runs fetching into (or rebuilding) one cache
// at once make git fail on its ref locks, and a rebuild could delete the cache under the other
// run. The lock is a file beside the cache (the cache itself may be removed and made anew),
// created with O_EXCL and held for the whole run; it holds the run's pid, host and start.
//
// A lock-file library (proper-lockfile) was considered: it judges locks by an mtime that the
// holder refreshes on a timer, so every lock left by a killed run waits out the stale time, and a
// holder whose timer is late loses its lock. Here a lock left by a dead pid on this host is taken
// over at once, and only what cannot be read is judged by its mtime.

import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { PoolBoyError } from "../../core/errors.js";
import { alive } from "./transport/private-dir.js";

/** A run never takes this long: a lock older than this was left by a run that was killed. */
const STALE_AFTER_MS = 15 * 60_000;
/**
 * A run writes its lock file right after creating it (microseconds): one that is still empty,
 * half written or unreadable after this long was left by a run killed in between, or one that
 * could not write (a full disk). Judged by the file's mtime.
 */
const UNREADABLE_STALE_AFTER_MS = 30_000;
const POLL_MS = 200;

interface Holder {
  pid: number;
  host: string;
  since: string;
}

type Seen =
  | { kind: "holder"; holder: Holder; mtimeMs: number }
  | { kind: "unreadable"; why: string; mtimeMs: number }
  | { kind: "gone" };


function asHolder(parsed: unknown): Holder | null {
  if (typeof parsed !== "object" || parsed === null) return null;
  const { pid, host, since } = parsed as Record<string, unknown>;
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) return null;
  if (typeof host !== "string" || host === "") return null;
  if (typeof since !== "string" || Number.isNaN(Date.parse(since))) return null;
  return { pid, host, since };
}

async function look(path: string): Promise<Seen> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "gone" };
    throw lockError(path, "cannot look at the lock", error);
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "gone" };
    return { kind: "unreadable", why: `unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})`, mtimeMs };
  }
  if (text.trim() === "") return { kind: "unreadable", why: "empty", mtimeMs };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: "unreadable", why: "not a lock written by pool-boy", mtimeMs };
  }
  const holder = asHolder(parsed);
  return holder ? { kind: "holder", holder, mtimeMs } : { kind: "unreadable", why: "not a lock written by pool-boy", mtimeMs };
}

/** Why the lock was left by a run that is gone, or null while it may still be held. */
function staleBecause(seen: Seen, now: number, unreadableStaleMs: number): string | null {
  if (seen.kind === "gone") return null;
  if (seen.kind === "unreadable") {
    const age = now - seen.mtimeMs;
    return age > unreadableStaleMs ? `${seen.why}, last written ${Math.round(age / 1000)} s ago` : null;
  }
  const { holder } = seen;
  if (holder.host === hostname() && !alive(holder.pid)) return `left by pid ${holder.pid}, which is gone (${holder.since})`;
  if (now - Date.parse(holder.since) > STALE_AFTER_MS) return `left by pid ${holder.pid} on ${holder.host} at ${holder.since}, over 15 minutes ago`;
  return null;
}

function lockError(path: string, what: string, error: unknown, hint?: string): PoolBoyError {
  return new PoolBoyError(
    "config",
    `--cache-dir: ${what} ${path}: ${(error as Error).message}`,
    hint ?? "the cache directory's parent must be a writable directory; choose another --cache-dir (POOL_BOY_CACHE_DIR) or fix its permissions",
    { cause: error },
  );
}

/**
 * Waits for the cache's lock (at most `waitMs`) and returns its release. A lock left by a run
 * that died (its pid is gone on this host, or it is older than 15 minutes) is taken over, and so
 * is a lock file that cannot be read (empty, half written) and has not changed for 30 seconds.
 */
export async function lockCache(
  cacheDir: string,
  options: { waitMs: number; log: (line: string) => void; unreadableStaleMs?: number },
): Promise<() => Promise<void>> {
  const path = `${cacheDir.replace(/\/+$/, "")}.lock`;
  const unreadableStaleMs = options.unreadableStaleMs ?? UNREADABLE_STALE_AFTER_MS;
  const started = Date.now();
  let told = false;
  for (;;) {
    const me: Holder | null = await create(path);
    if (me !== null) {
      return async () => {
        // Only our own lock: if it was taken over meanwhile (a run over 15 minutes), it is not ours to remove.
        const seen = await look(path).catch(() => null);
        if (seen?.kind === "holder" && seen.holder.pid === me.pid && seen.holder.host === me.host && seen.holder.since === me.since) {
          await rm(path, { force: true });
        }
      };
    }
    const seen = await look(path);
    if (seen.kind === "gone") continue;
    const stale = staleBecause(seen, Date.now(), unreadableStaleMs);
    if (stale !== null) {
      options.log(`taking over the cache lock ${path}: ${stale}`);
      try {
        await rm(path, { force: true });
      } catch (error) {
        throw lockError(path, "cannot remove the stale lock", error, `remove ${path} by hand if no pool-boy run is going on, or choose another --cache-dir (POOL_BOY_CACHE_DIR)`);
      }
      continue;
    }
    if (Date.now() - started >= options.waitMs) {
      const who = seen.kind === "holder" ? `pid ${seen.holder.pid} on ${seen.holder.host} since ${seen.holder.since}` : `another run (its lock file is ${seen.why})`;
      throw new PoolBoyError("git", `the cache ${cacheDir} is in use by ${who}`, `wait for that run to end, or remove ${path} if no pool-boy run is going on`);
    }
    if (!told) {
      options.log(`waiting for the cache ${cacheDir}: another pool-boy run holds it`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Creates the lock file with this run's details; null when it exists already. */
async function create(path: string): Promise<Holder | null> {
  let file;
  try {
    file = await open(path, "wx", 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return null;
    throw lockError(path, "cannot create the lock", error);
  }
  const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  try {
    await file.writeFile(JSON.stringify(me) + "\n");
    await file.close();
  } catch (error) {
    // A full disk: leave no empty lock behind for the next run to wait on.
    await file.close().catch(() => undefined);
    await rm(path, { force: true }).catch(() => undefined);
    throw lockError(path, "cannot write the lock", error);
  }
  return me;
}
