// The command line: commander wiring, --help with examples, the only catch, exit codes.

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { resolveConfig, ENV, type Command as PoolBoyCommand, type Flags, type FlyTarget } from "../decide/config.js";
import { readFlyTarget } from "../io/atc/flyrc.js";
import { EXIT, PoolBoyError, ConfigErrors } from "../core/errors.js";
import { makeRedactor, redact, safeUrl, type Redactor } from "../core/redact.js";
import { escapeText } from "../core/escape.js";
import { run } from "../run.js";
import { withSummaryFile, SUMMARY_FILE_ENV } from "./summary-file.js";
import { renderTable } from "../report/table.js";
import { errorJson, failureJson, resultJson } from "../report/json.js";
import { reportMetrics } from "../io/publish.js";
import type { RunResult } from "../core/model.js";
import type { Result } from "../core/result.js";
import { noAccessSentence } from "../decide/access.js";
import type { Config } from "../decide/config.js";
import { POOL_TIMEOUT_BOUNDS, formatTimeout, parseDuration } from "../core/durations.js";
import { doctor, hold, parseTarget, releaseByHand, unhold, whoRuns } from "../operate.js";
import { doctorJson, holdJson, releaseJson, renderDoctor, renderHold, renderRelease } from "../report/controls.js";

/** The version from package.json, read only when it is asked for (-V, --version): importing the CLI reads no file. */
async function readVersion(): Promise<string> {
  return (JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

const EXAMPLES = `
Examples:
  # What would be released, from a laptop, reusing fly's login
  $ pool-boy status --repo git@github.com:org/locks.git --pools 'aws:2h,gcp:90m' --target ci

  # Release stale locks; the configuration of the original Pool Boy's task works as is
  $ POOL_REPO=git@github.com:org/locks.git POOLS='aws:120,gcp:90' \\
    CONCOURSE_BASE_URL=https://ci.example.com CONCOURSE_USERNAME=bot CONCOURSE_PASSWORD=… \\
    pool-boy clean

  # Every pool in the repo, two hours each, as JSON
  $ pool-boy status --repo ./locks.git --pools '*:2h' --json

  # fly's habits: global options before the command; one pool, or one lock
  $ pool-boy -t ci status --repo ./locks.git --only aws --only gcp/vm-1

  # A check for scripts: exit 6 when something would be released
  $ pool-boy status --repo ./locks.git --pools '*:2h' --exit-code >/dev/null || echo "stale locks"

Exit codes:
  0  done (whether or not any lock was stale)
  1  unexpected failure (a bug: please report it with the output of --debug)
  2  bad input (flags, environment, pools): nothing changed
  3  git or the Concourse API failed: nothing changed
  4  the git work is done, but writing or pushing metrics, or writing the summary file, failed
  5  the run finished, but some locks were kept without a judgement because Concourse
     refused to show their builds (401/403: no credentials, or not a member of the team);
     the warnings say which user, which team and how to fix it
  6  status --exit-code: the run finished and something would be released
     (5 comes first when some locks could not be judged)
  7  doctor found something that needs a human

Operator controls: pool-boy hold|unhold|release POOL/LOCK, pool-boy doctor (see their --help).

Secrets (CONCOURSE_PASSWORD, CONCOURSE_TOKEN, POOL_REPO_SSH_PRIVATE_KEY, POOL_REPO_PASSWORD, and
credentials inside POOL_REPO) are read from the environment or files only, never from flags, and
never printed.`;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const OPERATOR_EXAMPLES = `
Examples:
  # Keep a failed environment for a day to debug it; clean leaves it alone
  $ pool-boy hold aws/env-3 --reason "debugging the VPC peering" --for 1d --repo git@github.com:org/locks.git
  $ pool-boy unhold aws/env-3 --repo git@github.com:org/locks.git

  # Release one lock by hand (refused while its build runs, unless --force)
  $ pool-boy release aws/env-3 --reason "env rebuilt by hand" --repo git@github.com:org/locks.git --target ci

  # What needs a human (exit 7 when something does)
  $ pool-boy doctor --repo git@github.com:org/locks.git

Exit codes: 0 done (doctor: healthy); 2 bad input or refused (nothing changed); 3 git or Concourse
failed (nothing changed); 7 doctor found something that needs a human.`;

function addOptions(cmd: Command, options: { hidden?: boolean; exitCode?: boolean; dryRun?: boolean; only?: boolean } = {}): Command {
  const env = (name: string) => ` (env ${name})`;
  const before = cmd.options.length;
  if (options.exitCode)
    cmd.option("--exit-code", `exit ${EXIT.wouldRelease} when something would be released, 0 otherwise${env(ENV.exitCode)}`);
  if (options.dryRun)
    cmd.option("--dry-run", `do everything clean does up to the push: show the release commits and their messages, push nothing${env(ENV.dryRun)}`);
  cmd
    .option("--repo <url>", `the pool repository: any git URL or local path; a URL with credentials only through ${ENV.repo}${env(ENV.repo)}`)
    .option("--branch <name>", `the branch the pools live on; default: the remote's default branch${env(ENV.branch)}`)
    .option(
      "--pools <spec>",
      `pools and their timeouts, "pool:2h,other:90" (bare numbers are minutes; 1m to 365d, or "never"; "*:2h" = every pool); default: every pool, no timeout${env(ENV.pools)}`,
    )
    .option("--config <file>", `a YAML file of per-pool settings (timeout, keep-failed, release-to); flags and env win over it, it wins over the repository's .pool-boy/config.yaml${env(ENV.config)}`)
    .option("--team <name>", `the Concourse team for claims that name none; default: the flyrc target's team, else main${env(ENV.team)}`)
    .option("--concourse-url <url>", `the Concourse (ATC) URL, as given to fly${env(ENV.concourseUrl)}`)
    .option("--username <name>", `a Concourse local user; the password comes from ${ENV.password} or --password-file${env(ENV.username)}`)
    .option("--password-file <file>", `a file holding the Concourse password${env(ENV.passwordFile)}`)
    .option("--token-file <file>", `a file holding a Concourse bearer token (or set ${ENV.token})${env(ENV.tokenFile)}`)
    .option("-t, --target <name>", `reuse a fly target from ~/.flyrc (api, team, token, TLS)${env(ENV.target)}`)
    .option("--ca-cert <file>", `a PEM CA certificate to verify the Concourse's TLS${env(ENV.caCert)}`)
    .option("--insecure", `skip TLS verification of the Concourse (avoid)${env(ENV.insecure)}`)
    .option("--concurrency <n>", `API requests in flight at most, 1 to 256 (default 16)${env(ENV.concurrency)}`)
    .option("--api-timeout <duration>", `timeout of each API request, with a unit (10s, 2m), 1s to 1h (default 10s)${env(ENV.apiTimeout)}`)
    .option("--retries <n>", `retries of a failing API request, 0 to 10 (default 3)${env(ENV.retries)}`)
    .option("--cache-dir <dir>", `keep the clone here between runs and only fetch what is new${env(ENV.cacheDir)}`)
    .option("--max-attempts <n>", `clean: judge-and-push rounds when others push meanwhile, 1 to 50 (default 20)${env(ENV.maxAttempts)}`)
    .option("--pushgateway <url>", `push metrics to this Prometheus Pushgateway after the run${env(ENV.pushgateway)}`)
    .option("--metrics-file <file>", `write metrics for node_exporter's textfile collector${env(ENV.metricsFile)}`)
    .option("--summary-file <file>", `write a short plain-text summary for notifications, also when the run fails${env(SUMMARY_FILE_ENV)}`)
    .option("--json", `print one JSON document on stdout${env(ENV.json)}`)
    .option("-v, --verbose", `say what is being done, on stderr${env(ENV.verbose)}`)
    .option("--no-color", "no colour (NO_COLOR is honoured too)")
    .option("--debug", `print stack traces of unexpected failures${env(ENV.debug)}`)
    .addOption(new Option("--password <password>").hideHelp())
    .addOption(new Option("--token <token>").hideHelp());
  // status and clean (and the options before the command): only these pools or locks
  if (options.only !== false) cmd.option("--only <pool[/lock]>", `only this pool or lock; repeatable (env ${ENV.only}, comma-separated)`, collect);
  if (options.hidden) for (const option of cmd.options.slice(before)) option.hideHelp();
  return cmd;
}

interface Io {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** told the run's result as soon as there is one (--summary-file) */
  onResult?: (result: RunResult) => void;
}

async function readInputs(
  flags: Flags,
  env: Record<string, string | undefined>,
): Promise<{ files: Record<string, string | null>; flyTarget: Result<FlyTarget, string> | null; sshKnownHosts: string | null }> {
  const paths = [flags.passwordFile ?? env[ENV.passwordFile], flags.tokenFile ?? env[ENV.tokenFile], flags.caCert ?? env[ENV.caCert], flags.config ?? env[ENV.config]].filter(
    (p): p is string => typeof p === "string" && p.length > 0,
  );
  const files: Record<string, string | null> = {};
  for (const path of paths) files[path] = await readFile(path, "utf8").catch(() => null);
  const target = flags.target ?? env[ENV.target];
  const flyTarget = target ? await readFlyTarget(target, env) : null;
  // read, never written; only ssh uses it
  const sshKnownHosts = await readFile(join(env.HOME || homedir(), ".ssh", "known_hosts"), "utf8").catch(() => null);
  return { files, flyTarget, sshKnownHosts };
}

/** What a run had got to when it failed, for the --json failure document. */
interface Had {
  json: boolean;
  command: PoolBoyCommand | OperatorCommand | null;
  repo?: string;
  branch?: string | null;
  /** the finished run (only the metrics failed after it) */
  result: RunResult | null;
  /** the last judgement, when a later step (the push) failed: nothing was released */
  judged?: RunResult;
  /** the run's one redactor, once the configuration is resolved; until then the patterns alone */
  redactor: Redactor | null;
  /** --json: the result's document is on stdout already (a later failure adds no second one) */
  printed?: boolean;
}

/** The last net over everything written (Redactor.output). */
function masked(had: Had): (text: string) => string {
  return had.redactor?.output ?? redact;
}

/** --json or POOL_BOY_JSON, read before commander or the config has had a say (they may fail). */
function wantsJson(argv: string[], env: Record<string, string | undefined>): boolean {
  const end = argv.indexOf("--");
  if ((end < 0 ? argv : argv.slice(0, end)).includes("--json")) return true;
  return ["1", "true", "yes", "on"].includes((env[ENV.json] ?? "").trim().toLowerCase());
}

async function configFrom(command: PoolBoyCommand, flags: Flags, io: Io, had: Had): Promise<{ config: Config; redactor: Redactor }> {
  if (flags.password !== undefined || flags.token !== undefined) {
    had.redactor = makeRedactor({ secrets: [flags.password, flags.token].filter((v): v is string => v !== undefined).map((value) => ({ value })) });
    const which = flags.password !== undefined ? "--password" : "--token";
    throw new PoolBoyError(
      "usage",
      `${which} is not accepted: secrets on the command line show in process lists and shell history`,
      flags.password !== undefined ? `set ${ENV.password} or use --password-file` : `set ${ENV.token} or use --token-file`,
    );
  }
  const inputs = await readInputs(flags, io.env);
  const resolved = resolveConfig({ command, flags, env: io.env, ...inputs, isTTY: Boolean(io.stdout.isTTY), terminalColumns: (io.stdout as { columns?: number }).columns });
  // built from every credential the configuration found, also when it found problems
  const redactor = makeRedactor(resolved);
  had.redactor = redactor;
  if (!resolved.ok) throw new ConfigErrors(resolved.problems);
  const config = resolved.value;
  had.json = config.json;
  had.repo = safeUrl(config.repo);
  had.branch = config.branch;
  return { config, redactor };
}

function logging(config: Config, io: Io, redactor: Redactor) {
  const terminal = Boolean(io.stderr.isTTY) && !config.json;
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown) io.stderr.write("\r\x1b[K");
    progressShown = false;
  };
  return {
    progress: (line: string) => {
      if (!terminal) return;
      io.stderr.write(`\r\x1b[K${line}`);
      progressShown = true;
    },
    clearProgress,
    log: (line: string) => {
      if (!config.verbose) return;
      clearProgress();
      io.stderr.write(`pool-boy: ${escapeText(redactor.output(line))}\n`);
    },
  };
}

