// Durations as people write and read them. Pure.

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * "90" (minutes, as the original Pool Boy), "90m", "2h", "1d", "1h30m", "never".
 * Returns seconds, null for never, or undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === "never" || t === "0") return t === "never" ? null : undefined;
  if (/^\d+$/.test(t)) return Number(t) * 60;
  const re = /(\d+(?:\.\d+)?)([smhdw])/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * (UNITS[m[2] ?? ""] ?? 0);
    matched = re.lastIndex;
  }
  if (matched !== t.length || t.length === 0 || total <= 0) return undefined;
  return Math.round(total);
}

/** "3h 5m", "2d 4h", "45s": the two largest units, as a person says an age. */
export function formatAge(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(seconds));
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0 || (unit === "s" && parts.length === 0)) parts.push(`${n}${unit}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

export function formatTimeout(seconds: number | null): string {
  return seconds === null ? "never" : formatAge(seconds).replace(/ /g, "");
}
