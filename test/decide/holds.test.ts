import { test } from "node:test";
import assert from "node:assert/strict";
import { judge } from "../../src/decide/judge.js";
import { decideHold, holdActive, holdPath, holdTarget, holdText, parseHold } from "../../src/decide/holds.js";
import type { BuildState, ClaimedLock, Hold, OwnerState, PoolPolicy, RepoSnapshot, Verdict } from "../../src/core/model.js";

const NOW = new Date("2026-11-30T12:00:00Z");
const MIN = 60_000;
const at = (minutesFromNow: number) => new Date(NOW.getTime() + minutesFromNow * MIN);
const deploy: BuildState["ref"] = { kind: "job", team: "main", pipeline: "app", instanceVars: null, job: "deploy", name: "42" };

function lock(claimedMinutesAgo: number | null, problem: string | null = null): ClaimedLock {
  return {
    pool: "aws",
    name: "env-1",
    path: "aws/claimed/env-1",
    claim: claimedMinutesAgo === null ? null : { sha: "a".repeat(40), committedAt: at(-claimedMinutesAgo), message: "claiming: env-1" },
    editedAfterClaim: [],
    problem,
  };
}
const hold = (until: Date | null): Hold => ({ pool: "aws", name: "env-1", path: holdPath("aws", "env-1"), by: "alice", reason: "debugging", since: at(-60), until, claim: null });
const running = (): OwnerState => ({ kind: "running", holder: { ref: deploy, status: "started", id: 1 }, handedOff: false });
/** a finished owner whose build ended `endedMinutesAgo` ago (null: the API gave no end time) */
const finished = (status: "failed" | "errored" | "aborted" | "succeeded", endedMinutesAgo: number | null): OwnerState => ({
  kind: "finished",
  holder: { ref: deploy, status, id: 1, endTime: endedMinutesAgo === null ? null : Math.floor(at(-endedMinutesAgo).getTime() / 1000) },
  handedOff: false,
});
const silent = (): OwnerState => ({ kind: "silent", why: "the claim commit does not name a build", cause: "no-owner", holder: null });
const policy = (keepFailedMinutes: number | null = null, timeoutMinutes: number | null = 120): PoolPolicy => ({
  pool: "aws",
  timeoutSeconds: timeoutMinutes === null ? null : timeoutMinutes * 60,
  keepFailedSeconds: keepFailedMinutes === null ? null : keepFailedMinutes * 60,
});

type Case = [name: string, lock: ClaimedLock, owner: OwnerState, policy: PoolPolicy, hold: Hold | null, want: `${Verdict["action"]}/${Verdict["reason"]}`];
const cases: Case[] = [
  // holds
  ["an active hold keeps a finished owner's lock", lock(30), finished("failed", 10), policy(), hold(at(60)), "keep/held"],
  ["an active hold keeps a stale lock", lock(600), silent(), policy(), hold(at(60)), "keep/held"],
  ["a hold until unhold keeps it", lock(600), silent(), policy(), hold(null), "keep/held"],
  ["a hold that expired a minute ago no longer keeps it", lock(30), finished("failed", 10), policy(), hold(at(-1)), "release/finished"],
  ["a hold that expires exactly now has expired", lock(600), silent(), policy(), hold(at(0)), "release/stale"],
  ["a held running build's lock is reported held", lock(30), running(), policy(), hold(at(60)), "keep/held"],
  ["a conflict stays a conflict, held or not", lock(30, "also in unclaimed/"), silent(), policy(), hold(at(60)), "keep/conflict"],
  // keep-failed
  ["failed, ended 10m ago, keep-failed 1d: debug window", lock(30), finished("failed", 10), policy(24 * 60), null, "keep/debug-window"],
  ["errored, ended 10m ago, keep-failed 1h: debug window", lock(30), finished("errored", 10), policy(60), null, "keep/debug-window"],
  ["failed, ended 2h ago, keep-failed 1h: released", lock(180), finished("failed", 120), policy(60), null, "release/finished"],
  ["failed, ended exactly 1h ago, keep-failed 1h: released", lock(180), finished("failed", 60), policy(60), null, "release/finished"],
  ["failed long ago after a young claim? the end decides: 59m < 1h", lock(600), finished("failed", 59), policy(60), null, "keep/debug-window"],
  ["aborted is not kept for debugging", lock(30), finished("aborted", 10), policy(24 * 60), null, "release/finished"],
  ["succeeded is not kept for debugging", lock(30), finished("succeeded", 10), policy(24 * 60), null, "release/finished"],
  ["keep-failed off: released at once", lock(30), finished("failed", 10), policy(null), null, "release/finished"],
  ["end unknown: counted from the claim, within", lock(30), finished("failed", null), policy(60), null, "keep/debug-window"],
  ["end unknown: counted from the claim, over", lock(90), finished("failed", null), policy(60), null, "release/finished"],
  ["keep-failed never touches a running build", lock(3000), running(), policy(60), null, "keep/alive"],
];
for (const [name, l, owner, p, h, want] of cases)
  test(name, () => {
    const v = judge(l, owner, p, NOW, h);
    assert.equal(`${v.action}/${v.reason}`, want, v.detail);
  });

