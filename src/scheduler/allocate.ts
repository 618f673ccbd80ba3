// Placement: decides, resource by resource, where copies are to run and which are promoted.
//
// Scores are kept sparse: every node has the resource's base score (0, or -INFINITY in an
// asymmetric cluster) unless a constraint, stickiness or failure gives it an explicit one, so a
// 10,000-node cluster costs nothing per resource for the nodes nobody mentions. Among equally good
// nodes the current one wins (no needless moves), then the least loaded, then config order.

import type { Colocation, Expression, Location, Rule } from '../model/config.js';
import type { ScoreContribution } from '../model/plan.js';
import { formatScore, INFINITY } from '../model/units.js';
import { failCount, lastFailure, onFailOf, own, slotKey, type ClusterView, type NodeView, type TopView } from './cluster.js';
import { NodeHeap } from './heap.js';
import { addScores, allows } from './score.js';
import { isActive, type Situation } from './situation.js';

export interface CurrentCopy {
  /** Active slots on the node (0 for the usual one copy per node). */
  readonly slots: Set<number>;
  /** Active (member, slot) copies on the node: all members × slots when the copy is whole. */
  members: number;
  promoted: boolean;
  failed: boolean;
  /** Slots that must be left as they are (stuck on an unclean node, maintenance, blocked, unmanaged). */
  readonly fixed: Set<number>;
  fixedWhy: string | undefined;
}

export interface Target {
  readonly top: TopView;
  /** Copies to run after the plan: slot count by node index. */
  readonly copies: Map<number, number>;
  readonly promoted: Set<number>;
  /** Group members at this position and after do not run. */
  runMembers: number;
  decision: string;
  /** Wants to run (more copies) but cannot: why, for the summary. */
  blocked: string | undefined;
  /** The copies stay exactly as they are: no action is planned for them. */
  frozen: boolean;
  /** Copies may keep running or stop, but nothing starts (waiting for fencing, or frozen without quorum). */
  noStarts: boolean;
  /** Runs exactly as targeted with nothing unusual recorded: the graph has nothing to look at. */
  settled: boolean;
  readonly current: ReadonlyMap<number, CurrentCopy>;
  baseScore: number;
  scores: Map<number, number>;
  contributions: ScoreContribution[];
}

/** The target has a copy on node n in the given role (any role when undefined). */
export function runsAs(t: Target, n: number, role: 'started' | 'promoted' | 'unpromoted' | undefined): boolean {
  const count = t.copies.get(n) ?? 0;
  if (count === 0) return false;
  if (role === 'promoted') return t.promoted.has(n);
  // A node with two copies, one of them promoted, also runs an unpromoted one.
  if (role === 'unpromoted') return count > (t.promoted.has(n) ? 1 : 0);
  return true;
}

export interface Allocation {
  readonly targets: ReadonlyMap<string, Target>;
  readonly ruleCache: Map<Rule, Uint8Array>;
}

const NONE: ReadonlyMap<number, CurrentCopy> = new Map();

