// After the run: metrics to a Pushgateway and/or a textfile. A failure here is reported with
// its own exit code; it never undoes the git work already done.

import type { Config } from "../decide/config.js";
import type { RunResult } from "../core/model.js";
import { safeUrl } from "../core/redact.js";
import { buildMetrics, pushMetrics, writeMetricsFile } from "./metrics.js";

/** A run that failed before it had a result still reports that it ran and failed. */
function failedResult(config: Config, durationSeconds: number): RunResult {
  const finishedAt = new Date();
  return {
    command: config.command,
    repo: safeUrl(config.repo),
    branch: config.branch ?? "",
    head: "",
    mode: config.atc ? "api" : "timeout-only",
    atcVersion: null,
    locks: [],
    pools: [],
    released: [],
    commits: [],
    attempts: 0,
    api: null,
    startedAt: new Date(finishedAt.getTime() - durationSeconds * 1000),
    finishedAt,
    warnings: [],
  };
}

export async function reportMetrics(config: Config, result: RunResult | null, durationSeconds: number, log: (line: string) => void): Promise<void> {
  const registry = buildMetrics(result ?? failedResult(config, durationSeconds), { succeeded: result !== null });
  const grouping = { repo: result?.repo ?? safeUrl(config.repo), branch: result?.branch ?? config.branch ?? "" };
  const errors: unknown[] = [];
  if (config.metricsFile) {
    await writeMetricsFile(registry, config.metricsFile).then(
      () => log(`metrics written to ${config.metricsFile}`),
      (e: unknown) => errors.push(e),
    );
  }
  if (config.pushgateway) {
    await pushMetrics(registry, config.pushgateway, grouping).then(
      () => log(`metrics pushed to ${safeUrl(config.pushgateway ?? "")}`),
      (e: unknown) => errors.push(e),
    );
  }
  if (errors.length > 0) throw errors[0];
}
