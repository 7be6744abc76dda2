// The transport without a server: URL parsing, key normalisation, the bundled known_hosts, the
// files it writes, the askpass script, cleanup, and the explanations of git's failures.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import {
  parseRepoUrl,
  parsePrivateKey,
  explainGitFailure,
  gitFailure,
  BUNDLED_KNOWN_HOSTS,
  ASKPASS_PASSWORD_VAR,
  ASKPASS_USERNAME_VAR,
  DEFAULT_TOKEN_USERNAME,
  removeAbandonedDirs,
} from "../../src/io/git/transport.js";
import { PoolBoyError } from "../../src/core/errors.js";
import { makeRedactor } from "../../src/core/redact.js";
import { transportFor } from "../support/transport.js";
import { makeKeyPair, type KeyPair } from "../support/sshd.js";
import { needs, SSH_KEYGEN } from "../support/programs.js";

const run = promisify(execFile);

function mode(st: { mode: number }): number {
  return st.mode & 0o777;
}

function keyLines(key: string): string[] {
  return key
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length >= 16 && !line.startsWith("-----"));
}

function assertNoKeyText(text: string, key: string): void {
  for (const line of keyLines(key)) assert.ok(!text.includes(line), `key text leaked: ${text}`);
}

let scratch: string;
let key: KeyPair;

/** The tests that make or read keys run ssh-keygen. */
const keygen = needs([SSH_KEYGEN]);

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "pool-boy-transport-unit-"));
  if (keygen.ready()) key = await makeKeyPair(scratch, "deploy");
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("parseRepoUrl", () => {
  it("recognises ssh:// URLs with and without user and port", () => {
    assert.deepEqual(parseRepoUrl("ssh://git@example.com/locks.git"), {
      kind: "ssh",
      form: "url",
      user: "git",
      host: "example.com",
      port: 22,
      url: "ssh://git@example.com/locks.git",
      password: null,
    });
    const withPort = parseRepoUrl("ssh://example.com:2222/srv/locks.git");
    assert.equal(withPort.kind, "ssh");
    if (withPort.kind === "ssh") {
      assert.equal(withPort.port, 2222);
      assert.equal(withPort.user, null);
    }
    const v6 = parseRepoUrl("git+ssh://git@[::1]:23/x.git");
    assert.ok(v6.kind === "ssh" && v6.host === "::1" && v6.port === 23);
  });

  it("removes a password from an ssh:// URL", () => {
    const location = parseRepoUrl("ssh://git:hunter22@example.com/locks.git");
    assert.ok(location.kind === "ssh");
    assert.equal(location.password, "hunter22");
    assert.equal(location.url, "ssh://git@example.com/locks.git");
  });

  it("recognises scp-like URLs as git does", () => {
    const plain = parseRepoUrl("git@github.com:org/locks.git");
    assert.ok(plain.kind === "ssh" && plain.form === "scp" && plain.host === "github.com" && plain.user === "git" && plain.port === 22);
    assert.equal(plain.url, "git@github.com:org/locks.git");
    const noUser = parseRepoUrl("example.com:locks.git");
    assert.ok(noUser.kind === "ssh" && noUser.user === null && noUser.host === "example.com");
    const bracketPort = parseRepoUrl("[root@127.0.0.1:2222]:/srv/locks.git");
    assert.ok(bracketPort.kind === "ssh" && bracketPort.host === "127.0.0.1" && bracketPort.port === 2222 && bracketPort.user === "root");
    const v6 = parseRepoUrl("git@[::1]:locks.git");
    assert.ok(v6.kind === "ssh" && v6.host === "::1" && v6.port === 22);
  });

  it("treats paths (a slash before the first colon, or no colon) and file:// as local", () => {
    for (const url of ["/srv/locks.git", "./locks", "locks.git", "dir/with:colon", "file:///srv/locks.git"]) {
      assert.equal(parseRepoUrl(url).kind, "local", url);
    }
  });

  it("passes git:// and remote helpers through", () => {
    assert.deepEqual(parseRepoUrl("git://example.com/locks.git"), { kind: "other", scheme: "git", url: "git://example.com/locks.git" });
    assert.equal(parseRepoUrl("codecommit::eu-west-1://locks").kind, "other");
  });

  it("takes credentials out of https URLs, decoded", () => {
    const location = parseRepoUrl("https://bot%40corp:p%40ss%3Aw%2Frd@git.example.com/team/locks.git");
    assert.ok(location.kind === "http");
    assert.equal(location.username, "bot@corp");
    assert.equal(location.password, "p@ss:w/rd");
    assert.equal(location.rawPassword, "p%40ss%3Aw%2Frd");
    assert.equal(location.url, "https://git.example.com/team/locks.git");
    assert.equal(location.port, 443);
    const plain = parseRepoUrl("https://git.example.com:8443/locks.git");
    assert.ok(plain.kind === "http" && plain.url === "https://git.example.com:8443/locks.git" && plain.port === 8443 && plain.password === null);
  });
});

