// The scheduler's golden regression corpus, after Pacemaker's cts/scheduler: every directory under
// test/scheduler/cases holds a config, a status and the expected plan summary. Each case is its
// own test: the plan must match expected.txt and keep the invariants every plan keeps (a DAG of
// known actions, the same plan for the same input, nothing left to do once it has run).
//
// HAVEN_REGENERATE=1 rewrites expected.txt from the scheduler's output instead of comparing; a
// person reads every regenerated expectation before it is committed (see README.md).

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

import { formatConfigErrors, parseConfig } from '../../src/config/load.js';
import { parseStatus } from '../../src/config/status.js';
import type { Config } from '../../src/model/config.js';
import type { Plan } from '../../src/model/plan.js';
import type { Status } from '../../src/model/status.js';
import { plan } from '../../src/scheduler/index.js';
import { applyPlan } from '../../src/scheduler/simulate.js';
import { summarizePlan } from './summary.js';

/** The source tree's cases, found from dist/test/scheduler/ as from test/scheduler/. */
const CASES_DIR = fileURLToPath(new URL('../../../test/scheduler/cases', import.meta.url));
/** `now` when neither case.yaml nor the status says: 2026-01-01T00:00:00Z. */
export const DEFAULT_NOW = Date.UTC(2026, 0, 1);
/** How many plans a case that does not converge in one may take before it must have nothing left to do. */
const MAX_ROUNDS = 4;
const REGENERATE = process.env['HAVEN_REGENERATE'] === '1';

interface CaseMeta {
  readonly description: string;
  readonly now?: number | string;
  /** false: planning again after the plan has run still finds work (the reason says why). */
  readonly converges?: boolean;
  readonly reason?: string;
}

interface Case {
  readonly name: string;
  readonly dir: string;
  readonly meta: CaseMeta;
  readonly config: Config;
  readonly status: Status;
  readonly now: number;
}

function loadCase(name: string): Case {
  const dir = join(CASES_DIR, name);
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  const parsedConfig = parseConfig(read('config.yaml'), `${name}/config.yaml`);
  if (!parsedConfig.ok) assert.fail(`config does not load:\n${formatConfigErrors(parsedConfig.errors)}`);
  const parsedStatus = parseStatus(read('status.yaml'), `${name}/status.yaml`, parsedConfig.config);
  if (!parsedStatus.ok) assert.fail(`status does not load:\n${formatConfigErrors(parsedStatus.errors)}`);
  const meta = (existsSync(join(dir, 'case.yaml')) ? parseYaml(read('case.yaml')) : {}) as Partial<CaseMeta> | null;
  assert.ok(meta && typeof meta.description === 'string' && meta.description.trim() !== '', 'case.yaml must have a description');
  for (const key of Object.keys(meta)) assert.ok(['description', 'now', 'converges', 'reason'].includes(key), `case.yaml: unknown key ${key}`);
  if (meta.converges === false) assert.ok(typeof meta.reason === 'string' && meta.reason.trim() !== '', 'case.yaml: converges: false needs a reason');
  const now = meta.now === undefined ? (parsedStatus.status.time ?? DEFAULT_NOW) : typeof meta.now === 'number' ? meta.now : Date.parse(meta.now);
  assert.ok(Number.isFinite(now), `case.yaml: now "${String(meta.now)}" is not a time`);
  return { name, dir, meta: meta as CaseMeta, config: parsedConfig.config, status: parsedStatus.status, now };
}

/** The edges form a DAG over the plan's own actions, whose ids are unique. */
function assertDag(p: Plan, label: string): void {
  const ids = new Set<string>();
  for (const a of p.actions) {
    assert.ok(!ids.has(a.id), `${label}: action id "${a.id}" appears twice`);
    ids.add(a.id);
  }
  const after = new Map<string, string[]>();
  for (const [before, then] of p.edges) {
    assert.ok(ids.has(before), `${label}: edge ${before} -> ${then} starts at an unknown action`);
    assert.ok(ids.has(then), `${label}: edge ${before} -> ${then} ends at an unknown action`);
    assert.notEqual(before, then, `${label}: edge from ${before} to itself`);
    const list = after.get(before);
    if (list) list.push(then);
    else after.set(before, [then]);
  }
  // Depth-first search; a grey node met again closes a cycle.
  const state = new Map<string, 'grey' | 'black'>();
  const path: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 'grey');
    path.push(id);
    for (const next of after.get(id) ?? []) {
      const s = state.get(next);
      if (s === 'grey') assert.fail(`${label}: the edges have a cycle: ${[...path.slice(path.indexOf(next)), next].join(' -> ')}`);
      if (s === undefined) visit(next);
    }
    path.pop();
    state.set(id, 'black');
  };
  for (const id of ids) if (!state.has(id)) visit(id);
}

/** The whole expectation of a case: its header, the plan, and (when it does not converge in one) what follows. */
function expectationOf(c: Case): string {
  const first = plan(c.config, c.status, c.now);
  assertDag(first, 'plan');
  const again = plan(c.config, c.status, c.now);
  assert.equal(JSON.stringify(again), JSON.stringify(first), 'planning the same input twice gave different plans');

  const lines = [`# ${c.name}: ${c.meta.description.trim()}`, `now: ${new Date(c.now).toISOString()}`, '', ...summarizePlan(first)];

  // Run the plan (every action succeeds) and plan again: nothing may be left to do.
  let status = c.status;
  let previous = first;
  for (let round = 2; ; round++) {
    status = applyPlan(status, previous);
    const next = plan(c.config, status, c.now);
    assertDag(next, `plan ${round}`);
    if (next.actions.length === 0) break;
    const ids = (p: Plan) => JSON.stringify(p.actions.map((a) => a.id).sort());
    if (c.meta.converges !== false) {
      assert.fail(
        `after the plan has run, planning again still finds work (say converges: false with a reason in case.yaml if that is right):\n${summarizePlan(next).join('\n')}`,
      );
    }
    assert.notEqual(ids(next), ids(previous), `plan ${round} repeats the actions of plan ${round - 1}: it would repeat forever`);
    assert.ok(round <= MAX_ROUNDS, `still not converged after ${MAX_ROUNDS} plans`);
    lines.push('', `## plan ${round}, after plan ${round - 1} has run`, ...summarizePlan(next));
    previous = next;
  }
  if (c.meta.converges === false && previous === first) {
    assert.fail('case.yaml says converges: false, but planning again after the plan has run finds nothing to do');
  }
  return `${lines.join('\n')}\n`;
}

const names = readdirSync(CASES_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('scheduler corpus', () => {
  test('has cases', () => {
    assert.ok(names.length > 0, `no cases under ${CASES_DIR}`);
  });
  for (const name of names) {
    test(name, () => {
      const c = loadCase(name);
      const actual = expectationOf(c);
      const file = join(c.dir, 'expected.txt');
      if (REGENERATE) {
        writeFileSync(file, actual);
        return;
      }
      assert.ok(existsSync(file), `${name}/expected.txt is missing; run with HAVEN_REGENERATE=1 and read what it wrote`);
      assert.equal(actual, readFileSync(file, 'utf8'), `${name}: the plan differs from expected.txt`);
    });
  }
});
