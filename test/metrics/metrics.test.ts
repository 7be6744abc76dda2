import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { mkdtemp, mkdir, open, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import {
  API_OUTCOMES,
  METRIC,
  UNJUDGED_CAUSES,
  VERDICT_KEYS,
  buildMetrics,
  groupingSegment,
  pushMetrics,
  writeMetricsFile,
} from "../../src/io/metrics.js";
import { PoolBoyError } from "../../src/core/errors.js";
import { REASONS, type JudgedLock, type RunResult, type Verdict } from "../../src/core/model.js";
import {
  freePort,
  parseExposition,
  promtoolCheckMetrics,
  promtoolCheckRules,
  startPushgateway,
  type Pushgateway,
  type Sample,
} from "../support/pushgateway.js";

// ---------------------------------------------------------------- plain-data builders

const T0 = new Date("2025-03-01T12:00:00Z");

function judged(pool: string, name: string, verdict: Verdict, ageSeconds: number | null): JudgedLock {
  return {
    lock: {
      pool,
      name,
      path: `${pool}/claimed/${name}`,
      claim: ageSeconds === null ? null : { sha: "a".repeat(40), committedAt: new Date(T0.getTime() - ageSeconds * 1000), message: `${pool}/job build 1` },
      editedAfterClaim: [],
      problem: null,
    },
    claim: null,
    owner: { kind: "silent", why: "test", cause: "no-owner", holder: null },
    verdict,
    ageSeconds,
    policy: { pool, timeoutSeconds: 3600 },
  };
}

const keep = (reason: "alive" | "young" | "unknown" | "conflict"): Verdict => ({ action: "keep", reason, detail: "" });
const release = (reason: "finished" | "stale"): Verdict => ({ action: "release", reason, detail: "" });

function move(pool: string, name: string): RunResult["released"][number] {
  return { pool, name, from: `${pool}/claimed/${name}`, to: `${pool}/unclaimed/${name}`, message: `pool-boy: releasing ${name}` };
}

/** A clean run over two pools: builds releases two locks of "aws" (one finished, one stale). */
function firstRun(): RunResult {
  return {
    command: "clean",
    repo: "https://git.example.com/ci/locks.git",
    branch: "release/1.x",
    head: "b".repeat(40),
    mode: "api",
    atcVersion: "7.11.0",
    locks: [
      judged("aws", "env-1", keep("alive"), 600),
      judged("aws", "env-2", release("finished"), 90_000),
      judged("aws", "env-3", release("stale"), 200_000),
      judged("aws", "env-4", keep("unknown"), null),
      judged("gcp", "vm-1", keep("young"), 120),
    ],
    pools: [
      { pool: "aws", claimed: 2, unclaimed: 3 },
      { pool: "gcp", claimed: 1, unclaimed: 0 },
    ],
    released: [move("aws", "env-2"), move("aws", "env-3")],
    commits: ["c".repeat(40), "d".repeat(40)],
    attempts: 1,
    api: { requests: 7, maxInFlight: 2, outcomes: { ok: 5, "not-found": 1, transient: 1 } },
    startedAt: T0,
    finishedAt: new Date(T0.getTime() + 2500),
    warnings: [],
  };
}

/** The next run: nothing to release, pool "gcp" is gone, "aws" keeps one lock as a conflict. */
function secondRun(finishedAt = new Date(T0.getTime() + 600_000)): RunResult {
  return {
    ...firstRun(),
    head: "e".repeat(40),
    locks: [judged("aws", "env-1", keep("conflict"), 1200)],
    pools: [{ pool: "aws", claimed: 1, unclaimed: 4 }],
    released: [],
    commits: [],
    api: { requests: 2, maxInFlight: 1, outcomes: { ok: 2 } },
    startedAt: new Date(finishedAt.getTime() - 1000),
    finishedAt,
  };
}

async function samplesOf(registry: Registry): Promise<Sample[]> {
  return parseExposition(await registry.metrics());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `more than one ${name} series matches ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

async function rejectsWithMetrics(promise: Promise<unknown>): Promise<PoolBoyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PoolBoyError, `expected a PoolBoyError, got ${String(err)}`);
    assert.equal(err.kind, "metrics");
    assert.equal(err.exitCode, 4);
    return err;
  }
  assert.fail("expected a rejection");
}

// ---------------------------------------------------------------- buildMetrics

describe("buildMetrics", () => {
  test("reports every metric with the run's values", async () => {
    const s = await samplesOf(buildMetrics(firstRun(), { succeeded: true }));
    assert.equal(value(s, METRIC.locks, { pool: "aws", state: "claimed" }), 2);
    assert.equal(value(s, METRIC.locks, { pool: "aws", state: "unclaimed" }), 3);
    assert.equal(value(s, METRIC.locks, { pool: "gcp", state: "unclaimed" }), 0);
    assert.equal(value(s, METRIC.releasedLocks, { pool: "aws" }), 2);
    assert.equal(value(s, METRIC.releasedLocks, { pool: "gcp" }), 0);
    assert.equal(value(s, METRIC.verdicts, { pool: "aws", verdict: "keep", reason: "alive" }), 1);
    assert.equal(value(s, METRIC.verdicts, { pool: "aws", verdict: "release", reason: "finished" }), 1);
    assert.equal(value(s, METRIC.verdicts, { pool: "aws", verdict: "release", reason: "stale" }), 1);
    assert.equal(value(s, METRIC.verdicts, { pool: "aws", verdict: "keep", reason: "unknown" }), 1);
    assert.equal(value(s, METRIC.verdicts, { pool: "gcp", verdict: "keep", reason: "young" }), 1);
    // the released locks are no longer claimed: the oldest claim left in aws is 600 s old
    assert.equal(value(s, METRIC.oldestClaimAge, { pool: "aws" }), 600);
    assert.equal(value(s, METRIC.oldestClaimAge, { pool: "gcp" }), 120);
    assert.equal(value(s, METRIC.apiRequests, { outcome: "ok" }), 5);
    assert.equal(value(s, METRIC.apiRequests, { outcome: "not-found" }), 1);
    assert.equal(value(s, METRIC.apiRequests, { outcome: "no-access" }), 0);
    assert.equal(value(s, METRIC.runDuration), 2.5);
    assert.equal(value(s, METRIC.runSucceeded), 1);
    assert.equal(value(s, METRIC.lastRun), T0.getTime() / 1000 + 2.5);
    assert.equal(value(s, METRIC.lastSuccess), T0.getTime() / 1000 + 2.5);
  });

  test("every pool gets every state and verdict/reason pair, zeros included", async () => {
    const s = await samplesOf(buildMetrics(firstRun(), { succeeded: true }));
    for (const pool of ["aws", "gcp"]) {
      assert.equal(s.filter((x) => x.name === METRIC.locks && x.labels["pool"] === pool).length, 2);
      const verdicts = s.filter((x) => x.name === METRIC.verdicts && x.labels["pool"] === pool);
      assert.equal(verdicts.length, VERDICT_KEYS.length);
      assert.deepEqual(new Set(verdicts.map((v) => v.labels["reason"])), new Set(REASONS));
    }
    assert.equal(value(s, METRIC.verdicts, { pool: "gcp", verdict: "release", reason: "stale" }), 0);
    assert.equal(s.filter((x) => x.name === METRIC.apiRequests).length, API_OUTCOMES.length);
  });

  test("locks kept without a judgement, by pool and cause, zeros included", async () => {
    const run = firstRun();
    const unreachable = (j: JudgedLock, cause: "no-access" | "api-error"): JudgedLock => ({
      ...j,
      owner: { kind: "unreachable", why: "x", cause, ...(cause === "no-access" ? { access: { team: "main", status: 403 as const } } : {}) },
    });
    run.locks = [
      unreachable(judged("aws", "env-4", keep("unknown"), 100), "no-access"),
      unreachable(judged("aws", "env-5", keep("unknown"), 100), "no-access"),
      unreachable(judged("gcp", "vm-2", keep("unknown"), 100), "api-error"),
      judged("gcp", "vm-1", keep("young"), 120),
    ];
    const s = await samplesOf(buildMetrics(run, { succeeded: true }));
    assert.equal(value(s, METRIC.unjudgedLocks, { pool: "aws", cause: "no-access" }), 2);
    assert.equal(value(s, METRIC.unjudgedLocks, { pool: "aws", cause: "api-error" }), 0);
    assert.equal(value(s, METRIC.unjudgedLocks, { pool: "gcp", cause: "no-access" }), 0);
    assert.equal(value(s, METRIC.unjudgedLocks, { pool: "gcp", cause: "api-error" }), 1);
    const zero = await samplesOf(buildMetrics(firstRun(), { succeeded: true }));
    assert.equal(zero.filter((x) => x.name === METRIC.unjudgedLocks).length, 2 * UNJUDGED_CAUSES.length);
    assert.ok(zero.filter((x) => x.name === METRIC.unjudgedLocks).every((x) => x.value === 0));
  });

  test("verdict keys match the model's verdicts", () => {
    for (const { action, reason } of VERDICT_KEYS) {
      assert.ok(REASONS.includes(reason));
      assert.equal(action, reason === "finished" || reason === "stale" ? "release" : "keep");
    }
    assert.equal(new Set(VERDICT_KEYS.map((k) => k.reason)).size, REASONS.length);
  });

  test("a failed run carries no last-success timestamp; timeout-only mode reports zero API requests", async () => {
    const run: RunResult = { ...secondRun(), mode: "timeout-only", api: null };
    const registry = buildMetrics(run, { succeeded: false });
    assert.equal(registry.getSingleMetric(METRIC.lastSuccess), undefined);
    const s = await samplesOf(registry);
    assert.equal(value(s, METRIC.lastSuccess), undefined);
    assert.equal(value(s, METRIC.runSucceeded), 0);
    for (const outcome of API_OUTCOMES) assert.equal(value(s, METRIC.apiRequests, { outcome }), 0);
  });

  test("a fresh registry per run, without default or process metrics", async () => {
    const a = buildMetrics(firstRun(), { succeeded: true });
    const b = buildMetrics(secondRun(), { succeeded: true });
    assert.notEqual(a, b);
    const names = new Set((await samplesOf(a)).map((x) => x.name));
    for (const name of names) assert.match(name, /^pool_boy_/);
    assert.equal(value(await samplesOf(a), METRIC.releasedLocks, { pool: "aws" }), 2);
    assert.equal(value(await samplesOf(b), METRIC.releasedLocks, { pool: "aws" }), 0);
  });

  test("label values are escaped", async () => {
    const run: RunResult = { ...secondRun(), pools: [{ pool: 'we"ird\\pool', claimed: 0, unclaimed: 1 }], locks: [] };
    const text = await buildMetrics(run, { succeeded: true }).metrics();
    assert.equal(value(parseExposition(text), METRIC.locks, { pool: 'we"ird\\pool', state: "unclaimed" }), 1);
    assert.equal(promtoolCheckMetrics(text).status, 0);
  });

  test("names and help texts pass promtool check metrics without a warning", async () => {
    for (const [run, succeeded] of [
      [firstRun(), true],
      [secondRun(), false],
    ] as const) {
      const { status, output } = promtoolCheckMetrics(await buildMetrics(run, { succeeded }).metrics());
      assert.equal(status, 0, output);
      assert.equal(output, "", `promtool complained:\n${output}`);
    }
  });
});

// ---------------------------------------------------------------- Pushgateway

describe("pushMetrics against a real prometheus-pushgateway", () => {
  let gw: Pushgateway;
  before(async () => {
    gw = await startPushgateway();
  });
  after(async () => {
    await gw?.stop();
  });

  const grouping = (branch: string) => ({ repo: "https://git.example.com/ci/locks.git", branch });
  const group = (branch: string) => ({ job: "pool-boy", repo: "https://git.example.com/ci/locks.git", branch });

  test("a push shows on the gateway under job, repo and branch", async () => {
    await pushMetrics(buildMetrics(firstRun(), { succeeded: true }), gw.url, grouping("release/1.x"));
    const s = (await gw.scrape()).filter((x) => x.labels["branch"] === "release/1.x");
    const g = group("release/1.x");
    assert.equal(value(s, METRIC.locks, { ...g, pool: "aws", state: "claimed" }), 2);
    assert.equal(value(s, METRIC.releasedLocks, { ...g, pool: "aws" }), 2);
    assert.equal(value(s, METRIC.verdicts, { ...g, pool: "aws", verdict: "release", reason: "stale" }), 1);
    assert.equal(value(s, METRIC.apiRequests, { ...g, outcome: "ok" }), 5);
    assert.equal(value(s, METRIC.lastSuccess, g), T0.getTime() / 1000 + 2.5);
    assert.ok((value(s, "push_time_seconds", g) ?? 0) > 0);
  });

  test("a second push replaces the first", async () => {
    const g = group("main");
    await pushMetrics(buildMetrics(firstRun(), { succeeded: true }), gw.url, grouping("main"));
    assert.equal((await gw.series(METRIC.locks, { ...g, pool: "gcp", state: "claimed" }))[0]?.value, 1);

    const later = new Date(T0.getTime() + 3_600_000);
    await pushMetrics(buildMetrics(secondRun(later), { succeeded: true }), gw.url, grouping("main"));
    const s = (await gw.scrape()).filter((x) => x.labels["branch"] === "main");
    assert.equal(value(s, METRIC.releasedLocks, { ...g, pool: "aws" }), 0);
    assert.equal(value(s, METRIC.verdicts, { ...g, pool: "aws", verdict: "release", reason: "stale" }), 0);
    assert.equal(value(s, METRIC.verdicts, { ...g, pool: "aws", verdict: "keep", reason: "conflict" }), 1);
    // the pool that is gone has no series left at all
    assert.deepEqual(s.filter((x) => x.labels["pool"] === "gcp"), []);
    assert.equal(value(s, METRIC.lastSuccess, g), later.getTime() / 1000);
  });

  test("a failed run keeps the previous success timestamp and replaces the rest", async () => {
    const g = group("feature/fail");
    await pushMetrics(buildMetrics(firstRun(), { succeeded: true }), gw.url, grouping("feature/fail"));
    const failedAt = new Date(T0.getTime() + 7_200_000);
    await pushMetrics(buildMetrics(secondRun(failedAt), { succeeded: false }), gw.url, grouping("feature/fail"));
    const s = (await gw.scrape()).filter((x) => x.labels["branch"] === "feature/fail");
    assert.equal(value(s, METRIC.lastSuccess, g), T0.getTime() / 1000 + 2.5);
    assert.equal(value(s, METRIC.runSucceeded, g), 0);
    assert.equal(value(s, METRIC.lastRun, g), failedAt.getTime() / 1000);
    assert.equal(value(s, METRIC.releasedLocks, { ...g, pool: "aws" }), 0);
    assert.deepEqual(s.filter((x) => x.labels["pool"] === "gcp"), []);
    // groups are separate: the other branches are untouched
    assert.equal((await gw.series(METRIC.releasedLocks, { ...group("release/1.x"), pool: "aws" }))[0]?.value, 2);
  });

  test("the gateway's own exposition passes promtool", async () => {
    const text = await gw.scrapeText();
    const { status, output } = promtoolCheckMetrics(text.split("\n").filter((l) => l.includes("pool_boy_")).join("\n") + "\n");
    assert.equal(status, 0, output);
  });

  test("a gateway that is down: a metrics error naming the URL without credentials", async () => {
    const port = await freePort();
    const err = await rejectsWithMetrics(
      pushMetrics(buildMetrics(firstRun(), { succeeded: true }), `http://pusher:s3cr3t-pw@127.0.0.1:${port}/`, grouping("main"), {
        timeoutMs: 2000,
      }),
    );
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(err.message, /connection refused/);
    assert.doesNotMatch(err.message, /s3cr3t-pw/);
    assert.doesNotMatch(err.hint ?? "", /s3cr3t-pw/);
    assert.doesNotMatch(err.message, /pusher:/);
  });
});

