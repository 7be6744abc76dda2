// One error type for every stage; only src/cli/main.ts catches it.

export type ErrorKind = "usage" | "config" | "git" | "atc" | "metrics";

/** Exit codes, documented in --help and the README. */
export const EXIT = {
  ok: 0,
  /** an unexpected failure: a bug */
  bug: 1,
  /** bad input (flags, environment, pool spec): nothing changed */
  usage: 2,
  /** git or the Concourse API failed: nothing changed */
  failed: 3,
  /** the git work is done but reporting (metrics push/file) failed */
  report: 4,
  /** the run finished, but some claims could not be judged for lack of API access (401/403): kept */
  noAccess: 5,
  /** `status --exit-code`: the run finished and something would be released */
  wouldRelease: 6,
  /** doctor found something that needs a human */
  needsHuman: 7,
} as const;

export class PoolBoyError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PoolBoyError";
  }

  get exitCode(): number {
    switch (this.kind) {
      case "usage":
      case "config":
        return EXIT.usage;
      case "git":
      case "atc":
        return EXIT.failed;
      case "metrics":
        return EXIT.report;
    }
  }
}

/** Several configuration problems reported at once, so a task's config is fixed in one round. */
export class ConfigErrors extends PoolBoyError {
  constructor(
    readonly problems: string[],
    hint = "see pool-boy --help for every option and its environment variable",
  ) {
    super("config", problems.join("\n"), hint);
    this.name = "ConfigErrors";
  }
}
