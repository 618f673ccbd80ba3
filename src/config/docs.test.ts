// The examples in docs/config.md are real: the config example passes `haven check`, and the
// status example fits it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatConfigErrors, parseConfig } from './load.js';
import { parseStatus } from './status.js';

const DOC = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');
const BLOCKS = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

describe('docs/config.md', () => {
  it('has a config example and a status example', () => {
    assert.equal(BLOCKS.filter((b) => b.startsWith('cluster:')).length, 1);
    assert.equal(BLOCKS.filter((b) => b.startsWith('time:')).length, 1);
  });

  it('shows a config that passes, and a status that fits it', () => {
    const config = parseConfig(BLOCKS.find((b) => b.startsWith('cluster:')) ?? '', 'docs/config.md');
    assert.equal(config.ok, true, config.ok ? '' : formatConfigErrors(config.errors));
    if (!config.ok) return;
    const status = parseStatus(BLOCKS.find((b) => b.startsWith('time:')) ?? '', 'docs/config.md', config.config);
    assert.equal(status.ok, true, status.ok ? '' : formatConfigErrors(status.errors));
  });
});
