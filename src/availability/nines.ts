// Availability arithmetic (the seed's section 1.1): the share of time (or of requests) a service
// answered, and the same figure "in nines", the way SLOs are spoken of: 99.9 % is three nines,
// 99.95 % is 3.3 nines (-log10 of the unavailability). Pure.

/** Nines of an availability given as a fraction (0.9995 → 3.3); Infinity for 1, 0 for 0 or less. */
export function nines(fraction: number): number {
  if (!(fraction > 0)) return 0;
  if (fraction >= 1) return Infinity;
  return -Math.log10(1 - fraction);
}

/** An availability as a percentage with the digits its nines need (99.95, 99.997, 90.0, 100). */
export function formatPercent(fraction: number): string {
  if (fraction >= 1) return '100';
  const decimals = Math.max(1, Math.min(8, Math.floor(nines(fraction)) - 1));
  const text = (fraction * 100).toFixed(decimals);
  // Never round a failure away: 99.99996 shown with too few digits would read 100.
  return text.startsWith('100') ? (fraction * 100).toFixed(8) : text;
}

/** Nines with one decimal ("3.3"); "∞" when nothing failed. */
export function formatNines(n: number): string {
  return Number.isFinite(n) ? (Math.floor(n * 10) / 10).toFixed(1) : '∞';
}

/** What a given availability allows as downtime over a period (ms), e.g. 99.99 % of a year ≈ 52.6 min. */
export function allowedDowntimeMs(fraction: number, periodMs: number): number {
  return Math.max(0, (1 - fraction) * periodMs);
}