describe("parsePrivateKey", keygen, () => {
  it("keeps a well-formed key working and ends it with a newline", async () => {
    const parsed = parsePrivateKey(key.privateKey);
    assert.ok(parsed.text.endsWith("-----END OPENSSH PRIVATE KEY-----\n"));
    await checkUsable(parsed.text, key.publicKey);
  });

  it("repairs CRLF, a missing final newline, literal \\n escapes, indentation and folding onto one line", async () => {
    const variants = [
      key.privateKey.replace(/\n/g, "\r\n"),
      key.privateKey.trimEnd(),
      key.privateKey.replace(/\n/g, "\r\n").trimEnd(),
      key.privateKey.trimEnd().replace(/\n/g, "\\n"),
      key.privateKey
        .split("\n")
        .map((line) => `    ${line}`)
        .join("\n"),
      key.privateKey.trimEnd().replace(/\n/g, " "),
      `\n\n${key.privateKey}\n\n`,
    ];
    const expected = parsePrivateKey(key.privateKey).text;
    for (const variant of variants) {
      const parsed = parsePrivateKey(variant);
      assert.equal(parsed.text, expected, JSON.stringify(variant.slice(0, 60)));
    }
    await checkUsable(parsePrivateKey(variants[2] ?? "").text, key.publicKey);
  });

  it("accepts a legacy PEM RSA key", async () => {
    const pemPath = join(scratch, "legacy_rsa");
    await run("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", pemPath]);
    const text = await readFile(pemPath, "utf8");
    const parsed = parsePrivateKey(text.replace(/\n/g, "\r\n"));
    assert.equal(parsed.label, "RSA PRIVATE KEY");
    await checkUsable(parsed.text, (await readFile(`${pemPath}.pub`, "utf8")).trim());
  });

  it("refuses a passphrase-protected key (OpenSSH and PEM) with a clear error and no key text", async () => {
    const protectedKey = await makeKeyPair(scratch, "protected", { passphrase: "correct horse battery" });
    const pemPath = join(scratch, "protected_pem");
    await run("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "correct horse battery", "-f", pemPath]);
    const pem = await readFile(pemPath, "utf8");
    for (const text of [protectedKey.privateKey, pem]) {
      assert.throws(
        () => parsePrivateKey(text),
        (error: unknown) => {
          assert.ok(error instanceof PoolBoyError);
          assert.equal(error.kind, "config");
          assert.match(error.message, /POOL_REPO_SSH_PRIVATE_KEY.*passphrase/);
          assertNoKeyText(`${error.message}\n${error.hint ?? ""}`, text);
          return true;
        },
      );
    }
  });

  it("refuses a public key, a PuTTY key, damaged and empty text, without quoting them", () => {
    const cases: Array<[string, RegExp]> = [
      [key.publicKey, /public key/],
      ["PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", /PuTTY/],
      ["just some text that is not a key", /does not hold a private key/],
      [key.privateKey.replace(/^(-----BEGIN OPENSSH PRIVATE KEY-----\n)(.)/, "$1!!"), /damaged/],
      ["   ", /empty/],
    ];
    for (const [text, expected] of cases) {
      assert.throws(
        () => parsePrivateKey(text),
        (error: unknown) => {
          assert.ok(error instanceof PoolBoyError);
          assert.match(error.message, expected);
          assertNoKeyText(error.message, text);
          return true;
        },
      );
    }
  });
});

/** ssh-keygen -y derives the public key: proof that ssh can load the file. */
async function checkUsable(text: string, publicKey: string): Promise<void> {
  const dir = await mkdtemp(join(scratch, "usable-"));
  const file = join(dir, "key");
  await writeFile(file, text, { mode: 0o600 });
  const { stdout } = await run("ssh-keygen", ["-y", "-P", "", "-f", file]);
  assert.equal(stdout.trim().split(/\s+/).slice(0, 2).join(" "), publicKey.split(/\s+/).slice(0, 2).join(" "));
}

