import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flyrcPaths, parseFlyrc, readFlyrc, type FlyTarget } from "../../src/io/atc/flyrc.js";
import { PoolBoyError } from "../../src/core/errors.js";

const TOKEN = "flyrc-token-value-0123456789abcdef";

// As fly ≥ 5.5 writes it (sigs.k8s.io/yaml: keys in alphabetical order).
const FLYRC = `targets:
  ci:
    api: https://ci.example.com
    ca_cert: |
      -----BEGIN CERTIFICATE-----
      MIIBszCCAVmgAwIBAgIUQ
      -----END CERTIFICATE-----
    insecure: true
    team: platform
    token:
      type: bearer
      value: ${TOKEN}
  old:
    api: http://old.example.com:8080
    team: ""
    token:
      type: ""
      value: ""
  fresh:
    api: https://fresh.example.com
`;

function target(text: string, name: string): FlyTarget {
  const parsed = parseFlyrc(text, name);
  if (!parsed.ok) throw new Error(parsed.problems.message);
  return parsed.value;
}

test("parseFlyrc reads api, team, token, insecure and the CA certificate's PEM text", () => {
  const ci = target(FLYRC, "ci");
  assert.equal(ci.name, "ci");
  assert.equal(ci.api, "https://ci.example.com");
  assert.equal(ci.team, "platform");
  assert.equal(ci.token, TOKEN);
  assert.equal(ci.insecure, true);
  assert.match(ci.caCert ?? "", /^-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n$/);
});

test("parseFlyrc: an empty team is main, a logged-out token is empty, a never-logged-in target has none", () => {
  const old = target(FLYRC, "old");
  assert.equal(old.team, "main");
  assert.equal(old.token, null, "logged out");
  assert.equal(old.insecure, false);
  assert.equal(old.caCert, null);
  assert.equal(target(FLYRC, "fresh").token, null);
});

test("parseFlyrc: a target with a client certificate is refused with what to use instead", () => {
  const error = parseFlyrc("targets:\n  ci:\n    api: https://x\n    client_cert_path: /c.pem\n    client_key_path: /k.pem\n", "ci");
  assert.ok(!error.ok && /client certificate/.test(error.problems.message) && /CONCOURSE_TOKEN/.test(error.problems.hint ?? ""));
});

test("parseFlyrc: an unknown target names the known ones and the login command", () => {
  const error = parseFlyrc(FLYRC, "prod");
  assert.ok(!error.ok);
  assert.match(error.problems.message, /no target "prod"; it has "ci", "fresh", "old"/);
  assert.match(error.problems.hint ?? "", /fly -t prod login/);
});

test("parseFlyrc: broken YAML, no targets, no api", () => {
  const broken = parseFlyrc(`targets:\n  ci:\n    token: {value: "${TOKEN}"\n`, "ci");
  assert.ok(!broken.ok);
  assert.match(broken.problems.message, /not valid YAML \(line \d+, column \d+\)/);
  assert.ok(!broken.problems.message.includes(TOKEN), "the YAML error's quote of the line is not shown");
  const brokenElsewhere = parseFlyrc(`targets:\n  other:\n    token: {value: ${TOKEN}}\n  ci: [unclosed\n`, "ci");
  assert.ok(!brokenElsewhere.ok && !brokenElsewhere.problems.message.includes(TOKEN) && !(brokenElsewhere.problems.hint ?? "").includes(TOKEN));
  const none = parseFlyrc("other: 1\n", "ci");
  assert.ok(!none.ok && /no targets/.test(none.problems.message));
  const noApi = parseFlyrc("targets:\n  ci:\n    team: main\n", "ci");
  assert.ok(!noApi.ok && /"ci" has no api URL/.test(noApi.problems.message));
  const badInsecure = parseFlyrc("targets:\n  ci:\n    api: https://x\n    insecure: sure\n", "ci");
  assert.ok(!badInsecure.ok && /insecure/.test(badInsecure.problems.message));
});

test("readFlyrc: FLY_HOME first, then HOME; null when neither has one", async () => {
  const root = await mkdtemp(join(tmpdir(), "pool-boy-flyrc-"));
  try {
    const flyHome = join(root, "fly");
    const home = join(root, "home");
    await mkdir(flyHome);
    await mkdir(home);
    assert.equal(await readFlyrc({ FLY_HOME: flyHome, HOME: home }), null);
    await writeFile(join(home, ".flyrc"), "targets: {home: {api: 'https://home'}}\n");
    assert.match((await readFlyrc({ FLY_HOME: flyHome, HOME: home })) ?? "", /home/);
    await writeFile(join(flyHome, ".flyrc"), "targets: {flyhome: {api: 'https://fly'}}\n");
    assert.match((await readFlyrc({ FLY_HOME: flyHome, HOME: home })) ?? "", /flyhome/);
    assert.match((await readFlyrc({ HOME: home })) ?? "", /home/);
    assert.deepEqual(flyrcPaths({ FLY_HOME: flyHome, HOME: home }), [join(flyHome, ".flyrc"), join(home, ".flyrc")]);
    assert.equal(await readFlyrc({}), null);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("readFlyrc: a .flyrc that cannot be read is a config error naming the file", async () => {
  const root = await mkdtemp(join(tmpdir(), "pool-boy-flyrc-"));
  try {
    await mkdir(join(root, ".flyrc"));
    await assert.rejects(readFlyrc({ HOME: root }), (error: unknown) => {
      assert.ok(error instanceof PoolBoyError);
      assert.equal(error.kind, "config");
      assert.ok(error.message.includes(join(root, ".flyrc")));
      return true;
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
