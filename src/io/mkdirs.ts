// Creates a directory and its missing parents, one by one, with a bound: the replacement for
// `mkdir(path, { recursive: true })` on every path a user gives (--cache-dir, TMPDIR, the get
// step's directory). Node's recursive mkdir spins for ever where a parent exists but refuses a
// child with ENOENT (/proc, /sys): here each missing directory is created once, and any refusal
// is a usage error (exit 2) naming the path and why.

import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { PoolBoyError } from "../core/errors.js";

export interface MkdirsOptions {
  /** the mode of the directories created (default 0o777, less the umask) */
  mode?: number;
  /** what the user gave, for the message: `--cache-dir /x`, `TMPDIR /proc` */
  given: string;
  /** how to fix it */
  hint: string;
  /** the words before the path in the message ("its folder "); default none */
  what?: string;
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "";
}

function why(code: string, dir: string, err: unknown): string {
  switch (code) {
    case "ENOTDIR":
    case "EEXIST":
      return "a part of that path is a file, not a directory";
    case "EACCES":
    case "EPERM":
      return "no permission to create it";
    case "EROFS":
      return "the file system is read-only";
    case "ENOENT":
      return `the file system does not allow creating ${dir}`;
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** mkdir -p, bounded: at most one mkdir per missing component; a PoolBoyError("config") when one fails. */
export async function mkdirs(path: string, options: MkdirsOptions): Promise<void> {
  const fail = (dir: string, code: string, err: unknown): never => {
    throw new PoolBoyError("config", `${options.given}: cannot create ${options.what ?? ""}${path}: ${why(code, dir, err)}`, options.hint, { cause: err });
  };
  // The missing directories, deepest first: walk up until one exists (the root always does).
  const missing: string[] = [];
  for (let dir = resolve(path); ; ) {
    try {
      if (!(await stat(dir)).isDirectory()) fail(dir, "ENOTDIR", new Error("not a directory"));
      break;
    } catch (err) {
      if (err instanceof PoolBoyError) throw err;
      const code = errno(err);
      if (code !== "ENOENT" && code !== "ENOTDIR") fail(dir, code, err);
      missing.push(dir);
      const parent = dirname(dir);
      if (parent === dir) fail(dir, code, err);
      dir = parent;
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, options.mode === undefined ? {} : { mode: options.mode });
    } catch (err) {
      const code = errno(err);
      // made meanwhile by someone else: fine when it is a directory
      if (code === "EEXIST" && (await stat(dir).then((s) => s.isDirectory(), () => false))) continue;
      fail(dir, code, err);
    }
  }
}