describe("bundled known_hosts", keygen, () => {
  it("holds exactly the keys whose fingerprints the hosts publish", async () => {
    const file = join(scratch, "bundled_known_hosts");
    await writeFile(file, `${BUNDLED_KNOWN_HOSTS.join("\n")}\n`);
    const { stdout } = await run("ssh-keygen", ["-lf", file]);
    const got = stdout
      .trim()
      .split("\n")
      .map((line) => {
        const [, fingerprint, host, type] = /^\d+ (\S+) (\S+) \((\S+)\)$/.exec(line.trim()) ?? [];
        return `${host} ${type} ${fingerprint}`;
      })
      .sort();
    assert.deepEqual(
      got,
      [
        "github.com ED25519 SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU",
        "github.com ECDSA SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM",
        "github.com RSA SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        "gitlab.com ED25519 SHA256:eUXGGm1YGsMAS7vkcx6JOJdOGHPem5gQp4taiCfCLB8",
        "gitlab.com ECDSA SHA256:HbW3g8zUjNSksFbqTiUWPWg2Bq1x8xdGUrliXFzSnUw",
        "gitlab.com RSA SHA256:ROQFvPThGrW4RuWLoL9tq9I9zJ42fK4XywyRtbOz/EQ",
        "bitbucket.org ED25519 SHA256:ybgmFkzwOSotHTHLJgHO0QN8L0xErw6vd0VhFA9m3SM",
        "bitbucket.org ECDSA SHA256:FC73VB6C4OQLSCrjEayhMp9UMxS97caD/Yyi2bhW/J0",
        "bitbucket.org RSA SHA256:46OSHA1Rmj8E8ERTC6xkNcmGOw9oFxYr0WF6zWW8l1E",
      ].sort(),
    );
  });
});

