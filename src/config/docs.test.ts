// The examples in docs/config.md are real: the config example passes `haven check`, and the
// status example fits it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { configSchema } from '../model/config.js';
import { statusSchema } from '../model/status.js';
import { formatConfigErrors, parseConfig } from './load.js';
import { parseStatus } from './status.js';

const DOC = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');
/** Every key of every object in a schema, however deeply nested in unions, lists and records. */
function keysOf(schema: z.ZodType, out = new Set<string>(), seen = new Set<unknown>()): Set<string> {
  if (seen.has(schema)) return out;
  seen.add(schema);
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  const children: unknown[] = [];
  if (def['shape'] !== undefined) {
    for (const [k, v] of Object.entries(def['shape'] as Record<string, unknown>)) {
      out.add(k);
      children.push(v);
    }
  }
  for (const key of ['element', 'innerType', 'in', 'out', 'valueType']) if (def[key] !== undefined) children.push(def[key]);
  if (Array.isArray(def['options'])) children.push(...(def['options'] as unknown[]));
  for (const c of children) keysOf(c as z.ZodType, out, seen);
  return out;
}

const BLOCKS = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

describe('docs/config.md', () => {
  it('has a config example and a status example', () => {
    assert.equal(BLOCKS.filter((b) => b.startsWith('cluster:')).length, 1);
    assert.equal(BLOCKS.filter((b) => b.startsWith('time:')).length, 1);
  });

  it('documents every field of the config and status schemas in a table', () => {
    const documented = new Set([...DOC.matchAll(/^\| `([A-Za-z]+)`/gm)].map((m) => m[1] as string));
    for (const key of [...keysOf(configSchema), ...keysOf(statusSchema)]) {
      assert.ok(documented.has(key), `docs/config.md has no table row for "${key}"`);
    }
  });

  it('shows a config that passes, and a status that fits it', () => {
    const config = parseConfig(BLOCKS.find((b) => b.startsWith('cluster:')) ?? '', 'docs/config.md');
    assert.equal(config.ok, true, config.ok ? '' : formatConfigErrors(config.errors));
    if (!config.ok) return;
    const status = parseStatus(BLOCKS.find((b) => b.startsWith('time:')) ?? '', 'docs/config.md', config.config);
    assert.equal(status.ok, true, status.ok ? '' : formatConfigErrors(status.errors));
  });
});
