// --summary-file: the plain-text summary (src/report/summary.ts) written for a notification step,
// after a run and also after a failure (then it says why). Secrets are redacted.

import { writeFile } from "node:fs/promises";
import type { Command } from "../decide/config.js";
import type { RunResult } from "../core/model.js";
import { PoolBoyError } from "../core/errors.js";
import { redact } from "../core/redact.js";
import { renderSummary, type SummaryFailure } from "../report/summary.js";

export const SUMMARY_FILE_ENV = "POOL_BOY_SUMMARY_FILE";

/** What a failure says in the summary: a PoolBoyError's message and hint, else that it is a bug. */
export function summaryFailure(error: unknown): SummaryFailure {
  if (error instanceof PoolBoyError) return { message: redact(error.message), ...(error.hint ? { hint: redact(error.hint) } : {}) };
  return { message: `unexpected failure (a bug; please report it): ${redact(error instanceof Error ? error.message : String(error))}` };
}

/** The summary text of a run and/or its failure, redacted. */
export function summaryText(command: Command, result: RunResult | null, error: unknown): string {
  return redact(renderSummary({ command, result, failure: error === null || error === undefined ? null : summaryFailure(error) }));
}

export async function writeSummaryFile(path: string, command: Command, result: RunResult | null, error: unknown): Promise<void> {
  try {
    await writeFile(path, summaryText(command, result, error), { mode: 0o644 });
  } catch (cause) {
    throw new PoolBoyError(
      "metrics",
      `cannot write the summary file "${path}": ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      `check that its folder exists and is writable, or unset --summary-file (${SUMMARY_FILE_ENV})`,
      { cause },
    );
  }
}

/**
 * Runs `body` and writes the summary file (when `flag` or POOL_BOY_SUMMARY_FILE names one) after
 * it: the result, or the failure and why; a failure is thrown on as it was. `body` gets a
 * callback for the run's result.
 */
export async function withSummaryFile(
  command: Command,
  flag: string | undefined,
  io: { env: Record<string, string | undefined>; stderr: NodeJS.WritableStream },
  body: (onResult: (result: RunResult) => void) => Promise<number>,
): Promise<number> {
  const path = flag ?? (io.env[SUMMARY_FILE_ENV] || undefined);
  if (!path) return body(() => undefined);
  let result: RunResult | null = null;
  let code: number;
  try {
    code = await body((r) => (result = r));
  } catch (error) {
    await writeSummaryFile(path, command, result, error).catch((e: unknown) => {
      io.stderr.write(`pool-boy: ${redact(e instanceof Error ? e.message : String(e))}\n`);
    });
    throw error;
  }
  // after a finished run: its failure is thrown once (not tried again as the run's failure)
  await writeSummaryFile(path, command, result, null);
  return code;
}
