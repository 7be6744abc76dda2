// The one way a pure decision says "a value, or why not": no throws in decisions, no `T | string`.
// Adapters (src/io, src/cli, src/run.ts, src/operate.ts, src/resource/main.ts) turn a problem into
// a PoolBoyError where they must stop.

export type Result<T, E = string[] | string> = { ok: true; value: T } | { ok: false; problems: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const fail = <E>(problems: E): { ok: false; problems: E } => ({ ok: false, problems });

/** A refused request of a person (hold, release by hand): why, and what to do instead. */
export interface Refusal {
  why: string;
  hint: string;
}