type OperatorCommand = "hold" | "unhold" | "release" | "doctor";
type OperatorFlags = Flags & { reason?: string; for?: string; by?: string; force?: boolean; to?: string };

/** hold, unhold, release and doctor: the same configuration, one lock (or none), their own output. */
async function executeOperator(command: OperatorCommand, lockArg: string | null, flags: OperatorFlags, io: Io, had: Had): Promise<number> {
  had.command = command;
  const { config, redactor } = await configFrom("status", flags, io, had);
  const target = lockArg === null ? null : parseTarget(lockArg);
  const reason = (flags.reason ?? io.env["POOL_BOY_REASON"] ?? "").trim();
  if ((command === "hold" || command === "release") && reason === "")
    throw new PoolBoyError("usage", `${command}: --reason is required (or POOL_BOY_REASON): say why, for the commit and for whoever looks next`, `e.g. pool-boy ${command} ${lockArg ?? "POOL/LOCK"} --reason "debugging the VPC"`);
  let forSeconds: number | null = null;
  const forText = flags.for ?? io.env["POOL_BOY_HOLD_FOR"];
  if (command === "hold" && forText !== undefined && forText !== "") {
    const d = parseDuration(forText);
    if (d === undefined || d === null) throw new PoolBoyError("usage", `--for: "${forText}" is not a duration (use 90m, 8h, 2d)`, "leave --for out to hold until unhold");
    // A hold is for a while: past a year (and past the dates a Date can hold) means until unhold.
    if (d > POOL_TIMEOUT_BOUNDS.max)
      throw new PoolBoyError("usage", `--for: "${forText}" is longer than a year (${formatTimeout(POOL_TIMEOUT_BOUNDS.max)})`, "leave --for out to hold until unhold");
    forSeconds = d;
  }
  const to = flags.to ?? io.env["POOL_BOY_RELEASE_TO"] ?? null;
  if (to !== null && (to === "" || /[/\\\0]/.test(to) || to.startsWith(".")))
    throw new PoolBoyError("usage", `--to: "${to}" is not a pool name`, "name a top-level pool folder, e.g. --to aws-dirty");
  const { log, progress, clearProgress } = logging(config, io, redactor);
  const deps = { env: io.env, now: () => new Date(), log, progress, redactor };
  const out = (json: unknown, text: string) => io.stdout.write(redactor.output(config.json ? JSON.stringify(json, null, 2) + "\n" : text));
  try {
    if (command === "doctor") {
      const result = await doctor(config, deps);
      clearProgress();
      out(doctorJson(result), renderDoctor(result, { color: config.color }));
      return result.findings.length > 0 ? EXIT.needsHuman : EXIT.ok;
    }
    const by = await whoRuns(flags.by, io.env);
    if (!target) throw new Error(`${command} needs a lock`);
    if (command === "release") {
      const result = await releaseByHand(config, target, { reason, force: Boolean(flags.force), by, to }, deps);
      clearProgress();
      out(releaseJson(result), renderRelease(result));
      return EXIT.ok;
    }
    const result = command === "hold" ? await hold(config, target, { reason, forSeconds, by }, deps) : await unhold(config, target, { by }, deps);
    clearProgress();
    out(holdJson(result), renderHold(result));
    return EXIT.ok;
  } finally {
    clearProgress();
  }
}

