import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeText, showText, truncateText } from "../../src/core/escape.js";

const cases: Array<[name: string, input: string, want: string]> = [
  ["plain text is unchanged", "env-1 main/app/deploy #42", "env-1 main/app/deploy #42"],
  ["unicode letters and emoji are unchanged", "lock-é-日本-🔒", "lock-é-日本-🔒"],
  ["clear screen", "\x1b[2J\x1b[Hfake", "\\x1b[2J\\x1b[Hfake"],
  ["hidden text (SGR 8) and a reset", "a\x1b[8mhidden\x1b[0m", "a\\x1b[8mhidden\\x1b[0m"],
  ["an OSC title or hyperlink", "\x1b]0;owned\x07x", "\\x1b]0;owned\\x07x"],
  ["carriage return that overwrites the row", "evil\rgood", "evil\\rgood"],
  ["newline and tab", "a\nb\tc", "a\\nb\\tc"],
  ["NUL, backspace, form feed, vertical tab, DEL", "\0\b\f\v\x7f", "\\0\\b\\f\\v\\x7f"],
  ["C1 controls (CSI as one byte, NEL)", "\u009b2J\u0085", "\\x9b2J\\x85"],
  ["bidi override and isolates", "abc\u202Etxt.exe\u2066\u2069\u200F", "abc\\u202etxt.exe\\u2066\\u2069\\u200f"],
  ["zero-width, line separator, byte-order mark", "a\u200Bb\u2028c\uFEFF", "a\\u200bb\\u2028c\\ufeff"],
];
for (const [name, input, want] of cases) test(`escapeText: ${name}`, () => assert.equal(escapeText(input), want));

test("escaped text holds no control character at all", () => {
  let all = "";
  for (let c = 0; c < 0xa0; c += 1) all += String.fromCharCode(c);
  assert.doesNotMatch(escapeText(all), /[\u0000-\u001f\u007f-\u009f]/u);
});

const cuts: Array<[input: string, max: number, want: string]> = [
  ["short", 10, "short"],
  ["exactly-10", 10, "exactly-10"],
  ["eleven-char", 10, "eleven-ch…"],
  ["🔒🔒🔒🔒", 3, "🔒🔒…"],
];
for (const [input, max, want] of cuts) test(`truncateText(${JSON.stringify(input)}, ${max})`, () => assert.equal(truncateText(input, max), want));

test("showText escapes before it cuts, so an escape is never the only thing left", () => {
  assert.equal(showText("\x1b[2J" + "x".repeat(100), 12), "\\x1b[2Jxxxx…");
  assert.equal([...showText("y".repeat(1000), 48)].length, 48);
});
