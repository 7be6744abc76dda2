// Runs the built resource scripts as Concourse does: a JSON request on stdin, the directory as
// the argument of in and out, the BUILD_* variables, nothing else in the environment.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const RESOURCE_BIN = fileURLToPath(new URL("../../../bin/pool-boy-resource.js", import.meta.url));

export interface ResourceRun {
  code: number;
  stdout: string;
  stderr: string;
}

export const BUILD_ENV: Record<string, string> = {
  BUILD_ID: "4242",
  BUILD_NAME: "17",
  BUILD_JOB_NAME: "release-stale-locks",
  BUILD_PIPELINE_NAME: "pool-boy",
  BUILD_TEAM_NAME: "main",
  ATC_EXTERNAL_URL: "https://ci.example.com",
};

export function runResource(
  op: "check" | "in" | "out",
  request: unknown,
  env: Record<string, string>,
  options: { dir?: string; stdin?: string; timeoutMs?: number } = {},
): Promise<ResourceRun> {
  return new Promise((resolve, reject) => {
    const args = [RESOURCE_BIN, op, ...(options.dir ? [options.dir] : [])];
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...(op === "check" ? {} : BUILD_ENV), ...env },
      stdio: ["pipe", "pipe", "pipe"],
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
    child.stdin.end(options.stdin ?? JSON.stringify(request));
  });
}

/** stdout as the one JSON document the contract allows, with a clear failure otherwise. */
export function output<T = unknown>(run: ResourceRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}
