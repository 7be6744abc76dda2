// A private temporary directory (0700) for the deploy key, known_hosts and askpass script.
// Removed by its owner's cleanup(); as a best effort also when the process exits or is ended by
// SIGINT, SIGTERM or SIGHUP before that.

import { mkdtempSync, rmSync, chmodSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

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
  const path = mkdtempSync(join(base, "pool-boy-"));
  chmodSync(path, 0o700);
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

/** Directories made and not yet removed (for tests). */
export function livePrivateDirs(): string[] {
  return [...live];
}