async function execute(command: PoolBoyCommand, flags: Flags, io: Io, had: Had): Promise<number> {
  had.command = command;
  const { config, redactor } = await configFrom(command, flags, io, had);
  const terminal = Boolean(io.stderr.isTTY) && !config.json;
  let progressShown = false;
  const progress = (line: string) => {
    if (!terminal) return;
    io.stderr.write(`\r\x1b[K${line}`);
    progressShown = true;
  };
  const clearProgress = () => {
    if (progressShown) io.stderr.write("\r\x1b[K");
    progressShown = false;
  };
  const log = (line: string) => {
    if (!config.verbose) return;
    clearProgress();
    io.stderr.write(`pool-boy: ${escapeText(redactor.output(line))}\n`);
  };
  const warn = (line: string) => {
    clearProgress();
    io.stderr.write(`pool-boy: warning: ${escapeText(redactor.output(line))}\n`);
  };

  const started = Date.now();
  let result: RunResult | null = null;
  try {
    result = await run(config, { env: io.env, now: () => new Date(), log, progress, warn, redactor, judged: (r) => (had.judged = r) });
    io.onResult?.(result);
  } finally {
    clearProgress();
    if (config.pushgateway || config.metricsFile) {
      // A failed run still reports (without a new last-success time); a metrics failure after
      // a successful run is its own exit code and never undoes a release.
      const metricsError = await reportMetrics(config, result, (Date.now() - started) / 1000, log).catch((e: unknown) => e);
      if (metricsError && result) {
        // --json: one document, the result and the error together (written where the error is caught)
        if (config.json) had.result = result;
        else writeResult(config, result, io, redactor);
        throw metricsError;
      }
    }
  }
  writeResult(config, result, io, redactor);
  had.printed = true;
  const unjudged = unjudgedExit(result, io, redactor);
  // An incomplete judgement (exit 5) is said before what would be released (exit 6).
  if (unjudged !== EXIT.ok) return unjudged;
  if (config.exitCode && result.locks.some((j) => j.verdict.action === "release")) return EXIT.wouldRelease;
  return EXIT.ok;
}