describe("prepareTransport: ssh", keygen, () => {
  it("writes the key 0600 in a 0700 dir, builds GIT_SSH_COMMAND, keeps the key out of env and args, and cleans up", async () => {
    const home = await mkdtemp(join(scratch, "home-"));
    const transport = await transportFor({
      url: "git@github.com:org/locks.git",
      env: { PATH: process.env.PATH, HOME: home, POOL_REPO_SSH_PRIVATE_KEY: key.privateKey.replace(/\n/g, "\r\n").trimEnd(), POOL_OTHER_TOKEN: "abcdefgh12345" },
      tmpRoot: scratch,
    });
    try {
      assert.equal(transport.kind, "ssh");
      assert.equal(transport.url, "git@github.com:org/locks.git");
      const command = transport.env.GIT_SSH_COMMAND ?? "";
      const keyFile = /-i (\S+)/.exec(command)?.[1] ?? "";
      const knownHosts = /UserKnownHostsFile=(\S+)/.exec(command)?.[1] ?? "";
      assert.ok(keyFile.startsWith(scratch), command);
      assert.match(command, /^ssh -i \S+ -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=\S+ -o BatchMode=yes/);
      assert.equal(transport.env.GIT_SSH_VARIANT, "ssh");
      assert.equal(transport.env.GIT_TERMINAL_PROMPT, "0");
      assert.equal(mode(await stat(keyFile)), 0o600);
      assert.equal(mode(await stat(dirname(keyFile))), 0o700);
      assert.equal(await readFile(keyFile, "utf8"), parsePrivateKey(key.privateKey).text);
      const known = await readFile(knownHosts, "utf8");
      for (const line of BUNDLED_KNOWN_HOSTS) assert.ok(known.includes(line));
      // no secret in git's environment or in the command line
      assert.equal(transport.env.POOL_REPO_SSH_PRIVATE_KEY, undefined);
      assert.equal(transport.env.POOL_OTHER_TOKEN, undefined);
      assertNoKeyText(JSON.stringify(transport.env), key.privateKey);
      // the run's redactor hides the key from anything shown
      assert.ok(!transport.redactor.output(`oops: ${key.privateKey}`).includes(keyLines(key.privateKey)[0] ?? "x"));
      assert.ok(!transport.redactor.output(`oops: ${keyLines(key.privateKey)[1]}`).includes(keyLines(key.privateKey)[1] ?? "x"));
      await transport.cleanup();
      assert.equal(existsSync(dirname(keyFile)), false);
      await transport.cleanup(); // twice is fine
    } finally {
      await transport.cleanup();
    }
  });

  it("quotes paths: a temp root with spaces, quotes and % still gives ssh the right files", async () => {
    const odd = join(scratch, "dir with 'odd' %d chars");
    await mkdir(odd);
    const transport = await transportFor({ url: "ssh://git@example.com/x.git", env: { PATH: process.env.PATH, POOL_REPO_SSH_PRIVATE_KEY: key.privateKey }, tmpRoot: odd });
    try {
      // Ask ssh itself how it reads the command: -G prints the options it resolved.
      const command = `${transport.env.GIT_SSH_COMMAND ?? ""} -G example.com`;
      const { stdout } = await run("sh", ["-c", command], { env: transport.env });
      // -G shows file options before %-token expansion, so undo the %% escape to compare
      const identity = (/^identityfile (.+)$/m.exec(stdout)?.[1] ?? "").replace(/%%/g, "%");
      const known = (/^userknownhostsfile (.+)$/m.exec(stdout)?.[1] ?? "").replace(/%%/g, "%");
      assert.ok(identity.startsWith(odd) && existsSync(identity), `identityfile: ${identity}`);
      assert.ok(existsSync(known.replace(/^"|"$/g, "")), `userknownhostsfile: ${known}`);
      assert.match(stdout, /^stricthostkeychecking true$/m);
      assert.match(stdout, /^batchmode yes$/m);
      assert.match(stdout, /^identitiesonly yes$/m);
    } finally {
      await transport.cleanup();
    }
  });

  it("works without a key (ssh's own keys, strict host keys all the same) and reads known hosts from env and ~/.ssh", async () => {
    const home = await mkdtemp(join(scratch, "home-"));
    await mkdir(join(home, ".ssh"));
    await writeFile(join(home, ".ssh", "known_hosts"), "mine.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMine\r\n");
    const transport = await transportFor({
      url: "ssh://git@mine.example.com/x.git",
      env: { PATH: process.env.PATH, HOME: home, POOL_REPO_SSH_KNOWN_HOSTS: "[given.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiven\\ngiven2.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiven2" },
      tmpRoot: scratch,
    });
    try {
      const command = transport.env.GIT_SSH_COMMAND ?? "";
      assert.ok(!command.includes(" -i "), command);
      assert.match(command, /StrictHostKeyChecking=yes/);
      const known = await readFile(/UserKnownHostsFile=(\S+)/.exec(command)?.[1] ?? "", "utf8");
      assert.match(known, /^\[given\.example\.com\]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiven$/m);
      assert.match(known, /^given2\.example\.com ssh-ed25519/m);
      assert.match(known, /^mine\.example\.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMine$/m);
      assert.ok(!known.includes("\r"));
    } finally {
      await transport.cleanup();
    }
  });

  it("refuses a passphrase-protected key before running anything, and leaves no temp dir", async () => {
    const protectedKey = await makeKeyPair(scratch, "protected2", { passphrase: "s3cret-passphrase" });
    const root = await mkdtemp(join(scratch, "root-"));
    await assert.rejects(
      transportFor({ url: "ssh://git@example.com/x.git", env: { POOL_REPO_SSH_PRIVATE_KEY: protectedKey.privateKey }, tmpRoot: root }),
      (error: unknown) => error instanceof PoolBoyError && /passphrase/.test(error.message),
    );
    assert.deepEqual(await readdir(root), []);
  });
});

