// Property tests of the scheduler: for random but valid clusters (arbitrary.test-support.ts),
// the invariants every plan must keep — safety (one active copy, no start on a node that may not
// host, fencing first, bans), ordering (order constraints, an acyclic DAG), purity (the same
// bytes out) and convergence (after the plan, nothing is left to do).
//
// What "left as it is" means (the exceptions of several properties) is worked out from the
// status alone in facts.test-support.ts: copies on a node in maintenance or in a cluster in
// maintenance, of an unmanaged primitive, failed with on-fail block, on an unclean node that this
// plan does not fence or on a node whose fence is under way, and group members before such a copy.
//
// The seed is fixed so a run is reproducible; HAVEN_PROPERTY_SEED and HAVEN_PROPERTY_RUNS
// override it and the number of runs per property, HAVEN_PROPERTY_PATH replays one counterexample
// (with its seed; pick the property with --test-name-pattern). A failure prints the shrunk
// counterexample as config and status YAML; with HAVEN_PROPERTY_REPORT=<dir> it is also written there.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULTS } from '../model/config.js';
import type { Action, Plan } from '../model/plan.js';
import type { Status } from '../model/status.js';
import { INFINITY } from '../model/units.js';
import { generationStats, scenarioArb, scenarioYaml, type Scenario } from './arbitrary.test-support.js';
import { ACTIVE_STATES, baseOf, copyId, Dag, factsOf, type Facts } from './facts.test-support.js';
import { plan } from './index.js';
import { applyPlan } from './simulate.js';

function intFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new Error(`${name}=${text} is not an integer`);
  return n;
}

const SEED = intFromEnv('HAVEN_PROPERTY_SEED', 20261124);
const RUNS = intFromEnv('HAVEN_PROPERTY_RUNS', 1000);
const PATH = process.env['HAVEN_PROPERTY_PATH'];
const REPORT = process.env['HAVEN_PROPERTY_REPORT'];

/** A scenario with its plan, the status after it, and the facts of the status. */
interface Planned {
  readonly s: Scenario;
  readonly facts: Facts;
  readonly plan: Plan;
  readonly dag: Dag;
  readonly after: Status;
}

function planned(s: Scenario): Planned {
  const p = plan(s.config, s.status, s.now);
  return { s, facts: factsOf(s.config, s.status, s.now), plan: p, dag: new Dag(p), after: applyPlan(s.status, p) };
}

class Violation extends Error {}

function violated(message: string): never {
  throw new Violation(message);
}

function summary(p: Plan): string {
  const edges = p.edges.map(([a, b]) => `  ${a} → ${b}`);
  return [...p.actions.map((a) => `  ${a.id}${a.implied ? ' (implied)' : ''}: ${a.reason}`), ...(edges.length ? ['  edges:', ...edges] : [])].join('\n');
}

function property(name: string, check: (x: Planned) => void, runs = RUNS): void {
  test(name, () => {
    const details = fc.check(
      fc.property(scenarioArb(), (s) => {
        check(planned(s));
      }),
      { seed: SEED, numRuns: runs, ...(PATH ? { path: PATH } : {}) },
    );
    if (!details.failed) return;
    const s = details.counterexample?.[0];
    const err = details.errorInstance;
    const what = err instanceof Error ? err.message : String(err);
    const text = [
      `property "${name}" failed (seed ${details.seed}, path ${details.counterexamplePath ?? '?'}, ${details.numShrinks} shrinks)`,
      `what is wrong: ${what}`,
      ...(s ? [scenarioYaml(s), '# --- plan', summary(plan(s.config, s.status, s.now))] : []),
    ].join('\n');
    if (REPORT) {
      mkdirSync(REPORT, { recursive: true });
      writeFileSync(join(REPORT, `${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.yaml`), `${text}\n`);
    }
    if (!(err instanceof Violation)) assert.fail(`${text}\n${err instanceof Error ? err.stack : ''}`);
    assert.fail(text);
  });
}

