// splitWords: shell-like word splitting without a shell.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitWords } from './words.js';

function words(line: string): string[] {
  const r = splitWords(line);
  assert.ok(r.ok, `expected "${line}" to split`);
  return r.words;
}

describe('splitWords', () => {
  it('splits on blanks and keeps quoted blanks', () => {
    assert.deepEqual(words('  -m   http.server 8080 '), ['-m', 'http.server', '8080']);
    assert.deepEqual(words(`--name 'a b' "c d" e\\ f`), ['--name', 'a b', 'c d', 'e f']);
  });

  it('joins quoted parts into one word and keeps empty quoted words', () => {
    assert.deepEqual(words(`--x='1 2'"3" '' ""`), ['--x=1 23', '', '']);
  });

  it('expands nothing: $VAR, globs and ~ stay as written', () => {
    assert.deepEqual(words(`$HOME * ~ "\\$X" '\\n'`), ['$HOME', '*', '~', '$X', '\\n']);
  });

  it('refuses an unterminated quote or a trailing backslash', () => {
    assert.deepEqual(splitWords(`a 'b`), { ok: false, error: "unterminated ' quote at character 3" });
    assert.equal(splitWords('a "b').ok, false);
    assert.equal(splitWords('a \\').ok, false);
  });
});
