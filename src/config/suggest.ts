// "Did you mean …?": the closest known word to a misspelt one, for the hints of config errors.

/** Optimal string alignment distance: Levenshtein plus the swap of two neighbours ("nmae"). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] as number;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * cols + j] = v;
    }
  }
  return at(a.length, b.length);
}

/** Case, "-" and "_" do not matter: `migration-threshold` is `migrationThreshold`. */
function normalize(word: string): string {
  return word.toLowerCase().replace(/[-_]/g, '');
}

/**
 * The known word closest to `word`, if it is close enough to be a likely typo: the same
 * word in another spelling, or at most a third of its letters off (at least one).
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  const w = normalize(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(w, normalize(k));
    if (dist < bestDistance) {
      best = k;
      bestDistance = dist;
    }
  }
  const limit = Math.max(1, Math.floor(w.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/** `"a", "b" or "c"`, for messages. */
export function quoteList(words: readonly string[], conjunction = 'or'): string {
  const q = words.map((w) => JSON.stringify(w));
  if (q.length <= 1) return q.join('');
  return `${q.slice(0, -1).join(', ')} ${conjunction} ${q[q.length - 1] as string}`;
}

/** A hint naming the likely intended word, or listing all of them when none is close. */
export function suggestion(word: string, known: readonly string[], what: string): string {
  const near = closest(word, known);
  if (near !== undefined) return `did you mean "${near}"?`;
  if (known.length === 0) return `no ${what} are defined`;
  return `${what}: ${known.join(', ')}`;
}