const isStartLike = (a: Action): boolean => a.kind === 'start' || a.kind === 'promote';
const activeAfter = (after: Status, key: string, node: string): boolean => {
  const c = after.resources?.[key]?.[node];
  return c !== undefined && ACTIVE_STATES.has(c.state);
};
const onlineAfter = (after: Status, node: string): boolean => after.nodes[node]?.state === 'online';

/** Status keys of a primitive (its id and `id:k` clone slots) in a status. */
function keysOf(status: Status, prim: string): string[] {
  return Object.keys(status.resources ?? {}).filter((k) => baseOf(k) === prim);
}

// a. -------------------------------------------------------------------------------------------
property('a. a primitive that is not a clone is active on at most one online node after the plan', ({ facts, after }) => {
  for (const top of facts.tops.values()) {
    if (top.isClone) continue;
    for (const p of top.prims) {
      const frozen = Object.keys(facts.status.resources?.[p.id] ?? {}).filter((n) => facts.frozen.has(copyId(p.id, n)));
      const active = Object.keys(after.resources?.[p.id] ?? {}).filter((n) => onlineAfter(after, n) && activeAfter(after, p.id, n));
      if (frozen.length > 0) {
        // Copies the plan cannot touch stay; nothing may join them.
        const extra = active.filter((n) => !frozen.includes(n));
        if (extra.length) {
          violated(
            `${p.id} is active on ${active.join(', ')} after the plan; only its copies left as they are (${frozen
              .map((n) => `${n}: ${facts.frozen.get(copyId(p.id, n))}`)
              .join('; ')}) may be active`,
          );
        }
      } else if (active.length > 1) {
        violated(`${p.id} is active on ${active.length} online nodes after the plan: ${active.join(', ')}`);
      }
    }
  }
});

// b. -------------------------------------------------------------------------------------------
property('b. nothing starts or is promoted on a node that may not host resources', ({ facts, plan: p }) => {
  const fenced = new Set(p.actions.filter((a) => a.kind === 'fence').map((a) => a.node));
  for (const a of p.actions) {
    if (!isStartLike(a)) continue;
    const why = facts.cannotHost(a.node!) ?? (fenced.has(a.node) ? `${a.node} is fenced in this plan` : undefined);
    if (why !== undefined) violated(`${a.id}: ${why}`);
  }
});

// c. -------------------------------------------------------------------------------------------
property('c. a start that requires fencing comes after every fence of the plan, and waits for unclean nodes not fenced now', ({ facts, plan: p, dag }) => {
  const fences = p.actions.filter((a) => a.kind === 'fence');
  // Unclean nodes this plan does not fence (a fence under way, no quorum, maintenance): what ran
  // there may still run, so nothing that requires fencing may start anywhere.
  const waiting = [...facts.nodes.values()]
    .filter((n) => (n.state === 'unclean' || (n.state === 'online' && n.fencing)) && !facts.fenceSet.has(n.name))
    .map((n) => n.name);
  for (const a of p.actions) {
    if (a.kind !== 'start') continue;
    const prim = facts.prims.get(baseOf(a.resource!));
    if (!prim) continue;
    if (prim.policy.requires !== 'fencing') continue;
    if (waiting.length) violated(`${a.id} requires fencing, but ${waiting.join(', ')} (unclean, or being fenced) is not fenced in this plan`);
    // Every fence, and so also the fence that stops (by implication) what ran on its node.
    const before = dag.ancestors(a.id);
    for (const f of fences) {
      if (before.has(f.id)) continue;
      const was = facts.status.resources?.[a.resource!]?.[f.node!]?.state;
      violated(`${a.id} requires fencing but may run before ${f.id}${was !== undefined && was !== 'stopped' ? ` (it was ${was} there)` : ''}`);
    }
  }
});

// d. -------------------------------------------------------------------------------------------
const INVERSE = { start: 'stop', stop: 'start', promote: 'demote', demote: 'promote' } as const;
type ResourceAction = keyof typeof INVERSE;

