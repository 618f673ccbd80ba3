// Splitting a command line into words the way a POSIX shell would, without running a shell:
// blanks separate words, 'single quotes' keep everything, "double quotes" keep everything but
// a backslash before " \ $ or `, and a backslash outside quotes keeps the next character.
// No expansion of any kind ($VAR, globs, ~) happens: what is written is what the program gets.

export type WordsResult = { readonly ok: true; readonly words: string[] } | { readonly ok: false; readonly error: string };

/** The words of `line`, or what is wrong with it (an unterminated quote, a trailing backslash). */
export function splitWords(line: string): WordsResult {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { ok: false, error: `unterminated ' quote at character ${i + 1}` };
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      const r = doubleQuoted(line, i + 1);
      if (r === undefined) return { ok: false, error: `unterminated " quote at character ${i + 1}` };
      word += r.text;
      i = r.next;
    } else if (c === '\\') {
      if (i + 1 >= line.length) return { ok: false, error: 'a backslash ends the line' };
      word += line[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}

function doubleQuoted(line: string, from: number): { text: string; next: number } | undefined {
  let text = '';
  let i = from;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === '"') return { text, next: i + 1 };
    const n = line[i + 1];
    if (c === '\\' && n !== undefined && '"\\$`'.includes(n)) {
      text += n;
      i += 2;
      continue;
    }
    text += c;
    i++;
  }
  return undefined;
}