test("the held and debug-window details say who, why, since, until and the window", () => {
  const held = judge(lock(30), silent(), policy(), NOW, hold(at(60)));
  assert.equal(held.detail, "held by alice since 2026-11-30 11:00 UTC until 2026-11-30 13:00 UTC: debugging");
  const window = judge(lock(30), finished("failed", 10), policy(24 * 60), NOW);
  assert.equal(window.detail, "deploy #42 failed; kept for debugging: it ended 10m ago, within keep-failed 1d");
});

test("holdActive: before, at and after until", () => {
  assert.equal(holdActive(hold(at(1)), NOW), true);
  assert.equal(holdActive(hold(at(0)), NOW), false);
  assert.equal(holdActive(hold(null), NOW), true);
});

test("a hold file round-trips; an unreadable one still holds its lock", () => {
  const h = hold(at(60));
  const back = parseHold(h.path, holdText(h));
  assert.deepEqual(back, { hold: h, problem: null });
  const forever = parseHold(h.path, holdText(hold(null)));
  assert.equal(forever?.hold.until, null);
  for (const text of ["{{{", "- a\n", "by: x\nsince: yesterday\n", "by: x\nsince: 2026-01-01T00:00:00Z\nuntil: soon\n"]) {
    const bad = parseHold(h.path, text);
    assert.ok(bad?.problem, text);
    assert.equal(bad.hold.until, null, "kept until someone looks");
    assert.equal(holdActive(bad.hold, NOW), true);
  }
  assert.equal(parseHold(".pool-boy/holds/aws", "x"), null);
  assert.equal(parseHold(".pool-boy/holds/aws/a/b", "x"), null);
  assert.deepEqual(holdTarget(".pool-boy/holds/aws/env-1"), { pool: "aws", name: "env-1" });
});

const snapshot: RepoSnapshot = { branch: "main", head: "h", pools: [{ pool: "aws", claimed: ["env-1"], unclaimed: ["env-2"], claimedKept: true }], locks: [] };
const holdCases: Array<[string, string, string, Hold | null, RegExp | null]> = [
  ["a claimed lock can be held", "aws", "env-1", null, null],
  ["over an expired hold", "aws", "env-1", hold(at(-5)), null],
  ["not twice", "aws", "env-1", hold(at(5)), /already held by alice/],
  ["not an unclaimed lock", "aws", "env-2", null, /is not claimed: it is in aws\/unclaimed\//],
  ["not a missing lock", "aws", "env-9", null, /does not exist/],
  ["not in a missing pool", "gcp", "vm-1", null, /there is no pool "gcp"/],
];
for (const [name, pool, lockName, existing, want] of holdCases)
  test(`decideHold: ${name}`, () => {
    const d = decideHold(snapshot, pool, lockName, existing, NOW);
    if (want === null) assert.deepEqual(d, { ok: true, value: null });
    else {
      assert.equal(d.ok, false);
      if (!d.ok) assert.match(d.problems.why, want);
    }
  });