property('d. order constraints hold in the DAG', ({ facts, plan: p, dag }) => {
  const ofTop = (top: string, kind: ResourceAction): Action[] => {
    const prims = new Set(facts.tops.get(top)?.prims.map((x) => x.id) ?? []);
    return p.actions.filter((a) => a.kind === kind && a.resource !== undefined && prims.has(baseOf(a.resource)));
  };
  for (const o of facts.config.constraints ?? []) {
    if (o.type !== 'order' || o.kind === 'serialize') continue;
    const first = facts.tops.get(o.first)!;
    const then = facts.tops.get(o.then)!;
    const interleaved = first.isClone && then.isClone && then.interleave;
    const fa: ResourceAction = o.firstAction ?? 'start';
    const ta: ResourceAction = o.thenAction ?? fa;
    const need = (fromTop: string, a: ResourceAction, toTop: string, b: ResourceAction, how: string): void => {
      const before = ofTop(fromTop, a);
      if (before.length === 0) return;
      for (const y of ofTop(toTop, b)) {
        const anc = dag.ancestors(y.id);
        for (const x of before) {
          if (interleaved && x.node !== y.node) continue;
          if (!anc.has(x.id)) violated(`order ${o.id} (${how}): ${y.id} may run before ${x.id}`);
        }
      }
    };
    need(o.first, fa, o.then, ta, `${o.first} ${fa} then ${o.then} ${ta}${interleaved ? ', interleaved' : ''}`);
    // Symmetrical by default when both actions go the same way (docs/config.md: a mixed order
    // such as "start A, then stop B" is not, its inverse would loop with any move of the two).
    const forward = (a: ResourceAction) => a === 'start' || a === 'promote';
    if (o.symmetrical ?? forward(fa) === forward(ta)) need(o.then, INVERSE[ta], o.first, INVERSE[fa], `reverse: ${o.then} ${INVERSE[ta]} then ${o.first} ${INVERSE[fa]}`);
  }
});

// e. -------------------------------------------------------------------------------------------
property('e. the plan is a well-formed DAG: unique ids, known ends, no cycle, a reason and the configured timeout everywhere', ({ facts, plan: p, dag }) => {
  const ids = new Set<string>();
  const defaultTimeout = facts.config.cluster.defaults?.operationTimeout ?? DEFAULTS.operationTimeout;
  for (const a of p.actions) {
    if (ids.has(a.id)) violated(`duplicate action id ${a.id}`);
    ids.add(a.id);
    if (typeof a.reason !== 'string' || a.reason.trim() === '') violated(`${a.id} has no reason`);
    if (['start', 'stop', 'promote', 'demote', 'monitor-start', 'monitor-stop'].includes(a.kind) && (a.resource === undefined || a.node === undefined)) {
      violated(`${a.id} (${a.kind}) names no resource or node`);
    }
    // What the executor waits for: the operation's own timeout, or the cluster default.
    const prim = a.resource === undefined ? undefined : facts.prims.get(baseOf(a.resource));
    if (prim && !a.implied && (a.kind === 'start' || a.kind === 'stop' || a.kind === 'promote' || a.kind === 'demote')) {
      const want = prim.operations.find((o) => o.name === a.kind)?.timeout ?? defaultTimeout;
      if (a.timeout !== want) violated(`${a.id} has timeout ${String(a.timeout)}, but ${prim.id}'s ${a.kind} timeout is ${want}`);
    }
    if (prim && a.kind === 'monitor-start') {
      const op = prim.operations.find((o) => o.name === 'monitor' && o.interval === a.interval);
      if (!op) violated(`${a.id} starts a monitor every ${String(a.interval)} ms, which ${prim.id} does not configure`);
      if (a.timeout !== (op.timeout ?? defaultTimeout)) violated(`${a.id} has timeout ${String(a.timeout)}, but the monitor's is ${op.timeout ?? defaultTimeout}`);
    }
    if (a.implied && a.kind !== 'stop') violated(`${a.id} is implied, but only stops are implied (by a fence)`);
  }
  for (const [b, a] of p.edges) {
    if (!ids.has(b) || !ids.has(a)) violated(`edge ${b} → ${a} names an action not in the plan`);
    if (b === a) violated(`edge ${b} → ${a} is a loop`);
  }
  const cycle = dag.findCycle();
  if (cycle) violated(`cycle: ${cycle.join(' → ')}`);
  for (const t of p.transitions) if (t.reason.trim() === '') violated(`transition ${t.kind} ${t.subject} has no reason`);
});