/** Exit 5 when locks were kept because Concourse refused to show their builds: said once, loudly. */
function unjudgedExit(result: RunResult, io: Io, redactor: Redactor): number {
  const sentence = noAccessSentence(result.locks);
  if (sentence === null) return EXIT.ok;
  io.stderr.write(redactor.output(`pool-boy: ${sentence}; the report's warnings say which user, which team and how to fix it (exit ${EXIT.noAccess})`) + "\n");
  return EXIT.noAccess;
}

function writeResult(config: { json: boolean; color: boolean; verbose: boolean; columns: number; hyperlinks: boolean }, result: RunResult, io: Io, redactor: Redactor): void {
  if (config.json) io.stdout.write(redactor.output(JSON.stringify(resultJson(result), null, 2)) + "\n");
  else io.stdout.write(redactor.output(renderTable(result, { color: config.color, verbose: config.verbose, width: config.columns, hyperlinks: config.hyperlinks })));
}

function printError(error: unknown, io: Io, debug: boolean, mask: (text: string) => string): number {
  if (error instanceof PoolBoyError) {
    const lines = error.message.split("\n");
    // repository and API text inside a message is shown, not executed: one escaped line each
    for (const line of lines) io.stderr.write(`pool-boy: ${escapeText(mask(line))}\n`);
    if (error.hint) io.stderr.write(`  ${escapeText(mask(error.hint))}\n`);
    if (debug && error.cause instanceof Error && error.cause.stack) io.stderr.write(mask(error.cause.stack) + "\n");
    return error.exitCode;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`pool-boy: unexpected failure (a bug; please report it): ${mask(stack).split("\n").map(escapeText).join("\n")}\n`);
  return EXIT.bug;
}

