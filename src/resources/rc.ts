// What each OCF exit code means, in the words operators read in messages and logs.

const MEANING: readonly string[] = [
  'success',
  'generic error',
  'invalid argument',
  'unimplemented',
  'insufficient privileges',
  'not installed',
  'not configured',
  'not running',
  'running promoted',
  'failed promoted',
];

/** "7 (not running)"; codes outside 0–9 are named as such. */
export function describeRc(rc: number): string {
  const m = MEANING[rc];
  return m === undefined ? `${rc} (not an OCF exit code)` : `${rc} (${m})`;
}