/** What runs of a resource now, by node; `plain` when every record is a simple started/promoted/stopped one. */
export function currentCopies(view: ClusterView, sit: Situation, top: TopView): { copies: ReadonlyMap<number, CurrentCopy>; plain: boolean } {
  let out: Map<number, CurrentCopy> | undefined;
  let plain = true;
  for (const m of top.members) {
    if (view.failures.has(m.id)) plain = false;
    for (let slot = 0; slot < top.slots; slot++) {
      const key = slotKey(m.id, slot);
      const entries = view.copiesOf(key);
      if (!entries) continue;
      for (const nodeName in entries) {
        const node = view.nodeByName.get(nodeName);
        if (!node) continue;
        const cond = sit.condition(key, node);
        if (cond !== 'started' && cond !== 'promoted' && cond !== 'stopped') plain = false;
        else if (entries[nodeName]!.monitors !== undefined) plain = false;
        if (!isActive(cond)) continue;
        out ??= new Map();
        let cur = out.get(node.index);
        if (!cur) out.set(node.index, (cur = { slots: new Set(), members: 0, promoted: false, failed: false, fixed: new Set(), fixedWhy: undefined }));
        cur.slots.add(slot);
        cur.members++;
        // A copy stuck on a node that cannot be fenced yet still counts as the primary it was.
        const recordedState = own(entries, nodeName);
        if (cond === 'promoted' || ((cond === 'failed' || cond === 'stuck') && (recordedState?.promoted || recordedState?.state === 'promoted'))) {
          cur.promoted = true;
        }
        if (cond === 'failed') cur.failed = true;
        let why: string | undefined;
        if (cond === 'stuck') {
          why = node.leased && node.state === 'unclean' && m.policy.requires === 'quorum'
            ? `${node.name}'s lease has not surely ended: its agent stops ${m.id} when it does, then it is recovered`
            : node.fencing && node.state === 'online'
            ? `a fence of ${node.name} is under way`
            : node.fencing
            ? `waits for the fence of ${node.name} under way`
            : !view.fencing
              ? `${node.name} is unclean and fencing is off: cannot prove it stopped`
              : view.maintenance
                ? `${node.name} is unclean; the cluster is in maintenance, so it is not fenced`
                : `${node.name} is unclean and cannot be fenced without quorum`;
        }
        else if (node.maintenance) why = `${node.name} is in maintenance`;
        else if (view.maintenance) why = 'the cluster is in maintenance';
        else if (!m.policy.managed) why = `${m.id} is unmanaged`;
        else if (cond === 'failed') {
          const f = lastFailure(view, m.id, node.name);
          if (onFailOf(view, m, f?.operation ?? 'monitor') === 'block') {
            why =
              f?.operation === 'stop' && !view.fencing
                ? `${m.id} stop failed on ${node.name} and fencing is off: cannot prove it stopped; left for an operator`
                : `${m.id} ${f?.operation ?? 'monitor'} failed on ${node.name} and on-fail is block`;
          }
        }
        if (why !== undefined) {
          cur.fixed.add(slot);
          cur.fixedWhy ??= why;
        }
      }
    }
  }
  return { copies: out ?? NONE, plain };
}

/** Nothing to do for this resource: its copies run exactly as targeted, whole, with nothing unusual recorded. */
function isSettled(t: Target, plain: boolean): boolean {
  if (!plain || t.frozen || t.runMembers !== t.top.members.length || t.current.size !== t.copies.size) return false;
  const members = t.top.members.length;
  for (const [n, cur] of t.current) {
    const count = t.copies.get(n);
    if (count === undefined || count !== cur.slots.size || cur.members !== count * members || cur.fixed.size > 0) return false;
    for (const s of cur.slots) if (s >= count) return false;
    if (cur.promoted !== t.promoted.has(n)) return false;
  }
  return true;
}

/** Places every resource; colocation primaries before their dependents. */
/**
 * @param unrunnable resources known (from an earlier pass) not to be able to run, with the reason:
 *   they are kept stopped so that nothing is placed around where they would have gone.
 */
