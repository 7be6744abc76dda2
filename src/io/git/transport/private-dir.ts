// A private temporary directory (0700) for the deploy key, known_hosts and askpass script.
// Removed by its owner's cleanup(); also when the process exits or is ended by SIGINT, SIGTERM or
// SIGHUP before that. A run killed outright (SIGKILL, the OOM killer, a power cut) cannot clean
// up: each directory holds an `owner` file (pid, the process's start time, host) written before
// any secret, and the next run removes every directory whose owner is no longer alive
// (removeAbandonedDirs).

import { mkdtempSync, rmSync, chmodSync, writeFileSync, readFileSync } from "node:fs";
import { lstat, readFile, readdir, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const PREFIX = "pool-boy-";
const OWNER_FILE = "owner";

/** When the process started, in clock ticks since boot (Linux), to tell a reused pid apart. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether a process of this machine is alive (EPERM: alive, another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function ownerText(): string {
  return `${process.pid} ${startTime(process.pid) ?? "-"} ${hostname()}\n`;
}

/** Whether the owner file names a process of this host that is gone. Unknown or unreadable: not abandoned. */
function abandoned(owner: string): boolean {
  const [pidText, started, host] = owner.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || host !== hostname()) return false;
  if (pid === process.pid) return startTime(pid) !== started && started !== "-";
  if (!alive(pid)) return true;
  // the pid was reused by another process since
  const now = startTime(pid);
  return started !== "-" && now !== null && now !== started;
}

/**
 * Remove what killed runs left under `root` (default: the OS temp dir): pool-boy private dirs of
 * this user whose owner process is gone. Returns the directories removed.
 */
export async function removeAbandonedDirs(root?: string): Promise<string[]> {
  const base = resolve(root ?? tmpdir());
  const removed: string[] = [];
  let names: string[];
  try {
    names = (await readdir(base)).filter((name) => name.startsWith(PREFIX));
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const dir = join(base, name);
    try {
      const info = await lstat(dir);
      if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
      const owner = await readFile(join(dir, OWNER_FILE), "utf8");
      if (!abandoned(owner)) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // not ours, no owner file (not a private dir, or one being made), or gone meanwhile
    }
  }
  return removed;
}

const live = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Signal = (typeof SIGNALS)[number];
let installed = false;

function removeAllNow(): void {
  for (const dir of live) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: the process is going away
    }
  }
  live.clear();
}

function onSignal(signal: Signal): void {
  removeAllNow();
  uninstall();
  // When nobody else handles the signal, let it do what it would have done without us.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", removeAllNow);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener("exit", removeAllNow);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}

export interface PrivateDir {
  path: string;
  /** remove the directory and everything in it; safe to call more than once */
  remove(): Promise<void>;
}

/** Make a fresh 0700 directory under `root` (default: the OS temp dir). */
export function makePrivateDir(root?: string): PrivateDir {
  const base = resolve(root ?? tmpdir());
  const path = mkdtempSync(join(base, PREFIX));
  chmodSync(path, 0o700);
  // before any secret goes in: a run killed from here on is found by the next one
  writeFileSync(join(path, OWNER_FILE), ownerText(), { mode: 0o600 });
  live.add(path);
  install();
  let removed = false;
  return {
    path,
    async remove() {
      if (removed) return;
      removed = true;
      try {
        await rm(path, { recursive: true, force: true });
      } finally {
        live.delete(path);
        if (live.size === 0) uninstall();
      }
    },
  };
}
