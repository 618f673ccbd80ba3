// Scores and durations: the two scalar vocabularies of a cluster config.
//
// Scores follow Pacemaker's convention so converted clusters keep their meaning: an integer,
// where ±INFINITY (1,000,000) means "must" / "must not". Durations are milliseconds inside
// Haven and written with a unit in files ("500ms", "10s", "2m").

export const INFINITY = 1_000_000;

/** A placement preference. Values are clamped to [-INFINITY, INFINITY]. */
export type Score = number;

/** Milliseconds. */
export type Duration = number;

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "500ms", "10s", "2m", "1h", "1d"; returns undefined for anything else. */
export function parseDuration(text: string): Duration | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** The shortest exact spelling of a duration, for messages and round trips. */
export function formatDuration(ms: Duration): string {
  if (ms !== 0 && ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Parses an integer score or INFINITY / +INFINITY / -INFINITY (also "inf"); undefined if neither. */
export function parseScore(value: number | string): Score | undefined {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return undefined;
    return Math.max(-INFINITY, Math.min(INFINITY, value));
  }
  const t = value.trim().toLowerCase();
  if (t === 'infinity' || t === '+infinity' || t === 'inf' || t === '+inf') return INFINITY;
  if (t === '-infinity' || t === '-inf') return -INFINITY;
  if (/^[+-]?\d+$/.test(t)) return Math.max(-INFINITY, Math.min(INFINITY, Number(t)));
  return undefined;
}

export function formatScore(score: Score): string {
  if (score >= INFINITY) return 'INFINITY';
  if (score <= -INFINITY) return '-INFINITY';
  return String(score);
}
