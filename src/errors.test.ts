// The error table: every code has an exit code and an HTTP status, the classes carry them, and
// docs/errors.md catalogues every code.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigInvalidError, ERROR_CODES, fileError, HavenError, NotFoundError, UsageError, type ErrorCode } from './errors.js';

describe('ERROR_CODES', () => {
  it('keeps the CLI conventions: 1 refused, 2 usage, 0 never', () => {
    assert.equal(ERROR_CODES.CONFIG_INVALID.exitCode, 1);
    assert.equal(ERROR_CODES.STATUS_INVALID.exitCode, 1);
    assert.equal(ERROR_CODES.USAGE.exitCode, 2);
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      assert.ok(entry.exitCode > 0, `${code} must not exit 0`);
      assert.ok(entry.httpStatus >= 400 && entry.httpStatus < 600, `${code} needs an error HTTP status`);
    }
  });

  it('is catalogued in docs/errors.md, every code', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\``));
      assert.ok(row !== undefined, `docs/errors.md has no row for ${code}`);
      assert.ok(row.includes(`| ${ERROR_CODES[code].exitCode} |`), `docs/errors.md: wrong exit code for ${code}`);
      assert.ok(row.includes(`| ${ERROR_CODES[code].httpStatus} |`), `docs/errors.md: wrong HTTP status for ${code}`);
    }
  });
});

describe('HavenError', () => {
  it('takes its exit code and HTTP status from the table', () => {
    const e = new UsageError('bad flag', { hint: 'try --help' });
    assert.ok(e instanceof HavenError);
    assert.equal(e.code, 'USAGE');
    assert.equal(e.exitCode, 2);
    assert.equal(e.httpStatus, 400);
    assert.equal(e.hint, 'try --help');
    assert.equal(new NotFoundError('x').exitCode, ERROR_CODES.NOT_FOUND.exitCode);
  });

  it('counts the errors of a refused config in its message', () => {
    const e = new ConfigInvalidError('c.yaml', [{ file: 'c.yaml', line: 1, column: 1, path: [], message: 'm' }]);
    assert.equal(e.message, 'c.yaml: configuration refused (1 error)');
    assert.equal(e.errors.length, 1);
  });
});

describe('fileError', () => {
  it('maps a missing file to NOT_FOUND and other failures to IO', () => {
    assert.equal(fileError('a', Object.assign(new Error('x'), { code: 'ENOENT' })).code, 'NOT_FOUND');
    assert.equal(fileError('a', Object.assign(new Error('x'), { code: 'EISDIR' })).message, 'a: is a directory, not a file');
    assert.equal(fileError('a', Object.assign(new Error('x'), { code: 'EACCES' })).code, 'IO');
  });
});