// f. -------------------------------------------------------------------------------------------
property('f. planning is deterministic and leaves its inputs alone', ({ s, plan: p }) => {
  const once = JSON.stringify(p);
  const configBefore = JSON.stringify(s.config);
  const statusBefore = JSON.stringify(s.status);
  if (JSON.stringify(plan(s.config, s.status, s.now)) !== once) violated('planning twice gave two different plans');
  if (JSON.stringify(plan(structuredClone(s.config), structuredClone(s.status), s.now)) !== once) violated('planning a copy of the inputs gave a different plan');
  if (JSON.stringify(s.config) !== configBefore) violated('planning changed the config');
  if (JSON.stringify(s.status) !== statusBefore) violated('planning changed the status');
});

// g. -------------------------------------------------------------------------------------------
property('g. after the plan succeeds, planning again finds nothing to do', ({ s, after }) => {
  const next = plan(s.config, after, s.now);
  if (next.actions.length > 0) violated(`the next plan still has ${next.actions.length} action(s):\n${summary(next)}`);
});

// h. -------------------------------------------------------------------------------------------
property('h. clones keep maxCopies, maxPerNode and promotedMax after the plan', ({ facts, after }) => {
  for (const top of facts.tops.values()) {
    if (!top.isClone) continue;
    for (const p of top.prims) {
      let frozenCopies = 0;
      let frozenPromoted = 0;
      const frozenOn = new Map<string, number>();
      for (const key of keysOf(facts.status, p.id)) {
        for (const [n, c] of Object.entries(facts.status.resources![key]!)) {
          if (!facts.frozen.has(copyId(key, n))) continue;
          frozenCopies++;
          frozenOn.set(n, (frozenOn.get(n) ?? 0) + 1);
          if (c.state === 'promoted') frozenPromoted++;
        }
      }
      let copies = 0;
      let promoted = 0;
      const on = new Map<string, number>();
      const promotedOn = new Map<string, number>();
      for (const key of keysOf(after, p.id)) {
        for (const [n, c] of Object.entries(after.resources![key]!)) {
          if (!onlineAfter(after, n) || !ACTIVE_STATES.has(c.state) || facts.frozen.has(copyId(key, n))) continue;
          copies++;
          on.set(n, (on.get(n) ?? 0) + 1);
          if (c.state === 'promoted') {
            promoted++;
            promotedOn.set(n, (promotedOn.get(n) ?? 0) + 1);
          }
        }
      }
      const where = (m: Map<string, number>) => [...m].map(([n, k]) => `${n}×${k}`).join(', ');
      if (top.maxCopies !== undefined && copies > Math.max(0, top.maxCopies - frozenCopies)) {
        violated(`${p.id}: ${copies} copies (${where(on)}) besides ${frozenCopies} left as they are; maxCopies is ${top.maxCopies}`);
      }
      for (const [n, k] of on) {
        const fixed = frozenOn.get(n) ?? 0;
        if (k > Math.max(0, top.maxPerNode - fixed)) violated(`${p.id}: ${k} copies on ${n} besides ${fixed} left as they are; maxPerNode is ${top.maxPerNode}`);
      }
      if (top.promotable) {
        if (promoted > Math.max(0, top.promotedMax - frozenPromoted)) {
          violated(`${p.id}: ${promoted} promoted copies (${where(promotedOn)}) besides ${frozenPromoted} left as they are; promotedMax is ${top.promotedMax}`);
        }
        for (const [n, k] of promotedOn) if (k > top.promotedMaxPerNode) violated(`${p.id}: ${k} promoted copies on ${n}; promotedMaxPerNode is ${top.promotedMaxPerNode}`);
      }
    }
  }
});

