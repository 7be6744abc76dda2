// Durations as people write and read them. Pure.

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * "90" (minutes, as the original Pool Boy), "90m", "2h", "1d", "1h30m", "0.5h", "never".
 * Returns seconds (not rounded; 0 and Infinity are possible, so callers check bounds), null for
 * never, or undefined when the text is not a duration at all.
 */
export function parseDuration(text: string): number | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === "never") return null;
  if (/^\d+$/.test(t)) return Number(t) * 60;
  const re = /(\d+(?:\.\d+)?)([smhdw])/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * (UNITS[m[2] ?? ""] ?? 0);
    matched = re.lastIndex;
  }
  if (matched !== t.length || t.length === 0) return undefined;
  return total;
}

/** The bounds of a pool's timeout, in seconds (`never` is allowed besides). */
export const POOL_TIMEOUT_BOUNDS = { min: 60, max: 365 * 86400 } as const;
/** The bounds of one Concourse API request's timeout, in seconds (Node's timers stop at about 24.8 days). */
export const API_TIMEOUT_BOUNDS = { min: 1, max: 3600 } as const;

/** "3h 5m", "2d 4h", "45s", "5h": the largest unit and the next one when it is not zero. */
export function formatAge(seconds: number): string {
  const units = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const;
  const rest = Math.max(0, Math.floor(seconds));
  const first = units.findIndex(([, size]) => rest >= size);
  if (first < 0) return "0s";
  const [unit, size] = units[first]!;
  const n = Math.floor(rest / size);
  const next = units[first + 1];
  const m = next ? Math.floor((rest - n * size) / next[1]) : 0;
  return next && m > 0 ? `${n}${unit} ${m}${next[0]}` : `${n}${unit}`;
}

export function formatTimeout(seconds: number | null): string {
  return seconds === null ? "never" : formatAge(seconds).replace(/ /g, "");
}
