// The command line: commander wiring, --help with examples, the only catch, exit codes.

import { readFile } from "node:fs/promises";
import { Command, CommanderError, Option } from "commander";
import { resolveConfig, ENV, type Command as PoolBoyCommand, type Flags, type FlyTargetInput } from "../decide/config.js";
import { readFlyTarget } from "../io/atc/flyrc-input.js";
import { EXIT, PoolBoyError, ConfigErrors } from "../core/errors.js";
import { redact, registerSecret } from "../core/redact.js";
import { run } from "../run.js";
import { renderTable } from "../report/table.js";
import { resultJson } from "../report/json.js";
import { reportMetrics } from "../io/publish.js";
import type { RunResult } from "../core/model.js";
import { keptForNoAccess } from "../decide/access.js";

const VERSION = JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8")).version as string;

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

Exit codes:
  0  done (whether or not any lock was stale)
  1  unexpected failure (a bug: please report it with the output of --debug)
  2  bad input (flags, environment, pools): nothing changed
  3  git or the Concourse API failed: nothing changed
  4  the git work is done, but writing or pushing metrics failed
  5  the run finished, but some locks were kept without a judgement because Concourse
     refused to show their builds (401/403: no credentials, or not a member of the team);
     the warnings say which user, which team and how to fix it

Secrets (CONCOURSE_PASSWORD, CONCOURSE_TOKEN, POOL_REPO_SSH_PRIVATE_KEY, POOL_REPO_PASSWORD)
are read from the environment or files only, never from flags, and never printed.`;

function addOptions(cmd: Command): Command {
  const env = (name: string) => ` (env ${name})`;
  return cmd
    .option("--repo <url>", `the pool repository: any git URL or local path${env(ENV.repo)}`)
    .option("--branch <name>", `the branch the pools live on; default: the remote's default branch${env(ENV.branch)}`)
    .option("--pools <spec>", `pools and their timeouts, "pool:2h,other:90" (bare numbers are minutes, "never" disables, "*:2h" = every pool)${env(ENV.pools)}`)
    .option("--team <name>", `the Concourse team for claims that name none; default: the flyrc target's team, else main${env(ENV.team)}`)
    .option("--concourse-url <url>", `the Concourse (ATC) URL, as given to fly${env(ENV.concourseUrl)}`)
    .option("--username <name>", `a Concourse local user; the password comes from ${ENV.password} or --password-file${env(ENV.username)}`)
    .option("--password-file <file>", `a file holding the Concourse password${env(ENV.passwordFile)}`)
    .option("--token-file <file>", `a file holding a Concourse bearer token (or set ${ENV.token})${env(ENV.tokenFile)}`)
    .option("-t, --target <name>", `reuse a fly target from ~/.flyrc (api, team, token, TLS)${env(ENV.target)}`)
    .option("--ca-cert <file>", `a PEM CA certificate to verify the Concourse's TLS${env(ENV.caCert)}`)
    .option("--insecure", `skip TLS verification of the Concourse (avoid)${env(ENV.insecure)}`)
    .option("--concurrency <n>", `API requests in flight at most (default 16)${env(ENV.concurrency)}`)
    .option("--api-timeout <duration>", `timeout of each API request, e.g. 10s (default 10s)${env(ENV.apiTimeout)}`)
    .option("--retries <n>", `retries of a failing API request (default 3)${env(ENV.retries)}`)
    .option("--cache-dir <dir>", `keep the clone here between runs and only fetch what is new${env(ENV.cacheDir)}`)
    .option("--max-attempts <n>", `clean: judge-and-push rounds when others push meanwhile (default 20)${env(ENV.maxAttempts)}`)
    .option("--pushgateway <url>", `push metrics to this Prometheus Pushgateway after the run${env(ENV.pushgateway)}`)
    .option("--metrics-file <file>", `write metrics for node_exporter's textfile collector${env(ENV.metricsFile)}`)
    .option("--json", `print one JSON document on stdout${env(ENV.json)}`)
    .option("-v, --verbose", `say what is being done, on stderr${env(ENV.verbose)}`)
    .option("--no-color", "no colour (NO_COLOR is honoured too)")
    .addOption(new Option("--debug", `print stack traces${env(ENV.debug)}`).hideHelp())
    .addOption(new Option("--password <password>").hideHelp())
    .addOption(new Option("--token <token>").hideHelp());
}