// i. -------------------------------------------------------------------------------------------
property('i. nothing is placed on a node its -INFINITY locations or its failures ban', ({ facts, plan: p, after }) => {
  for (const a of p.actions) {
    if (!isStartLike(a)) continue;
    const prim = facts.prims.get(baseOf(a.resource!));
    if (!prim) continue;
    const why = facts.bannedByLocation(prim.top.id, a.node!, false) ?? facts.bannedByFailures(prim.top.id, a.node!) ?? (a.kind === 'promote' ? facts.bannedByLocation(prim.top.id, a.node!, true) : undefined);
    if (why) violated(`${a.id}, but ${why} bans ${prim.top.id} from ${a.node}`);
  }
  for (const [key, perNode] of Object.entries(after.resources ?? {})) {
    const prim = facts.prims.get(baseOf(key));
    if (!prim) continue;
    for (const [n, c] of Object.entries(perNode)) {
      if (!onlineAfter(after, n) || !ACTIVE_STATES.has(c.state) || facts.frozen.has(copyId(key, n))) continue;
      const why = facts.bannedByLocation(prim.top.id, n, false) ?? facts.bannedByFailures(prim.top.id, n) ?? (c.state === 'promoted' ? facts.bannedByLocation(prim.top.id, n, true) : undefined);
      if (why) violated(`${key} is ${c.state} on ${n} after the plan, but ${why} bans ${prim.top.id} from there`);
    }
  }
});

// j. -------------------------------------------------------------------------------------------
property('j. copies the plan cannot touch and unmanaged resources are left alone; a cluster in maintenance only observes', ({ facts, plan: p }) => {
  for (const a of p.actions) {
    if (facts.clusterMaintenance && a.kind !== 'probe' && a.kind !== 'clear-failures') violated(`${a.id} in a cluster in maintenance`);
    if (a.resource === undefined || a.node === undefined || a.kind === 'clear-failures') continue;
    const why = facts.frozen.get(copyId(a.resource, a.node));
    if (why !== undefined) violated(`${a.id}, but the copy must be left as it is: ${why}`);
    // Unmanaged: Haven observes (probes) but never starts, stops or watches it.
    const prim = facts.prims.get(baseOf(a.resource));
    if (prim && !prim.policy.managed && a.kind !== 'probe') violated(`${a.id}, but ${prim.id} is unmanaged`);
  }
});

// k. -------------------------------------------------------------------------------------------
/**
 * Whether `x` waits for the end of what a copy recorded on `node` does: the node's fence, or one
 * of `kinds` of the copy (its stop, implied or not; its probe; its demote for a primary).
 */
function endsBefore(dag: Dag, x: string, key: string, node: string, kinds: readonly string[]): boolean {
  for (const id of dag.ancestors(x)) {
    const a = dag.byId.get(id);
    if (!a) continue;
    if (a.kind === 'fence' && a.node === node) return true;
    if (kinds.includes(a.kind) && a.resource === key && a.node === node) return true;
  }
  return false;
}

property('k. while the plan runs, a primitive that is not a clone never runs in two places', ({ facts, plan: p, dag }) => {
  for (const top of facts.tops.values()) {
    if (top.isClone) continue;
    for (const prim of top.prims) {
      const starts = p.actions.filter((a) => a.kind === 'start' && a.resource === prim.id);
      if (starts.length > 1) violated(`${prim.id} starts ${starts.length} times: ${starts.map((a) => a.id).join(', ')}`);
      const x = starts[0];
      if (!x) continue;
      for (const [node, c] of Object.entries(facts.status.resources?.[prim.id] ?? {})) {
        const n = facts.nodes.get(node);
        if (!n || !(ACTIVE_STATES.has(c.state) || c.state === 'unknown')) continue;
        // Copies on unclean nodes count only for resources that require fencing (requires quorum
        // or nothing: recovered without waiting for the fence, by design; see B2 in the bugs file).
        if (n.state === 'offline' || n.state === 'fenced' || (n.state === 'unclean' && prim.policy.requires !== 'fencing')) continue;
        if (!endsBefore(dag, x.id, prim.id, node, ['stop', 'probe'])) violated(`${x.id} may run while the copy ${c.state} on ${node} still runs (no stop, probe or fence of it before)`);
      }
    }
  }
});