// ---------------------------------------------------------------- the HTTP request itself

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

async function captureServer(status: number, answer: string): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}`, seen };
}

describe("pushMetrics request", () => {
  test("PUT for a success, POST for a failure; base64 grouping; credentials as a header", async () => {
    const { server, url, seen } = await captureServer(200, "");
    try {
      const withAuth = url.replace("http://", "http://pusher:pa%3Ass@") + "/gateway/";
      await pushMetrics(buildMetrics(firstRun(), { succeeded: true }), withAuth, { repo: "git@example.com:ci/locks.git", branch: "main" });
      await pushMetrics(buildMetrics(firstRun(), { succeeded: false }), withAuth, { repo: "git@example.com:ci/locks.git", branch: "a/b" });
      assert.equal(seen.length, 2);
      const [put, post] = seen as [Seen, Seen];
      assert.equal(put.method, "PUT");
      assert.equal(post.method, "POST");
      const repo64 = Buffer.from("git@example.com:ci/locks.git").toString("base64url");
      assert.equal(put.url, `/gateway/metrics/job/pool-boy/repo@base64/${repo64}/branch/main`);
      assert.equal(post.url, `/gateway/metrics/job/pool-boy/repo@base64/${repo64}/branch@base64/${Buffer.from("a/b").toString("base64url")}`);
      assert.equal(put.headers.authorization, `Basic ${Buffer.from("pusher:pa:ss").toString("base64")}`);
      assert.match(put.headers["content-type"] ?? "", /^text\/plain; version=0\.0\.4/);
      assert.match(put.body, /^pool_boy_last_success_timestamp_seconds /m);
      assert.doesNotMatch(post.body, /pool_boy_last_success_timestamp_seconds/);
    } finally {
      server.close();
    }
  });

  test("grouping values: plain words stay plain, the rest is base64url", () => {
    assert.equal(groupingSegment("branch", "main"), "branch/main");
    assert.equal(groupingSegment("branch", "v1.2_x-y"), "branch/v1.2_x-y");
    assert.equal(groupingSegment("branch", "release/1.x"), `branch@base64/${Buffer.from("release/1.x").toString("base64url")}`);
    assert.equal(groupingSegment("branch", ".."), `branch@base64/${Buffer.from("..").toString("base64url")}`);
    assert.equal(groupingSegment("branch", ""), "branch@base64/=");
  });

  test("a refused push names the status and the gateway's answer, without credentials", async () => {
    const { server, url } = await captureServer(400, "pushed metrics are invalid or inconsistent with existing metrics");
    try {
      const err = await rejectsWithMetrics(
        pushMetrics(buildMetrics(firstRun(), { succeeded: true }), url.replace("http://", "http://u:topsecret@"), { repo: "r", branch: "b" }),
      );
      assert.match(err.message, /HTTP 400/);
      assert.match(err.message, /inconsistent with existing metrics/);
      assert.doesNotMatch(err.message, /topsecret/);
    } finally {
      server.close();
    }
  });

  test("a gateway that does not answer times out", async () => {
    const sockets: Socket[] = [];
    const server = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const started = Date.now();
      const err = await rejectsWithMetrics(
        pushMetrics(buildMetrics(firstRun(), { succeeded: true }), `http://127.0.0.1:${port}`, { repo: "r", branch: "b" }, { timeoutMs: 200 }),
      );
      assert.match(err.message, /no answer within 200 ms/);
      assert.ok(Date.now() - started < 5000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  test("a URL that is not http(s) is a metrics error", async () => {
    const registry = buildMetrics(firstRun(), { succeeded: true });
    const err = await rejectsWithMetrics(pushMetrics(registry, "not a url", { repo: "r", branch: "b" }));
    assert.match(err.message, /not a valid URL/);
    const err2 = await rejectsWithMetrics(pushMetrics(registry, "ftp://u:hidden-pw@host/", { repo: "r", branch: "b" }));
    assert.match(err2.message, /not an http\(s\) URL/);
    assert.doesNotMatch(err2.message, /hidden-pw/);
  });
});