interface Io {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

async function readInputs(flags: Flags, env: Record<string, string | undefined>): Promise<{ files: Record<string, string | null>; flyTarget: FlyTargetInput | string | null }> {
  const paths = [flags.passwordFile ?? env[ENV.passwordFile], flags.tokenFile ?? env[ENV.tokenFile], flags.caCert ?? env[ENV.caCert]].filter(
    (p): p is string => typeof p === "string" && p.length > 0,
  );
  const files: Record<string, string | null> = {};
  for (const path of paths) files[path] = await readFile(path, "utf8").catch(() => null);
  const target = flags.target ?? env[ENV.target];
  const flyTarget = target ? await readFlyTarget(target, env) : null;
  return { files, flyTarget };
}

async function execute(command: PoolBoyCommand, flags: Flags & { password?: string; token?: string }, io: Io): Promise<number> {
  if (flags.password !== undefined || flags.token !== undefined) {
    registerSecret(flags.password);
    registerSecret(flags.token);
    const which = flags.password !== undefined ? "--password" : "--token";
    throw new PoolBoyError(
      "usage",
      `${which} is not accepted: secrets on the command line show in process lists and shell history`,
      flags.password !== undefined ? `set ${ENV.password} or use --password-file` : `set ${ENV.token} or use --token-file`,
    );
  }
  for (const name of [ENV.password, ENV.token, "POOL_REPO_PASSWORD", "POOL_REPO_SSH_PRIVATE_KEY"]) registerSecret(io.env[name]);
  const inputs = await readInputs(flags, io.env);
  for (const text of Object.values(inputs.files)) if (text) registerSecret(text.trim());
  if (inputs.flyTarget && typeof inputs.flyTarget !== "string") registerSecret(inputs.flyTarget.token);
  const resolved = resolveConfig({ command, flags, env: io.env, ...inputs, isTTY: Boolean(io.stdout.isTTY) });
  if (!resolved.ok) throw new ConfigErrors(resolved.problems);
  const config = resolved.config;
  if (config.atc?.auth.kind === "password") registerSecret(config.atc.auth.password);
  if (config.atc?.auth.kind === "token") registerSecret(config.atc.auth.token);

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
    io.stderr.write(`pool-boy: ${redact(line)}\n`);
  };
  const warn = (line: string) => {
    clearProgress();
    io.stderr.write(`pool-boy: warning: ${redact(line)}\n`);
  };

  const started = Date.now();
  let result: RunResult | null = null;
  try {
    result = await run(config, { env: io.env, now: () => new Date(), log, progress, warn });
  } finally {
    clearProgress();
    if (config.pushgateway || config.metricsFile) {
      // A failed run still reports (without a new last-success time); a metrics failure after
      // a successful run is its own exit code and never undoes a release.
      const metricsError = await reportMetrics(config, result, (Date.now() - started) / 1000, log).catch((e: unknown) => e);
      if (metricsError && result) {
        writeResult(config, result, io);
        throw metricsError;
      }
    }
  }
  writeResult(config, result, io);
  return unjudgedExit(result, io);
}

/** Exit 5 when locks were kept because Concourse refused to show their builds: said once, loudly. */
function unjudgedExit(result: RunResult, io: Io): number {
  const kept = result.locks.filter(keptForNoAccess);
  if (kept.length === 0) return EXIT.ok;
  const teams = [...new Set(kept.map((j) => (j.owner.kind === "unreachable" ? (j.owner.access?.team ?? "the team of a one-off build") : "")))].sort();
  io.stderr.write(
    redact(
      `pool-boy: ${kept.length} lock${kept.length === 1 ? " was" : "s were"} kept without a judgement: Concourse refused access to ${teams.join(", ")} (HTTP 401/403); ` +
        `the report's warnings say which user, which team and how to fix it (exit ${EXIT.noAccess})`,
    ) + "\n",
  );
  return EXIT.noAccess;
}

function writeResult(config: { json: boolean; color: boolean; verbose: boolean }, result: RunResult, io: Io): void {
  if (config.json) io.stdout.write(redact(JSON.stringify(resultJson(result), null, 2)) + "\n");
  else io.stdout.write(redact(renderTable(result, { color: config.color, verbose: config.verbose })));
}

function printError(error: unknown, io: Io, debug: boolean): number {
  if (error instanceof PoolBoyError) {
    const lines = error.message.split("\n");
    for (const line of lines) io.stderr.write(`pool-boy: ${redact(line)}\n`);
    if (error.hint) io.stderr.write(`  ${redact(error.hint)}\n`);
    if (debug && error.cause instanceof Error && error.cause.stack) io.stderr.write(redact(error.cause.stack) + "\n");
    return error.exitCode;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`pool-boy: unexpected failure (a bug; please report it): ${redact(stack)}\n`);
  return EXIT.bug;
}

export async function main(io: Io): Promise<number> {
  let debug = ["1", "true", "yes"].includes((io.env[ENV.debug] ?? "").toLowerCase());
  const program = new Command("pool-boy")
    .description("Keeps Concourse pool-resource lock pools healthy: finds claimed locks whose owner build is gone and gives them back.")
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run pool-boy --help for usage)")
    .addHelpText("after", EXAMPLES)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`pool-boy: ${redact(s.replace(/^error: /, ""))}`),
    });
  let code: number = EXIT.ok;
  const action = (command: PoolBoyCommand) => async (flags: Flags & { password?: string; token?: string }) => {
    debug = debug || Boolean(flags.debug);
    code = await execute(command, flags, io);
  };
  addOptions(program.command("status").description("report every claimed lock: owner, age, build state and the verdict (changes nothing)"))
    .addHelpText("after", EXAMPLES)
    .action(action("status"));
  addOptions(program.command("clean").description("release the locks judged stale: move them to unclaimed/, commit and push"))
    .addHelpText("after", EXAMPLES)
    .action(action("clean"));
  for (const sub of program.commands) sub.exitOverride().configureOutput(program.configureOutput());
  try {
    if (io.argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync(io.argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return EXIT.ok;
      return EXIT.usage;
    }
    return printError(error, io, debug);
  }
}