// l. -------------------------------------------------------------------------------------------
property('l. while the plan runs, a promotable never has more than promotedMax primaries', ({ facts, plan: p, dag }) => {
  for (const top of facts.tops.values()) {
    if (!top.promotable) continue;
    const prim = top.prims[0]!;
    const promotes = p.actions.filter((a) => a.kind === 'promote' && a.resource !== undefined && baseOf(a.resource) === prim.id);
    const primaries: Array<{ key: string; node: string }> = [];
    for (const key of keysOf(facts.status, prim.id)) {
      for (const [node, c] of Object.entries(facts.status.resources![key]!)) {
        const n = facts.nodes.get(node);
        // With fencing off an unclean node is taken as down (situation.ts): its primary is gone.
        if (c.state === 'promoted' && n && (n.state === 'online' || (n.state === 'unclean' && facts.fencingOn))) primaries.push({ key, node });
      }
    }
    for (const x of promotes) {
      const still = primaries.filter((c) => !endsBefore(dag, x.id, c.key, c.node, ['demote', 'stop']));
      const concurrent = promotes.filter((y) => y !== x && !dag.ancestors(y.id).has(x.id));
      const total = still.length + concurrent.length + 1;
      if (total > top.promotedMax) {
        violated(
          `${x.id} may run while ${[...still.map((c) => `${c.key}@${c.node} (promoted)`), ...concurrent.map((y) => y.id)].join(', ')} ${total - 1 > 1 ? 'are' : 'is'} also primary: ${total} > promotedMax ${top.promotedMax}`,
        );
      }
    }
  }
});

// m. -------------------------------------------------------------------------------------------
property('m. commands go only to nodes that can run them; implied stops only on nodes fenced in the plan', ({ facts, plan: p }) => {
  const fenced = new Set(p.actions.filter((a) => a.kind === 'fence').map((a) => a.node));
  for (const a of p.actions) {
    if (a.kind === 'fence' || a.kind === 'clear-failures' || a.kind === 'pseudo' || a.node === undefined) continue;
    if (a.implied) {
      if (a.kind !== 'stop' || !fenced.has(a.node)) violated(`${a.id} is implied, but ${a.node} is not fenced in this plan`);
      continue;
    }
    const n = facts.nodes.get(a.node);
    if (!n) violated(`${a.id} names node ${a.node}, which is not configured`);
    if (n.state !== 'online') violated(`${a.id} is sent to ${a.node}, which is ${n.state}`);
    if (fenced.has(a.node) && a.kind !== 'probe') violated(`${a.id} is sent to ${a.node}, which this plan fences`);
  }
});

// n. -------------------------------------------------------------------------------------------
property('n. ±INFINITY colocations hold after the plan', ({ facts, after }) => {
  /** Nodes (online after the plan) where a copy of the resource in the role is active, and whether each is left as it is. */
  const where = (top: string, role: string | undefined) => {
    const out = new Map<string, boolean>();
    for (const p of facts.tops.get(top)?.prims ?? []) {
      for (const key of keysOf(after, p.id)) {
        for (const [n, c] of Object.entries(after.resources![key]!)) {
          if (!onlineAfter(after, n) || !ACTIVE_STATES.has(c.state)) continue;
          if (role === 'promoted' && c.state !== 'promoted') continue;
          if (role === 'unpromoted' && c.state === 'promoted') continue;
          const frozen = facts.frozen.has(copyId(key, n));
          out.set(n, (out.get(n) ?? false) || frozen);
        }
      }
    }
    return out;
  };
  for (const c of facts.config.constraints ?? []) {
    if (c.type !== 'colocation' || Math.abs(c.score) < INFINITY) continue;
    const dependent = where(c.resource, c.role);
    const primary = where(c.with, c.withRole);
    for (const [n, frozen] of dependent) {
      if (frozen) continue;
      const what = `${c.resource}${c.role ? ` (${c.role})` : ''}`;
      const withWhat = `${c.with}${c.withRole ? ` (${c.withRole})` : ''}`;
      if (c.score >= INFINITY && !primary.has(n)) violated(`colocation ${c.id}: ${what} is active on ${n} after the plan, where ${withWhat} is not`);
      if (c.score <= -INFINITY && primary.has(n)) violated(`colocation ${c.id} (-INFINITY): ${what} is active on ${n} after the plan, with ${withWhat}`);
    }
  }
});