export function allocate(view: ClusterView, sit: Situation, unrunnable: ReadonlyMap<number, string> = new Map()): Allocation {
  const nodes = view.nodes;
  const load = new Float64Array(nodes.length);
  const version = new Uint32Array(nodes.length);
  const remaining: Array<Record<string, number>> = nodes.map((n) => ({ ...n.capacity }));
  const useCapacity = view.placementStrategy !== 'default';
  const balanced = view.placementStrategy === 'balanced';
  const hostable = nodes.filter((n) => !sit.cannotHost.has(n.index));

  // Balanced placement prefers the node with the most free capacity (summed fractions), then load.
  const freeness = (n: number): number => {
    const cap = nodes[n]!.capacity;
    let f = 0;
    for (const k of Object.keys(cap)) if (cap[k]! > 0) f += (remaining[n]![k] ?? 0) / cap[k]!;
    return f;
  };
  const heap = new NodeHeap(
    (n) => (balanced ? -freeness(n) * 1e6 + load[n]! : load[n]!),
    (n) => version[n]!,
  );
  for (const n of hostable) heap.push(n.index);

  const fits = (n: number, util: Readonly<Record<string, number>>): boolean => {
    if (!useCapacity) return true;
    const rem = remaining[n]!;
    for (const k of Object.keys(util)) if ((rem[k] ?? 0) < util[k]!) return false;
    return true;
  };
  const assign = (n: number, top: TopView): void => {
    load[n]! += top.members.length;
    version[n]!++;
    if (useCapacity) {
      const rem = remaining[n]!;
      for (const [k, v] of Object.entries(top.utilization)) rem[k] = (rem[k] ?? 0) - v;
    }
  };

  const ruleCache = new Map<Rule, Uint8Array>();
  const currentCache: Array<{ copies: ReadonlyMap<number, CurrentCopy>; plain: boolean } | undefined> = new Array(view.tops.length);
  const currentOf = (top: TopView) => (currentCache[top.index] ??= currentCopies(view, sit, top));
  const targets = new Map<string, Target>();
  const byIndex: Array<Target | undefined> = new Array(view.tops.length);
  /** 0: not placed, 1: placing (its primaries first), 2: placed. */
  const progress = new Uint8Array(view.tops.length);

  // Priority first, then config order; primaries are pulled forward by place().
  const order = [...view.tops].sort((a, b) => b.policy.priority - a.policy.priority || a.index - b.index);
  for (const top of order) place(top);

  return { targets, ruleCache };

  function place(top: TopView): void {
    if (progress[top.index] !== 0) return;
    progress[top.index] = 1;
    for (const link of view.primariesOf[top.index] ?? []) place(link.other);
    for (const { first } of view.interleavedAfter[top.index] ?? []) place(first);
    const t = decide(top);
    t.settled = isSettled(t, currentOf(top).plain);
    for (const [n, count] of t.copies) for (let i = 0; i < count; i++) assign(n, top);
    targets.set(top.id, t);
    byIndex[top.index] = t;
    progress[top.index] = 2;
  }

  function decide(top: TopView): Target {
    const { copies: current, plain } = currentOf(top);
    const t: Target = {
      top,
      copies: new Map(),
      promoted: new Set(),
      runMembers: top.members.length,
      decision: '',
      blocked: undefined,
      frozen: false,
      noStarts: false,
      settled: false,
      current,
      baseScore: view.symmetric ? 0 : -INFINITY,
      scores: new Map(),
      contributions: [],
    };
    // Members with target role stopped stop the rest of the group behind them.
    const stoppedAt = top.members.findIndex((m) => m.policy.targetRole === 'stopped');
    if (stoppedAt >= 0) t.runMembers = stoppedAt;

    // Copies that must be left as they are count first.
    let fixedCount = 0;
    for (const [n, cur] of current) {
      if (cur.fixed.size > 0) {
        t.copies.set(n, cur.fixed.size);
        fixedCount += cur.fixed.size;
        if (cur.promoted) t.promoted.add(n);
      }
    }
    const fixedWhy = [...current.values()].find((c) => c.fixedWhy)?.fixedWhy;

    if (view.maintenance || !top.policy.managed) {
      for (const [n, cur] of current) {
        t.copies.set(n, cur.slots.size);
        if (cur.promoted) t.promoted.add(n);
      }
      t.frozen = true;
      t.decision = view.maintenance ? 'the cluster is in maintenance: left as it is' : 'unmanaged: left as it is';
      return t;
    }
    // From here on, an early return leaves copies as they are or stops them, but starts nothing.
    t.noStarts = true;
    if (!top.members[0]!.policy.managed) {
      // Haven never starts its first member, so copies run only where that member already runs.
      const first = top.members[0]!;
      score(top, t); // the managed members still heed bans
      for (const [n, cur] of current) {
        let running = 0;
        for (const slot of cur.slots) {
          const c = sit.condition(slotKey(first.id, slot), nodes[n]!);
          if (c === 'started' || c === 'promoted' || c === 'stuck' || c === 'failed') running++;
        }
        if (running === 0) continue;
        t.copies.set(n, Math.min(running, top.maxPerNode));
        if (cur.promoted) t.promoted.add(n);
      }
      if (!top.isClone && t.copies.size > 1) {
        // The unmanaged member runs twice; what Haven manages after it runs on one node only.
        const best = [...t.copies.keys()].sort((a, b) => (t.scores.get(b) ?? t.baseScore) - (t.scores.get(a) ?? t.baseScore) || a - b)[0]!;
        for (const n of [...t.copies.keys()]) if (n !== best) t.copies.delete(n);
      }
      t.decision = `${first.id} is unmanaged: copies stay where it runs`;
      return t;
    }
    const cannot = unrunnable.get(top.index);
    if (cannot !== undefined) {
      t.decision = cannot;
      t.blocked = cannot;
      return t;
    }
    if (t.runMembers === 0) {
      t.decision = fixedCount ? `target role is stopped, but ${fixedWhy}` : 'target role is stopped';
      return t;
    }
    const stopFailure = failedWithStop(top);
    if (stopFailure) {
      t.decision = stopFailure;
      t.runMembers = 0; // every managed member stops, even behind one left as it is
      return t;
    }
    const needsQuorum = top.members.some((m) => m.policy.requires !== 'nothing');
    if (!sit.quorumOk && needsQuorum) {
      switch (view.noQuorumPolicy) {
        case 'stop':
          t.decision = 'no quorum: stopped (no-quorum policy stop)';
          t.runMembers = 0;
          return t;
        case 'demote':
          if (!top.promotable) {
            t.decision = 'no quorum: stopped (no-quorum policy demote stops what cannot be demoted)';
            return t;
          }
          score(top, t);
          keepRunning(t);
          t.promoted.clear();
          t.decision = 'no quorum: replicas kept, nothing promoted (no-quorum policy demote)';
          return t;
        case 'freeze':
          score(top, t);
          keepRunning(t);
          t.decision = 'no quorum: frozen where it runs (no-quorum policy freeze)';
          return t;
        case 'ignore':
          break;
      }
    }
    if (top.members.some((m) => m.policy.requires === 'fencing') && sit.unfencedUnclean.length > 0) {
      score(top, t);
      keepRunning(t);
      const names = sit.unfencedUnclean.map((i) => nodes[i]!.name).join(', ');
      t.decision = `nothing new may start until unclean ${names} ${sit.unfencedUnclean.length > 1 ? 'are' : 'is'} fenced (requires fencing)`;
      if (t.copies.size === 0 || top.isClone) t.blocked = t.decision;
      return t;
    }

    t.noStarts = false;
    score(top, t);
    if (top.isClone) chooseClone(top, t, fixedCount);
    else if (fixedCount > 0) t.decision = `stays on ${[...t.copies.keys()].map((n) => nodes[n]!.name).join(', ')}: ${fixedWhy}`;
    else chooseOne(top, t);
    if (top.promotable) choosePromoted(top, t);
    return t;
  }

  /** Keep the healthy copies where they are; start nothing new. Never more than one of a non-clone. */
  function keepRunning(t: Target): void {
    t.noStarts = true;
    let best = -1;
    for (const [n, cur] of t.current) {
      if (cur.fixed.size > 0) continue; // already counted
      if (cur.failed) continue;
      if (sit.cannotHost.has(n) || !allows(t.scores.get(n) ?? t.baseScore)) continue;
      if (!t.top.isClone) {
        if (t.copies.size > 0) continue; // a fixed copy already holds the place
        const s = t.scores.get(n) ?? t.baseScore;
        if (best < 0 || s > (t.scores.get(best) ?? t.baseScore)) best = n;
        continue;
      }
      let total = 0;
      for (const c of t.copies.values()) total += c;
      let active = 0;
      for (const slot of cur.slots) if (slot < t.top.maxPerNode) active++;
      const room = Math.min(active, (t.top.maxCopies ?? view.nodes.length) - total);
      if (room <= 0) continue;
      t.copies.set(n, room);
      if (cur.promoted && t.promoted.size < t.top.promotedMax) t.promoted.add(n);
    }
    if (best >= 0) t.copies.set(best, 1);
  }

  function failedWithStop(top: TopView): string | undefined {
    for (const m of top.members) {
      const byNode = view.failures.get(m.id);
      if (!byNode) continue;
      for (const nodeName of byNode.keys()) {
        const f = lastFailure(view, m.id, nodeName);
        if (f && onFailOf(view, m, f.operation) === 'stop') {
          return `${m.id} ${f.operation} failed on ${nodeName} and on-fail is stop: kept stopped until the failure is cleared or expires`;
        }
      }
    }
    return undefined;
  }

  function add(t: Target, node: number, value: number, source: string): void {
    t.scores.set(node, addScores(t.scores.get(node) ?? t.baseScore, value));
    t.contributions.push({ node: nodes[node]!.name, score: value, source });
  }

  /** Scores for placing copies (not promotion). */
  function score(top: TopView, t: Target): void {
    if (!view.symmetric) t.contributions.push({ node: '*', score: -INFINITY, source: 'asymmetric cluster: only where a location allows' });
    addOwnPreferences(top, t, '');
    for (const link of view.primariesOf[top.index] ?? []) {
      if (link.colocation.role === 'promoted') continue; // decides promotion, not placement
      applyColocation(t, link.colocation, byIndex[link.other.index]);
    }
    addDependentInfluence(top, t);
    // An interleaved clone ordered after another runs its copies only beside that one's.
    for (const { order, first } of view.interleavedAfter[top.index] ?? []) {
      const ft = byIndex[first.index];
      if (!ft) continue;
      const promote = (order.firstAction ?? 'start') === 'promote';
      const has = (n: number) => (promote ? ft.promoted.has(n) : ft.copies.has(n));
      const keep = new Map<number, number>();
      for (const n of ft.copies.keys()) if (has(n)) keep.set(n, t.scores.get(n) ?? t.baseScore);
      t.scores = keep;
      t.baseScore = -INFINITY;
      t.contributions.push({ node: '*', score: -INFINITY, source: `order ${order.id} (interleaved): only beside ${promote ? 'a promoted copy of ' : ''}${first.id}` });
    }
  }

  /** Location constraints, stickiness and failure bans of the resource itself. */
  function addOwnPreferences(top: TopView, t: Target, via: string): void {
    for (const loc of view.locations.get(top.id) ?? []) {
      if (loc.role === 'promoted') continue;
      applyLocation(t, loc, via);
    }
    for (const [n, cur] of t.current) {
      if (sit.cannotHost.has(n)) continue;
      let s = 0;
      for (const m of top.members) if (cur.slots.size > 0) s = addScores(s, m.policy.stickiness);
      // Each copy of a clone sticks, so a node with two copies holds on to both.
      if (top.isClone) s = Math.min(INFINITY, top.policy.stickiness * cur.slots.size);
      if (s !== 0) add(t, n, s, `${via}stickiness (runs here)`);
    }
    for (const m of top.members) {
      const byNode = view.failures.get(m.id);
      if (!byNode) continue;
      for (const nodeName of byNode.keys()) {
        const node = view.nodeByName.get(nodeName);
        if (!node) continue;
        const count = failCount(view, m.id, nodeName);
        if (count > 0 && count >= m.policy.migrationThreshold) {
          const what = count >= INFINITY ? 'failed to start' : `failed ${count} times (migration threshold ${m.policy.migrationThreshold})`;
          add(t, node.index, -INFINITY, `${via}${m.id} ${what} on ${nodeName}`);
        }
      }
    }
  }

  function applyLocation(t: Target, loc: Location, via: string): void {
    // In an asymmetric (opt-in) cluster a location that is not a ban opens the node, from 0.
    const opens = !view.symmetric && via === '';
    const put = (n: number, score: number, source: string) => {
      if (opens && score > -INFINITY && !t.scores.has(n) && t.baseScore <= -INFINITY) t.scores.set(n, 0);
      add(t, n, score, source);
    };
    if (loc.node !== undefined) {
      const node = view.nodeByName.get(loc.node);
      if (node) put(node.index, loc.score ?? 0, `${via}location ${loc.id}`);
      return;
    }
    for (const rule of loc.rules ?? []) {
      const match = ruleMatches(rule);
      for (let n = 0; n < match.length; n++) if (match[n]) put(n, rule.score, `${via}location ${loc.id} (rule)`);
    }
  }

  function ruleMatches(rule: Rule): Uint8Array {
    let m = ruleCache.get(rule);
    if (m) return m;
    m = new Uint8Array(nodes.length);
    const any = rule.match === 'any';
    const tests = rule.expressions.map(compileExpression);
    for (const n of nodes) {
      let hit = !any;
      for (const test of tests) {
        if (test(n) === any) {
          hit = any;
          break;
        }
      }
      m[n.index] = hit ? 1 : 0;
    }
    ruleCache.set(rule, m);
    return m;
  }

  function applyColocation(t: Target, c: Colocation, primary: Target | undefined): void {
    if (!primary) return; // unresolvable (cycle); validation rejects these
    const where = [...primary.copies.keys()].filter((n) =>
      runsAs(primary, n, c.withRole),
    );
    const what = `colocation ${c.id} with ${c.with}${c.withRole ? ` (${c.withRole})` : ''}`;
    if (c.score >= INFINITY) {
      const keep = new Map<number, number>();
      for (const n of where) keep.set(n, t.scores.get(n) ?? t.baseScore);
      t.scores = keep;
      t.baseScore = -INFINITY;
      t.contributions.push({
        node: '*',
        score: -INFINITY,
        source: where.length ? `${what}: only where ${c.with} runs` : `${what}, which is not running`,
      });
      for (const n of where) t.contributions.push({ node: nodes[n]!.name, score: 0, source: `${what}: ${c.with} runs here` });
      return;
    }
    for (const n of where) add(t, n, c.score, what);
  }

  /** Dependents that must run with this resource pull it towards where they can run. */
  function addDependentInfluence(top: TopView, t: Target): void {
    // A clone's copies go where they go; what must run with one of them follows it.
    if (top.isClone) return;
    const links = view.dependentsOf[top.index];
    if (links === undefined) return;
    const deps = links.filter((l) => l.colocation.score >= INFINITY && l.colocation.role !== 'promoted' && progress[l.other.index] === 0);
    if (deps.length === 0) return;
    // Only snapshot (and pay for it) when some dependent has a preference to add.
    const adds = deps.some(({ other: dep }) => {
      if ((view.locations.get(dep.id)?.length ?? 0) > 0) return true;
      if (dep.members.some((m) => view.failures.has(m.id))) return true;
      return dep.members.some((m) => m.policy.stickiness !== 0) && currentOf(dep).copies.size > 0;
    });
    if (!adds) return;
    const before = { base: t.baseScore, scores: new Map(t.scores), contributions: t.contributions.length };
    const hadNode = bestExists(t);
    for (const { other: dep } of deps) {
      const depCurrent = currentOf(dep).copies;
      const proxy: Target = { ...t, current: depCurrent };
      addOwnPreferences(dep, proxy, `via ${dep.id}: `);
      t.scores = proxy.scores;
      t.baseScore = proxy.baseScore;
    }
    if (hadNode && !bestExists(t)) {
      // The dependents' wishes would leave no node at all: place the primary anyway (the dependents stop).
      t.baseScore = before.base;
      t.scores = before.scores;
      t.contributions.length = before.contributions;
    }
  }

  function bestExists(t: Target): boolean {
    if (allows(t.baseScore) && hostable.some((n) => !t.scores.has(n.index))) return true;
    for (const [n, s] of t.scores) if (allows(s) && !sit.cannotHost.has(n)) return true;
    return false;
  }

  function chooseOne(top: TopView, t: Target): void {
    let best = -1;
    let bestScore = -INFINITY;
    let bestCurrent = false;
    const consider = (n: number, s: number): void => {
      if (!allows(s) || sit.cannotHost.has(n) || !fits(n, top.utilization)) return;
      const isCur = t.current.has(n);
      if (
        best < 0 ||
        s > bestScore ||
        (s === bestScore && isCur && !bestCurrent) ||
        (s === bestScore && isCur === bestCurrent && (load[n]! < load[best]! || (load[n] === load[best] && n < best)))
      ) {
        best = n;
        bestScore = s;
        bestCurrent = isCur;
      }
    };
    for (const [n, s] of t.scores) consider(n, s);
    for (const n of t.current.keys()) if (!t.scores.has(n)) consider(n, t.baseScore);
    if (allows(t.baseScore) && (best < 0 || t.baseScore >= bestScore)) {
      const n = popDefault(t, top);
      if (n !== undefined) consider(n, t.baseScore);
    }
    if (best < 0) {
      t.decision = noNodeReason(t);
      t.blocked = t.decision;
      return;
    }
    t.copies.set(best, 1);
    const node = nodes[best]!.name;
    t.decision = bestCurrent
      ? `stays on ${node} (score ${formatScore(bestScore)})`
      : `placed on ${node}: highest score ${formatScore(bestScore)}${t.scores.has(best) ? '' : ', least loaded of the equals'}`;
  }

  /** The least-loaded hostable node without an explicit score that can take the resource. */
  function popDefault(t: Target, top: TopView): number | undefined {
    const skipped: number[] = [];
    let found: number | undefined;
    for (;;) {
      const n = heap.pop();
      if (n === undefined) break;
      skipped.push(n);
      if (t.scores.has(n) || !fits(n, top.utilization)) continue;
      found = n;
      break;
    }
    for (const n of skipped) heap.push(n);
    return found;
  }

  function noNodeReason(t: Target): string {
    if (hostable.length === 0) return 'cannot run: no node may host resources';
    const bans = t.contributions.filter((c) => c.score <= -INFINITY).map((c) => `${c.node === '*' ? 'all nodes' : c.node}: ${c.source}`);
    const allowed = hostable.filter((n) => allows(t.scores.get(n.index) ?? t.baseScore));
    if (useCapacity && allowed.length > 0) {
      const need = Object.entries(t.top.utilization).map(([k, v]) => `${k} ${v}`).join(', ');
      return `cannot run anywhere: no allowed node has the capacity for it (needs ${need || 'nothing'})`;
    }
    return `cannot run anywhere${bans.length ? ` (${bans.slice(0, 4).join('; ')}${bans.length > 4 ? '; …' : ''})` : ''}`;
  }

  function chooseClone(top: TopView, t: Target, fixedCount: number): void {
    const want = Math.max(0, (top.maxCopies ?? view.nodes.length) - fixedCount);
    const candidates: Array<{ n: number; s: number; cur: number }> = [];
    for (const node of hostable) {
      const s = t.scores.get(node.index) ?? t.baseScore;
      if (!allows(s)) continue;
      candidates.push({ n: node.index, s, cur: t.current.get(node.index)?.slots.size ?? 0 });
    }
    candidates.sort((a, b) => b.s - a.s || b.cur - a.cur || load[a.n]! - load[b.n]! || a.n - b.n);
    let placed = 0;
    for (let round = 0; round < top.maxPerNode && placed < want; round++) {
      for (const c of candidates) {
        if (placed >= want) break;
        const have = t.copies.get(c.n) ?? 0;
        if (have > round || have >= top.maxPerNode) continue;
        if (!fits(c.n, top.utilization)) continue;
        t.copies.set(c.n, have + 1);
        // Count as assigned now so the round's capacity checks see it.
        if (useCapacity) for (const [k, v] of Object.entries(top.utilization)) remaining[c.n]![k] = (remaining[c.n]![k] ?? 0) - v;
        placed++;
      }
    }
    if (useCapacity) {
      // Give back what the loop took; place() assigns for real.
      for (const [n, count] of t.copies) {
        if (t.current.get(n)?.fixed.size) continue;
        for (let i = 0; i < count; i++) for (const [k, v] of Object.entries(top.utilization)) remaining[n]![k] = (remaining[n]![k] ?? 0) + v;
      }
    }
    const total = placed + fixedCount;
    if (total === 0) t.blocked = noNodeReason(t);
    t.decision =
      total === 0
        ? noNodeReason(t)
        : `${total} ${total === 1 ? 'copy' : 'copies'} on ${[...t.copies.keys()].sort((a, b) => a - b).map((n) => nodes[n]!.name).join(', ')}${
            top.maxCopies !== undefined && total < top.maxCopies ? ` (${top.maxCopies} wanted; no more nodes allowed)` : ''
          }`;
  }

  function choosePromoted(top: TopView, t: Target): void {
    const role = top.policy.targetRole;
    if (role === 'unpromoted' || role === 'started' && top.members[0]!.policy.targetRole === 'unpromoted') {
      t.decision += '; nothing promoted (target role unpromoted)';
      t.promoted.clear();
      return;
    }
    const prim = top.members[0]!;
    const already = t.promoted.size; // fixed promoted copies
    const rows: Array<{ n: number; s: number; cur: boolean }> = [];
    for (const n of t.copies.keys()) {
      if (t.promoted.has(n)) continue;
      if (t.current.get(n)?.fixed.size) continue;
      // Like Pacemaker: no reported score and no promoted-role preference means not promotable.
      let s = own(view.copiesOf(prim.id), nodes[n]!.name)?.promotionScore ?? -1;
      for (const loc of view.locations.get(top.id) ?? []) {
        if (loc.role !== 'promoted') continue;
        if (loc.node !== undefined) {
          if (loc.node === nodes[n]!.name) s = addScores(s, loc.score ?? 0);
        } else for (const r of loc.rules ?? []) if (ruleMatches(r)[n]) s = addScores(s, r.score);
      }
      for (const { colocation: c, other } of view.primariesOf[top.index] ?? []) {
        if (c.role !== 'promoted') continue;
        const p = byIndex[other.index];
        const there = p !== undefined && runsAs(p, n, c.withRole);
        if (c.score >= INFINITY && !there) s = -INFINITY;
        else if (there) s = addScores(s, c.score);
      }
      // A copy that failed to promote, or failed as primary with on-fail=demote, is not promoted
      // there again while the failure counts.
      const f = lastFailure(view, prim.id, nodes[n]!.name);
      if (f && (f.operation === 'promote' || onFailOf(view, prim, f.operation) === 'demote')) s = -INFINITY;
      if (!allows(s)) continue;
      rows.push({ n, s, cur: t.current.get(n)?.promoted === true && !t.current.get(n)?.failed });
    }
    rows.sort((a, b) => b.s - a.s || Number(b.cur) - Number(a.cur) || a.n - b.n);
    for (const r of rows.slice(0, Math.max(0, top.promotedMax - already))) t.promoted.add(r.n);
    t.decision += t.promoted.size
      ? `; promoted on ${[...t.promoted].map((n) => nodes[n]!.name).join(', ')}`
      : '; no copy can be promoted (none has a promotion score or a promoted-role preference)';
  }
}

