// Runs the built CLI as a user would: a child process with only the environment given.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../../bin/pool-boy.js", import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function poolBoy(args: string[], env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The parsed --json document, with a clear failure when stdout is not JSON. */
export function json(run: CliRun): JsonReport {
  try {
    return JSON.parse(run.stdout) as JsonReport;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

export interface JsonLock {
  pool: string;
  name: string;
  verdict: string;
  reason: string;
  detail: string;
  claimedAt: string | null;
  ageSeconds: number | null;
  commit: string | null;
  editedAfterClaim?: Array<{ commit: string; at: string }>;
  cause?: string | null;
  owner: Record<string, unknown> | null;
  buildStatus: string | null;
  holder: Record<string, unknown> | null;
  handedOff: boolean;
  waitingFor: string[];
}

export interface JsonReport {
  command: string;
  mode: string;
  head: string;
  branch: string;
  locks: JsonLock[];
  pools: Array<{ pool: string; claimed: number; unclaimed: number }>;
  released?: Array<{ pool: string; name: string }>;
  commits?: string[];
  attempts?: number;
  api: { requests: number; maxInFlight: number } | null;
}