// ---------------------------------------------------------------- textfile

describe("writeMetricsFile", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pool-boy-metrics-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("writes the registry's text, which promtool accepts", async () => {
    const file = join(dir, "pool-boy.prom");
    const registry = buildMetrics(firstRun(), { succeeded: true });
    await writeMetricsFile(registry, file);
    const text = await readFile(file, "utf8");
    assert.equal(text, await registry.metrics());
    const { status, output } = promtoolCheckMetrics(text);
    assert.equal(status, 0, output);
    assert.equal(output, "");
    assert.deepEqual(await readdir(dir), ["pool-boy.prom"]);
  });

  test("replaces the file atomically: a new inode, never a partial file, no temp file left", async () => {
    const file = join(dir, "atomic.prom");
    await writeFile(file, "# old\n");
    const registry = buildMetrics(firstRun(), { succeeded: true });
    const expected = await registry.metrics();
    // Holding the old file open keeps its inode from being reused: a rename leaves it intact
    // under a new inode, a write in place would truncate it.
    const oldHandle = await open(file, "r");
    try {
      const before = await oldHandle.stat();
      await writeMetricsFile(registry, file);
      assert.notEqual((await stat(file)).ino, before.ino);
      assert.equal(await oldHandle.readFile("utf8"), "# old\n");
    } finally {
      await oldHandle.close();
    }
    await writeFile(file, "# old\n");
    let writing = true;
    const reads: string[] = [];
    const reader = (async () => {
      while (writing) reads.push(await readFile(file, "utf8"));
    })();
    for (let i = 0; i < 20; i++) await writeMetricsFile(registry, file);
    writing = false;
    await reader;
    assert.ok(reads.length > 0);
    assert.equal(await readFile(file, "utf8"), expected);
    for (const r of reads) assert.ok(r === "# old\n" || r === expected, "a reader saw a partial file");
    assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith(".tmp")), []);
  });

  test("a failed run keeps the last success of the file it replaces", async () => {
    const file = join(dir, "failed.prom");
    await writeMetricsFile(buildMetrics(firstRun(), { succeeded: true }), file);
    await writeMetricsFile(buildMetrics(secondRun(), { succeeded: false }), file);
    const text = await readFile(file, "utf8");
    const s = parseExposition(text);
    assert.equal(value(s, METRIC.lastSuccess), T0.getTime() / 1000 + 2.5);
    assert.equal(value(s, METRIC.runSucceeded), 0);
    assert.equal(value(s, METRIC.locks, { pool: "gcp", state: "claimed" }), undefined);
    const { status, output } = promtoolCheckMetrics(text);
    assert.equal(status, 0, output);
    assert.equal(output, "");
    // and once more: still carried over, not doubled
    await writeMetricsFile(buildMetrics(secondRun(), { succeeded: false }), file);
    const again = parseExposition(await readFile(file, "utf8"));
    assert.equal(again.filter((x) => x.name === METRIC.lastSuccess).length, 1);
    // a first run that fails has none to keep
    const fresh = join(dir, "fresh.prom");
    await writeMetricsFile(buildMetrics(secondRun(), { succeeded: false }), fresh);
    assert.equal(value(parseExposition(await readFile(fresh, "utf8")), METRIC.lastSuccess), undefined);
  });

  test("a missing directory: a clear metrics error naming the file", async () => {
    const file = join(dir, "no-such-dir", "pool-boy.prom");
    const err = await rejectsWithMetrics(writeMetricsFile(buildMetrics(firstRun(), { succeeded: true }), file));
    assert.match(err.message, /cannot write the metrics file .*no-such-dir\/pool-boy\.prom/);
    assert.match(err.message, /does not exist/);
    assert.match(err.hint ?? "", /--metrics-file/);
  });

  test("a path that is a directory: a clear error and no temp file left", async () => {
    const sub = join(dir, "taken");
    await mkdir(join(sub, "pool-boy.prom"), { recursive: true });
    const err = await rejectsWithMetrics(writeMetricsFile(buildMetrics(firstRun(), { succeeded: true }), join(sub, "pool-boy.prom")));
    assert.match(err.message, /pool-boy\.prom: it is a directory/);
    assert.deepEqual(await readdir(sub), ["pool-boy.prom"]);
  });

  test("a path under a regular file: a clear error", async () => {
    const plain = join(dir, "plain-file");
    await writeFile(plain, "x");
    const err = await rejectsWithMetrics(writeMetricsFile(buildMetrics(firstRun(), { succeeded: true }), join(plain, "m.prom")));
    assert.match(err.message, /is not a directory/);
  });
});

// ---------------------------------------------------------------- docs

test("the alert rules in the README pass promtool check rules", async () => {
  // dist-*/test/report/metrics.test.js → the repository root
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  const doc = await readFile(join(root, "README.md"), "utf8");
  const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b?.startsWith("groups:"));
  assert.ok(block, "the README has the alert rules as a yaml block starting with groups:");
  const dir = await mkdtemp(join(tmpdir(), "pool-boy-rules-"));
  try {
    const file = join(dir, "rules.yml");
    await writeFile(file, block);
    const { status, output } = promtoolCheckRules(file);
    assert.equal(status, 0, output);
    const rules = (block.match(/^\s+- alert: /gm) ?? []).length;
    assert.ok(rules >= 5, "the README's alerts, PoolBoyCannotSeeBuilds included");
    assert.match(output, new RegExp(`SUCCESS: ${rules} rules found`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
