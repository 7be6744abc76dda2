import { test } from "node:test";
import assert from "node:assert/strict";
import { makeRedactor, readsLikeName, redact } from "../../src/core/redact.js";

const PASSWORD = `pa ss"wo\\rd!é/x`;
const USER = "bot";
const r = makeRedactor({ secrets: [{ value: PASSWORD, user: USER }, { value: "deploy" }] });

// Every form a secret takes on its way out: one line a case.
const forms: Array<[form: string, text: string]> = [
  ["raw", PASSWORD],
  ["URL-encoded (encodeURIComponent)", encodeURIComponent(PASSWORD)],
  ["percent-encoded, ! as %21", encodeURIComponent(PASSWORD).replace(/!/g, "%21")],
  ["percent-encoded, lower-case hex", encodeURIComponent(PASSWORD).replace(/!/g, "%21").replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
  ["form-encoded (URLSearchParams: + for space)", new URLSearchParams({ p: PASSWORD }).toString().slice(2)],
  ["form-encoded (encodeURIComponent, + for space)", encodeURIComponent(PASSWORD).replace(/%20/g, "+")],
  ["JSON-escaped", JSON.stringify(PASSWORD).slice(1, -1)],
  ["JSON-escaped, \\u for non-ASCII", JSON.stringify(PASSWORD).slice(1, -1).replace("é", "\\u00e9")],
  ["JSON-escaped, \\/ for /", JSON.stringify(PASSWORD).slice(1, -1).replace("/", "\\/")],
  ["base64 in a Basic header", Buffer.from(`${USER}:${PASSWORD}`).toString("base64")],
];
for (const [form, text] of forms) {
  test(`outside and output both mask the ${form} form`, () => {
    assert.ok(!r.outside(`answer: ${text} end`).includes(text), r.outside(`answer: ${text} end`));
    assert.ok(!r.output(`answer: ${text} end`).includes(text));
  });
}

test("a password that reads like a name is masked in text from outside, never in output", () => {
  assert.equal(r.outside("server said: deploy refused"), "server said: *** refused");
  assert.equal(r.output("main/app/deploy #5"), "main/app/deploy #5");
  // its other forms cannot be a name: the last net still takes them
  const basic = Buffer.from("u:deploy").toString("base64");
  assert.equal(makeRedactor({ secrets: [{ value: "deploy", user: "u" }] }).output(`x ${basic}`), "x ***");
});

const names: Array<[value: string, name: boolean]> = [
  ["deploy", true],
  ["env-1.prod_x", true],
  ["x7Kq9PzL2mWa", true],
  ["ghp_0123456789abcdefghij", false], // 16 characters or more: a token, not a name
  ["hunter2!", false],
  ["two words", false],
];
for (const [value, name] of names) test(`readsLikeName(${JSON.stringify(value)}) is ${name}`, () => assert.equal(readsLikeName(value), name));

test("values shorter than 4 characters are never masked (they would blank out ordinary text)", () => {
  assert.equal(makeRedactor({ secrets: [{ value: "abc" }] }).outside("abc abc"), "abc abc");
});

test("redact() knows no value: URL credentials, keys, authorization headers and JWTs", () => {
  assert.equal(redact("https://bob:pw@host/x"), "https://***@host/x");
  assert.equal(redact("ssh://git:pw@host/x"), "ssh://git@host/x");
  assert.equal(redact("Authorization: Bearer abcdefgh12345"), "Authorization: Bearer ***");
  assert.equal(redact("Basic Zm9vOmJhcmJheg=="), "Basic ***");
  assert.equal(redact("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLXNpZw"), "token ***");
  assert.match(redact("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"), /^-----BEGIN PRIVATE KEY----- \*\*\* \(redacted\)$/);
});

test("two redactors share nothing", () => {
  const a = makeRedactor({ secrets: [{ value: "only-in-a!123" }] });
  const b = makeRedactor({ secrets: [] });
  assert.equal(a.output("only-in-a!123"), "***");
  assert.equal(b.output("only-in-a!123"), "only-in-a!123");
});

test("a deploy key's base64 is masked as given and as the transport refolds it", () => {
  const body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBrZXlrZXlrZXlrZXlrZXlrZXlrZXlrZXlrZXk=";
  const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.match(/.{1,70}/g)!.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const keyRedactor = makeRedactor({ secrets: [{ value: key }] });
  for (const line of [...body.match(/.{1,70}/g)!, ...body.match(/.{1,64}/g)!].filter((l) => l.length >= 16))
    assert.equal(keyRedactor.output(`debug: ${line}`), "debug: ***", line);
});
