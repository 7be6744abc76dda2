// The programs some tests run for real, and what happens when the machine lacks one. One rule:
// - present: the test runs;
// - absent and CI=true: the test FAILS, naming the program and its Debian package (so CI can
//   never go green on skipped tests; .ci/run installs everything);
// - absent otherwise: the test is skipped with a reason that names the package to install.
//
// Programs are looked for on PATH, and in the sbin sibling of each PATH entry (/usr/bin →
// /usr/sbin), where Debian puts sshd and debootstrap although a normal user's PATH lacks it.

import { test } from "node:test";
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { basename, delimiter, dirname, join } from "node:path";

export interface Program {
  /** the command's name */
  name: string;
  /** the Debian package that installs it */
  debianPackage: string;
  /** where to look instead of PATH (git's own helpers live in `git --exec-path`) */
  locate?: () => string | null;
}

export const SSHD: Program = { name: "sshd", debianPackage: "openssh-server" };
export const SSH: Program = { name: "ssh", debianPackage: "openssh-client" };
export const SSH_KEYGEN: Program = { name: "ssh-keygen", debianPackage: "openssh-client" };
export const NPM: Program = { name: "npm", debianPackage: "npm" };
export const OPENSSL: Program = { name: "openssl", debianPackage: "openssl" };
/** POOL_BOY_PROMTOOL_BIN overrides where it is looked for. */
export const PROMTOOL: Program = {
  name: "promtool",
  debianPackage: "prometheus",
  locate: () => process.env["POOL_BOY_PROMTOOL_BIN"] || findOnPath("promtool"),
};
/** POOL_BOY_PUSHGATEWAY_BIN overrides where it is looked for. */
export const PUSHGATEWAY: Program = {
  name: "prometheus-pushgateway",
  debianPackage: "prometheus-pushgateway",
  locate: () => process.env["POOL_BOY_PUSHGATEWAY_BIN"] || findOnPath("prometheus-pushgateway") || findOnPath("pushgateway"),
};
export const PODMAN: Program = { name: "podman", debianPackage: "podman" };
export const BUILDAH: Program = { name: "buildah", debianPackage: "buildah" };
export const DEBOOTSTRAP: Program = { name: "debootstrap", debianPackage: "debootstrap" };
export const GIT_HTTP_BACKEND: Program = {
  name: "git-http-backend",
  debianPackage: "git",
  locate: () => {
    const git = findOnPath("git");
    if (!git) return null;
    try {
      const execPath = execFileSync(git, ["--exec-path"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
      return executable(join(execPath, "git-http-backend")) ? join(execPath, "git-http-backend") : null;
    } catch {
      return null;
    }
  },
};

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directories to look in: PATH, then each entry's sbin sibling. */
function searchDirs(): string[] {
  const path = (process.env["PATH"] ?? "").split(delimiter).filter(Boolean);
  const sbin = path.filter((dir) => basename(dir) === "bin").map((dir) => join(dirname(dir), "sbin"));
  return [...new Set([...path, ...sbin])];
}

function findOnPath(name: string): string | null {
  for (const dir of searchDirs()) {
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return null;
}

/** The absolute path of a program, or null when this machine lacks it. */
export function findProgram(program: Program): string | null {
  return program.locate ? program.locate() : findOnPath(program.name);
}

/** The absolute path of a program the test cannot do without: throws, naming the package, when absent. */
export function programPath(program: Program): string {
  const path = findProgram(program);
  if (!path) throw new Error(`${program.name} not found: apt-get install ${program.debianPackage}`);
  return path;
}

export const inCi = (): boolean => process.env["CI"] === "true";

/** "needs sshd, ssh-keygen: apt-get install openssh-server openssh-client", or null when nothing is missing. */
export function missingReason(programs: Program[], other: string[] = []): string | null {
  const missing = programs.filter((program) => findProgram(program) === null);
  const parts: string[] = [];
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((program) => program.debianPackage))];
    parts.push(`needs ${missing.map((program) => program.name).join(", ")}: apt-get install ${packages.join(" ")}`);
  }
  parts.push(...other);
  return parts.length > 0 ? parts.join("; ") : null;
}

export interface Requirement {
  /** for describe()/test() options: the reason when the tests are skipped */
  skip: string | false;
  /**
   * For a hook that starts what the tests need: false when they are skipped (do nothing), true
   * when everything is there; throws, naming what is missing, in CI.
   */
  ready(): boolean;
}

/**
 * Options for `describe()` or `test()` whose tests need `programs` (and any `other` unmet
 * condition, as a reason): `{ skip: reason }` when something is missing outside CI. In CI nothing
 * is skipped, and a test that fails with the reason is added where this is called.
 */
export function needs(programs: Program[], other: string[] = []): Requirement {
  const reason = missingReason(programs, other);
  const failure = (): Error => new Error(`CI=true and this machine cannot run these tests: ${reason}. Run \`bash .ci/run\` as root, which installs everything.`);
  if (reason === null) return { skip: false, ready: () => true };
  if (!inCi()) return { skip: reason, ready: () => false };
  test(`CI has what the tests need (${programs.map((program) => program.name).join(", ")})`, () => {
    throw failure();
  });
  return {
    skip: false,
    ready: () => {
      throw failure();
    },
  };
}