/** The program's options (before the command) under the command's own (after it). */
function mergeFlags(global: Record<string, unknown>, own: Record<string, unknown>, cmd: Command): Flags & { password?: string; token?: string } {
  const merged: Record<string, unknown> = { ...global };
  for (const [key, value] of Object.entries(own)) {
    // A default (e.g. --no-color's color=true) does not override a value given before the command.
    if (cmd.getOptionValueSource(key) === "default" && merged[key] !== undefined) continue;
    if (key === "only" && Array.isArray(merged[key]) && Array.isArray(value)) merged[key] = [...(merged[key] as string[]), ...value];
    else merged[key] = value;
  }
  return merged as Flags & { password?: string; token?: string };
}

/**
 * A reader that goes away (`pool-boy status | head`) is no crash: the run goes on to its end (a
 * clean is never cut short half-way, temporary files are removed), writes to the closed stream are
 * dropped, and the exit code is the run's.
 */
function tolerateClosedPipes(io: Io): void {
  for (const stream of [io.stdout, io.stderr]) {
    const s = stream as NodeJS.WritableStream & { listenerCount?: (event: string) => number };
    s.on?.("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED" || error.code === "ECONNRESET") return;
      // nowhere left to report it: the exit code still tells
    });
  }
}

export async function main(io: Io): Promise<number> {
  tolerateClosedPipes(io);
  // the command may come after global options (pool-boy -t ci status)
  const named = io.argv.find((a) => a === "status" || a === "clean");
  const had: Had = { json: wantsJson(io.argv, io.env), command: named === "status" || named === "clean" ? named : null, result: null, redactor: null };
  let debug = ["1", "true", "yes"].includes((io.env[ENV.debug] ?? "").toLowerCase());
  const program = new Command("pool-boy")
    .description("Keeps Concourse pool-resource lock pools healthy: finds claimed locks whose owner build is gone and gives them back.")
    .version(io.argv.some((a) => a === "-V" || a === "--version") ? await readVersion() : "", "-V, --version")
    .showHelpAfterError("(run pool-boy --help for usage)")
    .addHelpText("after", `\nThe options of status and clean (see pool-boy status --help) may also\ncome before the command, as with fly: pool-boy -t ci status\n${EXAMPLES}`)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`pool-boy: ${escapeText(redact(s.replace(/^error: /, "").replace(/\n$/, "")))}\n`),
    });
  // As with fly, the options may come before the command too (`pool-boy -t ci status`): the
  // program takes them up to the command's name, the command after it; the command's win.
  addOptions(program, { hidden: true }).enablePositionalOptions();
  let code: number = EXIT.ok;
  const action = (command: PoolBoyCommand) => async (own: Record<string, unknown>, cmd: Command) => {
    const flags: Flags & { summaryFile?: string } = mergeFlags(program.opts(), own, cmd);
    debug = debug || Boolean(flags.debug);
    code = await withSummaryFile(command, flags.summaryFile, io, (onResult) => execute(command, flags, { ...io, onResult }, had));
  };
  addOptions(program.command("status").description("report every claimed lock: owner, age, build state and the verdict (changes nothing)"), { exitCode: true })
    .addHelpText("after", EXAMPLES)
    .action(action("status"));
  addOptions(program.command("clean").description("release the locks judged stale: move them to unclaimed/, commit and push"), { dryRun: true })
    .addHelpText("after", EXAMPLES)
    .action(action("clean"));
  // ---- operator controls: hold, unhold, release by hand, doctor ----
  const operator = (command: OperatorCommand) => async (...args: unknown[]) => {
    const lock = command === "doctor" ? null : (args[0] as string);
    const at = command === "doctor" ? 0 : 1;
    const flags = mergeFlags(program.opts(), args[at] as Record<string, unknown>, args[at + 1] as Command) as unknown as OperatorFlags;
    debug = debug || Boolean(flags.debug);
    code = await executeOperator(command, lock, flags, io, had);
  };
  const by = `who runs it, for the commit; default: POOL_BOY_BY, else git's user.name, else USER@host (env POOL_BOY_BY)`;
  addOptions(program.command("hold").argument("<POOL/LOCK>", "the claimed lock to hold").description("keep a claimed lock from clean (for debugging): a commit in .pool-boy/holds/, outside the pool's folder"), { only: false })
    .option("--reason <text>", "why it is held (required) (env POOL_BOY_REASON)")
    .option("--for <duration>", "hold it this long, e.g. 8h or 2d; default: until unhold (env POOL_BOY_HOLD_FOR)")
    .option("--by <name>", by)
    .addHelpText("after", OPERATOR_EXAMPLES)
    .action(operator("hold"));
  addOptions(program.command("unhold").argument("<POOL/LOCK>", "the held lock").description("lift a hold: clean judges the lock again"), { only: false })
    .option("--by <name>", by)
    .addHelpText("after", OPERATOR_EXAMPLES)
    .action(operator("unhold"));
  addOptions(program.command("release").argument("<POOL/LOCK>", "the claimed lock to release").description("release one lock by hand, through the same safe path as clean; refuses a lock that is alive, unknown or held unless --force"), { only: false })
    .option("--reason <text>", "why it is released (required), for the commit (env POOL_BOY_REASON)")
    .option("--force", "release it even when its owner is running, cannot be vouched for, or it is held; the commit names whose build it was taken from")
    .option("--to <pool>", "move it to this pool's unclaimed/ instead (overrides release-to) (env POOL_BOY_RELEASE_TO)")
    .option("--by <name>", by)
    .addHelpText("after", OPERATOR_EXAMPLES)
    .action(operator("release"));
  addOptions(program.command("doctor").description(`report what in the pool repository needs a human (changes nothing); exit ${EXIT.needsHuman} when something does`), { only: false })
    .addHelpText("after", OPERATOR_EXAMPLES)
    .action(operator("doctor"));
  for (const sub of program.commands) sub.exitOverride().configureOutput(program.configureOutput());
  const usageHint = "run pool-boy --help for usage";
  try {
    // No command (none at all, or only options: `pool-boy -t ci`): usage, exit 2.
    const asksForHelp = io.argv.some((a) => ["-h", "--help", "help", "-V", "--version"].includes(a));
    if (io.argv.length === 0 || (had.command === null && !asksForHelp && !io.argv.some((a) => !a.startsWith("-") && program.commands.some((c) => c.name() === a)))) {
      program.outputHelp({ error: true });
      if (had.json) writeFailure(errorJson(null, { message: "no command given: use status or clean", hint: usageHint }), had, io);
      return EXIT.usage;
    }
    await program.parseAsync(io.argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return EXIT.ok;
      if (had.json) writeFailure(errorJson(null, { message: error.message.replace(/^error: /, ""), hint: usageHint }), had, io);
      return EXIT.usage;
    }
    const exitCode = printError(error, io, debug, masked(had));
    // a failure after the result was printed (the summary file): stdout keeps its one document
    if (had.json && !had.printed) writeFailure({ ...errorJson(error), exitCode }, had, io);
    return exitCode;
  }
}

/** --json on failure: still one document on stdout (the message is on stderr too, for people). */
function writeFailure(error: ReturnType<typeof errorJson>, had: Had, io: Io): void {
  const doc = failureJson(error, { command: had.command, repo: had.repo, branch: had.branch, result: had.result ?? had.judged ?? null });
  io.stdout.write(masked(had)(JSON.stringify(doc, null, 2)) + "\n");
}
