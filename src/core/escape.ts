// Text from outside (lock names, commit messages, API answers, git's stderr) shown on a terminal
// is shown, never executed: control characters become visible escapes. Pure.

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\0": "\\0" };

/**
 * C0 and C1 controls and DEL (ESC sequences that clear the screen, move the cursor or hide rows;
 * CR that overwrites a line; newlines and tabs that break the table), bidirectional overrides and
 * isolates (text that reads differently from what it is), zero-width characters, line and
 * paragraph separators, and the byte-order mark.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/** The text with every unsafe character written as an escape: `\x1b`, `\n`, `\u202e`. */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** At most `max` characters (code points), the last one an ellipsis when the text was longer. */
export function truncateText(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return chars.slice(0, Math.max(0, max - 1)).join("") + "…";
}

/** Escaped, then cut to `max` characters: for a table cell. */
export function showText(text: string, max = Infinity): string {
  return truncateText(escapeText(text), max);
}