/** An expression as a test on a node, with its operand parsed once. */
function compileExpression(e: Expression): (node: NodeView) => boolean {
  const value = e.value;
  const valueNumber = typeof value === 'boolean' || value === undefined || String(value).trim() === '' ? Number.NaN : Number(value);
  const valueText = value === undefined ? '' : String(value);
  const read = (node: NodeView) => (e.attribute === '#uname' ? node.name : node.attributes[e.attribute]);
  switch (e.op) {
    case 'defined':
      return (node) => read(node) !== undefined;
    case 'not-defined':
      return (node) => read(node) === undefined;
    default:
      break;
  }
  const op = e.op;
  return (node) => {
    const actual = read(node);
    if (actual === undefined || value === undefined) return op === 'ne' && actual === undefined;
    let cmp: number;
    const a = typeof actual === 'boolean' || (typeof actual === 'string' && actual.trim() === '') ? Number.NaN : Number(actual);
    if (!Number.isNaN(a) && !Number.isNaN(valueNumber)) cmp = a - valueNumber;
    else {
      const text = String(actual);
      cmp = text < valueText ? -1 : text > valueText ? 1 : 0;
    }
    switch (op) {
      case 'eq':
        return cmp === 0;
      case 'ne':
        return cmp !== 0;
      case 'lt':
        return cmp < 0;
      case 'gt':
        return cmp > 0;
      case 'lte':
        return cmp <= 0;
      case 'gte':
        return cmp >= 0;
    }
  };
}