test('the generator produces valid scenarios, rarely rejects, and covers the interesting cases', () => {
  const samples = fc.sample(scenarioArb(), { seed: SEED, numRuns: 400 });
  const cases: Record<string, (s: Scenario, p: Plan, facts: Facts) => boolean> = {
    'a clone': (s) => (s.config.resources ?? []).some((r) => r.type === 'clone'),
    'a clone of a group': (s) => (s.config.resources ?? []).some((r) => r.type === 'clone' && r.of.type === 'group'),
    'a clone with maxPerNode > 1': (s) => (s.config.resources ?? []).some((r) => (r.type === 'clone' || r.type === 'promotable') && (r.maxPerNode ?? 1) > 1),
    'a promotable': (s) => (s.config.resources ?? []).some((r) => r.type === 'promotable'),
    'a group': (s) => (s.config.resources ?? []).some((r) => r.type === 'group'),
    'an unmanaged primitive': (_s, _p, f) => [...f.prims.values()].some((x) => !x.policy.managed),
    'an order': (s) => (s.config.constraints ?? []).some((c) => c.type === 'order'),
    'a colocation': (s) => (s.config.constraints ?? []).some((c) => c.type === 'colocation'),
    'a location rule': (s) => (s.config.constraints ?? []).some((c) => c.type === 'location' && c.rules !== undefined),
    'fencing off': (s) => s.config.cluster.fencing === false,
    'an asymmetric cluster': (s) => s.config.cluster.symmetric === false,
    'a cluster in maintenance': (s) => s.config.cluster.maintenance === true,
    'no quorum': (s) => s.status.quorum === false,
    'an unclean node': (s) => Object.values(s.status.nodes).some((n) => n.state === 'unclean'),
    'a fence under way': (s) => Object.values(s.status.nodes).some((n) => n.fencing === true),
    'an unprobed node': (s) => Object.values(s.status.nodes).some((n) => n.probed === false),
    'a non-clone active on two nodes': (_s, _p, f) =>
      [...f.prims.values()].some((x) => !x.top.isClone && Object.values(f.status.resources?.[x.id] ?? {}).filter((c) => ACTIVE_STATES.has(c.state)).length > 1),
    'a copy in an extra slot': (s) => Object.keys(s.status.resources ?? {}).some((k) => /:\d+$/.test(k)),
    'an orphan': (_s, _p, f) => Object.keys(f.status.resources ?? {}).some((k) => !f.prims.has(baseOf(k))),
    'failures': (s) => (s.status.failures ?? []).length > 0,
    'a fence in the plan': (_s, p) => p.actions.some((a) => a.kind === 'fence'),
    'an implied stop in the plan': (_s, p) => p.actions.some((a) => a.implied === true),
    'a promote in the plan': (_s, p) => p.actions.some((a) => a.kind === 'promote'),
    'a demote in the plan': (_s, p) => p.actions.some((a) => a.kind === 'demote'),
    'a probe in the plan': (_s, p) => p.actions.some((a) => a.kind === 'probe'),
    'a clear-failures in the plan': (_s, p) => p.actions.some((a) => a.kind === 'clear-failures'),
    'an empty plan': (_s, p) => p.actions.length === 0,
  };
  const seen = new Map(Object.keys(cases).map((k) => [k, 0]));
  for (const s of samples) {
    const p = plan(s.config, s.status, s.now);
    const facts = factsOf(s.config, s.status, s.now);
    for (const [k, has] of Object.entries(cases)) if (has(s, p, facts)) seen.set(k, seen.get(k)! + 1);
  }
  const total = generationStats.built + generationStats.rejected;
  const rejectRate = total ? generationStats.rejected / total : 0;
  assert.ok(rejectRate < 0.2, `too many rejected scenarios: ${(rejectRate * 100).toFixed(1)}%: ${JSON.stringify([...generationStats.rejectReasons])}`);
  // Each case in at least 2% of the scenarios, so every property meets it a few times per run.
  for (const [k, n] of seen) assert.ok(n >= samples.length / 50, `only ${n} of ${samples.length} scenarios have ${k}`);
});
