// The deploy key as given in the environment, made into the file ssh expects: one PEM/OpenSSH
// block, LF line endings, a trailing newline. Keys pasted through CI variable forms arrive with
// CRLF, without the final newline, with literal "\n" escapes, indented, or folded onto one line;
// all of those are repaired here. Errors never quote the key.

import { PoolBoyError } from "../../../core/errors.js";

export const PRIVATE_KEY_VAR = "POOL_REPO_SSH_PRIVATE_KEY";

const BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----([\s\S]*?)-----END \1-----/;
const OPENSSH_MAGIC = "openssh-key-v1\0";

export interface PrivateKey {
  /** the key file's text: normalised, ending in a newline */
  text: string;
  /** the block label, e.g. "OPENSSH PRIVATE KEY", "RSA PRIVATE KEY" */
  label: string;
}

function keyError(message: string, hint: string): PoolBoyError {
  return new PoolBoyError("config", `${PRIVATE_KEY_VAR}: ${message}`, hint);
}

/** Normalise the key text and refuse keys ssh could not use without asking someone. */
export function parsePrivateKey(raw: string): PrivateKey {
  let text = raw.replace(/\r\n?/g, "\n");
  // A key stored as one line with "\n" escapes (a common way to squeeze it into a variable).
  if (!text.trim().includes("\n") && text.includes("\\n")) text = text.replace(/\\n/g, "\n");
  text = text.trim();
  if (text === "") throw keyError("is empty", "give the whole private key file, from its -----BEGIN line to its -----END line");
  if (text.startsWith("PuTTY-User-Key-File-")) {
    throw keyError(
      "holds a PuTTY key (.ppk), which ssh cannot read",
      "convert it to OpenSSH format first: puttygen KEY.ppk -O private-openssh -o KEY",
    );
  }
  if (/^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+/.test(text)) {
    throw keyError(
      "holds a public key, not a private key",
      "give the private half of the deploy key (the file without .pub), from its -----BEGIN line to its -----END line",
    );
  }
  const match = BLOCK.exec(text);
  if (!match) {
    throw keyError(
      "does not hold a private key",
      "give the whole private key file, from its -----BEGIN … PRIVATE KEY----- line to its -----END … PRIVATE KEY----- line",
    );
  }
  const label = match[1] ?? "";
  const body = match[2] ?? "";
  const lines = body
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  // Legacy PEM headers (Proc-Type, DEK-Info) must stay on their own lines, followed by a blank line.
  const headers = lines.filter((line) => /^[A-Za-z-]+:/.test(line));
  const base64 = lines
    .filter((line) => !/^[A-Za-z-]+:/.test(line))
    .join("")
    .replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length === 0) {
    throw keyError(
      "is damaged: the text between its BEGIN and END lines is not base64",
      "copy the private key file again, whole and unchanged",
    );
  }

  if (label === "ENCRYPTED PRIVATE KEY" || headers.some((h) => /^Proc-Type:.*ENCRYPTED/i.test(h))) {
    throw passphraseError();
  }
  if (label === "OPENSSH PRIVATE KEY") {
    const decoded = Buffer.from(base64, "base64");
    if (decoded.subarray(0, OPENSSH_MAGIC.length).toString("latin1") !== OPENSSH_MAGIC || decoded.length < OPENSSH_MAGIC.length + 4) {
      throw keyError("is damaged: it is not an OpenSSH private key", "copy the private key file again, whole and unchanged");
    }
    const cipherLength = decoded.readUInt32BE(OPENSSH_MAGIC.length);
    const cipherStart = OPENSSH_MAGIC.length + 4;
    const cipher = decoded.subarray(cipherStart, cipherStart + cipherLength).toString("latin1");
    if (cipher !== "none") throw passphraseError();
  }

  const folded = base64.match(/.{1,64}/g) ?? [];
  const out = [`-----BEGIN ${label}-----`, ...headers, ...(headers.length > 0 ? [""] : []), ...folded, `-----END ${label}-----`, ""];
  return { text: out.join("\n"), label };
}

function passphraseError(): PoolBoyError {
  return keyError(
    "is protected by a passphrase, and pool-boy runs unattended with no one to type it",
    "use a deploy key without a passphrase (keep it in your credential manager instead); to remove the passphrase from a copy: ssh-keygen -p -N '' -f KEYFILE",
  );
}
