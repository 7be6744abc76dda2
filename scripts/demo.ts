// `npm run demo`: a temporary pool repository with a lock in every state and a local Concourse
// API stand-in, then the real `pool-boy status` and `pool-boy clean` against them.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { everyVerdictScenario } from "../test/support/scenario.js";
import { log } from "../test/support/pool-repo.js";

const BIN = fileURLToPath(new URL("../../bin/pool-boy.js", import.meta.url));

function poolBoy(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...(process.env.NO_COLOR ? { NO_COLOR: process.env.NO_COLOR } : {}), ...env },
      stdio: "inherit",
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m▶ ${text}\x1b[0m\n`.replace(process.stdout.isTTY && !process.env.NO_COLOR ? /$^/ : /\x1b\[[0-9;]*m/g, ""));
}

const scenario = await everyVerdictScenario();
try {
  say("A pool repository with 9 claimed locks, and a Concourse 8.2 API stand-in on " + scenario.atc.url);
  for (const e of scenario.expected) process.stdout.write(`  ${e.pool}/${e.name}: ${e.story}\n`);
  process.stdout.write(`\nThe task's environment (the original Pool Boy's variables):\n`);
  for (const key of ["POOL_REPO", "POOLS", "CONCOURSE_BASE_URL", "CONCOURSE_USERNAME"]) process.stdout.write(`  ${key}=${scenario.env[key]}\n`);
  process.stdout.write(`  CONCOURSE_PASSWORD=(set)\n`);

  say("pool-boy status   (changes nothing)");
  const statusCode = await poolBoy(["status"], scenario.env);

  say("pool-boy clean");
  const cleanCode = await poolBoy(["clean"], scenario.env);

  say("What clean pushed to the pool repository");
  const commits = await log(scenario.repo.path, { max: 10 });
  for (const c of commits.filter((x) => x.author.startsWith("Pool Boy"))) {
    process.stdout.write(`  ${c.sha.slice(0, 8)} ${c.message.split("\n")[0]}  (${c.moves.map((m) => `${m.from} → ${m.to}`).join(", ")})\n`);
    for (const line of c.message.split("\n").slice(2)) process.stdout.write(`           ${line}\n`);
  }
  process.stdout.write(`\nDone (status exited ${statusCode}, clean exited ${cleanCode}). Try it on your pools: pool-boy --help\n`);
  process.exitCode = statusCode || cleanCode;
} finally {
  await scenario.cleanup();
}
