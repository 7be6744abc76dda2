// clean --dry-run through the built CLI, against a real bare repository and the API stand-in:
// the plan it shows is the commits a real clean then pushes, and it pushes nothing itself.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { everyVerdictScenario, DEMO_USER, type Scenario } from "../support/scenario.js";
import { log } from "../support/pool-repo.js";
import { poolBoy } from "../support/cli.js";

interface DryRunJson {
  command: string;
  head: string;
  branch: string;
  dryRun?: boolean;
  wouldRelease?: number;
  released?: unknown;
  commits?: unknown;
  plan: { base: string; branch: string; moves: Array<{ pool: string; name: string; from: string; to: string; message: string; gitkeep: string | null }> } | null;
}

let s: Scenario;
before(async () => {
  s = await everyVerdictScenario({ version: "8.2.5" });
});
after(async () => s.cleanup());

// ages in a message ("3d 2h ago") may tick between two runs; everything else is the same
const steady = (message: string) => message.replace(/\b\d+[dhms]\b/g, "N");

test("POOL_BOY_DRY_RUN=1 clean: the table names each commit clean would push and its message; exit 0; nothing pushed", async () => {
  const headBefore = await s.repo.head();
  const run = await poolBoy(["clean"], { ...s.env, POOL_BOY_DRY_RUN: "1" });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await s.repo.head(), headBefore, "a dry run moved the remote's head");
  assert.match(run.stdout, /^pool-boy clean --dry-run/);
  const want = s.expected.filter((e) => e.verdict === "release");
  assert.match(run.stdout, new RegExp(`Dry run: clean would push ${want.length} commits to \\S+ on top of ${headBefore.slice(0, 8)} \\(nothing was pushed\\):`));
  for (const e of want) {
    assert.match(run.stdout, new RegExp(`\\d\\. ${e.pool}/claimed/${e.name} → ${e.pool}/unclaimed/${e.name}`));
    assert.match(run.stdout, new RegExp(`^     unclaiming: ${e.name}$`, "m"));
  }
  assert.match(run.stdout, /Released by pool-boy \((finished|stale)\): /);
  assert.doesNotMatch(run.stdout, /\d+ released/);
  assert.match(run.stdout, /dry run: nothing pushed\.\n$/);
});

test("clean --dry-run --json: the plan, every message, nothing pushed; a real clean then pushes those very commits", async () => {
  const headBefore = await s.repo.head();
  const run = await poolBoy(["clean", "--dry-run", "--json"], s.env);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout) as DryRunJson;
  assert.equal(await s.repo.head(), headBefore, "a dry run moved the remote's head");
  assert.equal(doc.command, "clean");
  assert.equal(doc.dryRun, true);
  assert.equal(doc.released, undefined);
  assert.equal(doc.commits, undefined);
  assert.ok(doc.plan);
  assert.equal(doc.plan.base, headBefore);
  assert.equal(doc.plan.branch, doc.branch);
  const want = s.expected.filter((e) => e.verdict === "release").map((e) => `${e.pool}/${e.name}`).sort();
  assert.deepEqual(doc.plan.moves.map((m) => `${m.pool}/${m.name}`).sort(), want);
  assert.equal(doc.wouldRelease, want.length);
  for (const m of doc.plan.moves) {
    assert.equal(m.from, `${m.pool}/claimed/${m.name}`);
    assert.equal(m.to, `${m.pool}/unclaimed/${m.name}`);
    assert.equal(m.message.split("\n")[0], `unclaiming: ${m.name}`);
    assert.match(m.message, /^Released by pool-boy \((finished|stale)\): /m);
  }
  assert.doesNotMatch(run.stdout + run.stderr, new RegExp(DEMO_USER.password));

  const real = await poolBoy(["clean", "--json"], s.env);
  assert.equal(real.code, 0, real.stderr);
  const pushed = (await log(s.repo.path, { max: want.length + 1 })).filter((c) => c.author.startsWith("Pool Boy")).reverse();
  assert.equal(pushed.length, doc.plan.moves.length);
  pushed.forEach((c, i) => {
    const planned = doc.plan!.moves[i]!;
    assert.deepEqual(c.moves, [{ from: planned.from, to: planned.to }]);
    assert.equal(steady(c.message), steady(planned.message.trimEnd()));
  });
});

test("after the release, a dry run plans nothing", async () => {
  const run = await poolBoy(["clean", "--dry-run"], s.env);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Dry run: nothing to release, so no commit would be pushed\./);
});

test("--dry-run is clean's: status does not take it", async () => {
  const run = await poolBoy(["status", "--dry-run"], s.env);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /unknown option '--dry-run'/);
});