describe("prepareTransport: https", () => {
  it("strips credentials from the URL and hands them over through an askpass script that holds no secret", async () => {
    const token = "ghp_unitTestToken1234567890";
    const transport = await transportFor({
      url: `https://pool-bot:${token}@git.example.com/team/locks.git`,
      env: { PATH: process.env.PATH, HOME: scratch, GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.lowSpeedLimit", GIT_CONFIG_VALUE_0: "1" },
      tmpRoot: scratch,
    });
    try {
      assert.equal(transport.kind, "https");
      assert.equal(transport.url, "https://git.example.com/team/locks.git");
      const script = transport.env.GIT_ASKPASS ?? "";
      assert.ok(script.startsWith(scratch));
      assert.equal(mode(await stat(script)), 0o700);
      assert.equal(mode(await stat(dirname(script))), 0o700);
      const text = await readFile(script, "utf8");
      assert.ok(!text.includes(token) && !text.includes("pool-bot"), text);
      assert.equal(transport.env[ASKPASS_USERNAME_VAR], "pool-bot");
      assert.equal(transport.env[ASKPASS_PASSWORD_VAR], token);
      // credential helpers are switched off; the caller's GIT_CONFIG_* entries are not git's to see
      // (they can carry an http.extraHeader with a token): only the transport's own
      assert.equal(transport.env.GIT_CONFIG_COUNT, "1");
      assert.equal(transport.env.GIT_CONFIG_KEY_0, "credential.helper");
      assert.equal(transport.env.GIT_CONFIG_VALUE_0, "");
      // run the script as git would
      const user = await run(script, ["Username for 'https://git.example.com': "], { env: transport.env });
      const pass = await run(script, ["Password for 'https://pool-bot@git.example.com': "], { env: transport.env });
      assert.equal(user.stdout, "pool-bot\n");
      assert.equal(pass.stdout, `${token}\n`);
      assert.equal(transport.redactor.outside(`fatal: ${token}`), "fatal: ***");
    } finally {
      await transport.cleanup();
    }
    assert.equal(existsSync(transport.env.GIT_ASKPASS ?? "/nonexistent"), false);
  });

  it("prefers POOL_REPO_USERNAME/POOL_REPO_PASSWORD, keeps them out of git's env under their own names, and defaults the user name", async () => {
    const transport = await transportFor({
      url: "https://olduser:oldtoken99@git.example.com/locks.git",
      env: { PATH: process.env.PATH, POOL_REPO_PASSWORD: "envtoken-abcdef", POOL_REPO_USERNAME: "envuser" },
      tmpRoot: scratch,
    });
    try {
      assert.equal(transport.url, "https://git.example.com/locks.git");
      assert.equal(transport.env[ASKPASS_USERNAME_VAR], "envuser");
      assert.equal(transport.env[ASKPASS_PASSWORD_VAR], "envtoken-abcdef");
      assert.equal(transport.env.POOL_REPO_PASSWORD, undefined);
      assert.ok(transport.warnings.some((w) => w.includes("POOL_REPO_PASSWORD is used")));
      assert.equal(transport.redactor.outside("oldtoken99 and envtoken-abcdef"), "*** and ***");
    } finally {
      await transport.cleanup();
    }
    const tokenOnly = await transportFor({ url: "https://git.example.com/locks.git", env: { POOL_REPO_PASSWORD: "only-a-token-1234" }, tmpRoot: scratch });
    try {
      assert.equal(tokenOnly.env[ASKPASS_USERNAME_VAR], DEFAULT_TOKEN_USERNAME);
    } finally {
      await tokenOnly.cleanup();
    }
  });

  it("without any credentials leaves the URL alone and makes no files", async () => {
    const transport = await transportFor({ url: "https://git.example.com/locks.git", env: { PATH: process.env.PATH }, tmpRoot: scratch });
    assert.equal(transport.url, "https://git.example.com/locks.git");
    assert.equal(transport.env.GIT_ASKPASS, undefined);
    assert.equal(transport.env.GIT_TERMINAL_PROMPT, "0");
    await transport.cleanup();
  });

  it("a user name without a password (https://TOKEN@host) is taken out of the URL and handed over by askpass", async () => {
    const transport = await transportFor({ url: "https://ghp_0123456789abcdef@git.example.com/locks.git", env: { PATH: process.env.PATH }, tmpRoot: scratch });
    assert.equal(transport.url, "https://git.example.com/locks.git");
    assert.ok(transport.env.GIT_ASKPASS);
    assert.equal(Object.values(transport.env).filter((v) => v === "ghp_0123456789abcdef").length, 1, "only in askpass's variable");
    assert.doesNotMatch(transport.redactor.output("token ghp_0123456789abcdef"), /ghp_0123456789abcdef/);
    await transport.cleanup();
  });

  it("local paths and file:// need nothing", keygen, async () => {
    for (const url of ["/srv/locks.git", "file:///srv/locks.git"]) {
      const transport = await transportFor({ url, env: { PATH: "/usr/bin", POOL_REPO_SSH_PRIVATE_KEY: key.privateKey } });
      assert.equal(transport.kind, "local");
      assert.equal(transport.url, url);
      assert.deepEqual(transport.env, { PATH: "/usr/bin", GIT_TERMINAL_PROMPT: "0" });
      await transport.cleanup();
    }
  });
});

describe("cleanup when the process ends first", () => {
  it("removes the private dir on SIGTERM and still dies of the signal", async () => {
    const moduleUrl = new URL("../../src/io/git/transport.js", import.meta.url).href;
    const script = `
      import { prepareTransport } from ${JSON.stringify(moduleUrl)};
      const t = await prepareTransport({ url: "https://git.example.com/x.git", auth: { kind: "https", username: "u", password: "sigterm-token-123" }, env: {}, tmpRoot: ${JSON.stringify(scratch)} });
      console.log(t.env.GIT_ASKPASS);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const askpass = await new Promise<string>((resolveLine) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolveLine(out.trim());
      });
    });
    assert.ok(existsSync(askpass));
    const exited = new Promise<NodeJS.Signals | null>((resolveExit) => child.once("exit", (_code, signal) => resolveExit(signal)));
    child.kill("SIGTERM");
    assert.equal(await exited, "SIGTERM");
    assert.equal(existsSync(dirname(askpass)), false);
  });

  it("removes the private dir when the process exits without cleanup()", async () => {
    const moduleUrl = new URL("../../src/io/git/transport.js", import.meta.url).href;
    const script = `
      import { prepareTransport } from ${JSON.stringify(moduleUrl)};
      const t = await prepareTransport({ url: "https://git.example.com/x.git", auth: { kind: "https", username: "u", password: "exit-token-1234" }, env: {}, tmpRoot: ${JSON.stringify(scratch)} });
      console.log(t.env.GIT_ASKPASS);
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    const askpass = stdout.trim();
    assert.ok(askpass.startsWith(scratch));
    assert.equal(existsSync(dirname(askpass)), false);
  });
});

describe("explainGitFailure", () => {
  const tail = "fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n";
  const sshUrl = "ssh://git@git.example.com:2222/srv/locks.git";

  it("says how to provide an unknown host key", () => {
    const stderr = `No ED25519 host key is known for [git.example.com]:2222 and you have requested strict checking.\nHost key verification failed.\n${tail}`;
    const explained = explainGitFailure(stderr, sshUrl);
    assert.equal(explained.cause, "host-key-unknown");
    assert.match(explained.message, /set POOL_REPO_SSH_KNOWN_HOSTS to the output of: ssh-keyscan -p 2222 git\.example\.com/);
    assert.match(explained.hint, /fingerprint/);
    const scp = explainGitFailure(`Host key verification failed.\n${tail}`, "git@github.example.org:team/locks.git");
    assert.match(scp.message, /ssh-keyscan -p 22 github\.example\.org/);
  });

  it("tells a changed host key apart", () => {
    const stderr = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nHost key verification failed.\n" + tail;
    assert.equal(explainGitFailure(stderr, sshUrl).cause, "host-key-changed");
  });

  it("recognises the common failures", () => {
    const cases: Array<[string, string, string]> = [
      [`git@git.example.com: Permission denied (publickey).\n${tail}`, sshUrl, "publickey-denied"],
      [`Load key "/tmp/pool-boy-x/id_pool_boy": error in libcrypto\ngit@h: Permission denied (publickey).\n${tail}`, sshUrl, "key-unusable"],
      ["ERROR: The key you are authenticating with has been marked as read only.\n" + tail, sshUrl, "read-only"],
      ["remote: Invalid username or password.\nfatal: Authentication failed for 'https://git.example.com/locks.git/'\n", "https://git.example.com/locks.git", "auth-failed"],
      ["fatal: could not read Username for 'https://git.example.com': terminal prompts disabled\n", "https://git.example.com/locks.git", "auth-missing"],
      ["remote: Permission to org/locks.git denied to bot.\nfatal: unable to access 'https://github.com/org/locks.git/': The requested URL returned error: 403\n", "https://github.com/org/locks.git", "read-only"],
      ["fatal: unable to access 'https://git.example.com/locks.git/': The requested URL returned error: 403\n", "https://git.example.com/locks.git", "forbidden"],
      ["ERROR: Repository not found.\n" + tail, sshUrl, "not-found"],
      ["remote: Repository not found.\nfatal: repository 'https://github.com/org/nope.git/' not found\n", "https://github.com/org/nope.git", "not-found"],
      ["fatal: '/srv/locks.git' does not appear to be a git repository\n" + tail, sshUrl, "not-found"],
      ["ssh: Could not resolve hostname git.example.com: Name or service not known\n" + tail, sshUrl, "dns"],
      ["fatal: unable to access 'https://nohost.example/x.git/': Could not resolve host: nohost.example\n", "https://nohost.example/x.git", "dns"],
      ["ssh: connect to host git.example.com port 2222: Connection refused\n" + tail, sshUrl, "refused"],
      ["fatal: unable to access 'https://127.0.0.1:1/x.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server\n", "https://127.0.0.1:1/x.git", "refused"],
      ["ssh: connect to host git.example.com port 2222: Connection timed out\n" + tail, sshUrl, "unreachable"],
      ["fatal: unable to access 'https://git.example.com/x.git/': SSL certificate problem: self-signed certificate\n", "https://git.example.com/x.git", "tls"],
      ["fatal: the remote end hung up unexpectedly\n", sshUrl, "other"],
    ];
    for (const [stderr, url, cause] of cases) {
      const explained = explainGitFailure(stderr, url);
      assert.equal(explained.cause, cause, stderr);
      assert.ok(explained.message.length > 0 && explained.hint.length > 0);
    }
  });

  it("never shows credentials from a URL or a known secret, even in git's own words", () => {
    // git.ts masks git's stderr with the run's redactor before anything explains it
    const mask = makeRedactor({ secrets: [{ value: "sup3r-s3cret-t0ken" }] }).outside;
    const url = "https://bob:sup3r-s3cret-t0ken@git.example.com/locks.git";
    const stderr = mask(
      "fatal: unable to access 'https://bob:sup3r-s3cret-t0ken@git.example.com/locks.git/': The requested URL returned error: 500\n" +
      "error: something echoed sup3r-s3cret-t0ken and https://alice:another-pass@host.example/x\n",
    );
    const explained = explainGitFailure(stderr, url);
    for (const text of [explained.message, explained.hint, explained.detail]) {
      assert.ok(!text.includes("sup3r-s3cret-t0ken"), text);
      assert.ok(!text.includes("another-pass"), text);
    }
    assert.match(explained.message, /git\.example\.com/);
    const error = gitFailure(stderr, url);
    assert.ok(error instanceof PoolBoyError);
    assert.equal(error.kind, "git");
    assert.ok(!error.message.includes("sup3r-s3cret-t0ken") && !(error.hint ?? "").includes("sup3r-s3cret-t0ken"));
  });

  it("never shows a private key that ends up in git's stderr", keygen, () => {
    const stderr = `error: weird\n${key.privateKey}\n${tail}`;
    const explained = explainGitFailure(stderr, sshUrl);
    assertNoKeyText(`${explained.message}\n${explained.hint}\n${explained.detail}`, key.privateKey);
  });
});

describe("removeAbandonedDirs", () => {
  it("removes private dirs whose owner process is gone, keeps live, foreign-host and unmarked ones", async () => {
    const root = await mkdtemp(join(scratch, "sweep-"));
    const make = async (name: string, owner: string | null) => {
      await mkdir(join(root, name));
      await writeFile(join(root, name, "id_pool_boy"), "key");
      if (owner !== null) await writeFile(join(root, name, "owner"), owner);
    };
    // a pid that is gone: a child that has exited
    const gone = await new Promise<number>((resolveExit) => {
      const child = spawn(process.execPath, ["-e", ""]);
      child.once("exit", () => resolveExit(child.pid ?? 0));
    });
    const { hostname } = await import("node:os");
    await make("pool-boy-dead", `${gone} 1 ${hostname()}\n`);
    await make("pool-boy-live", `${process.pid} - ${hostname()}\n`);
    await make("pool-boy-elsewhere", `${gone} 1 another-host\n`);
    await make("pool-boy-unmarked", null);
    await make("other-dead", `${gone} 1 ${hostname()}\n`);
    const removed = await removeAbandonedDirs(root);
    assert.deepEqual(removed, [join(root, "pool-boy-dead")]);
    assert.deepEqual((await readdir(root)).sort(), ["other-dead", "pool-boy-elsewhere", "pool-boy-live", "pool-boy-unmarked"]);
  });
});
