// From targets to the DAG: compares what runs with what should, copy by copy, emits the actions
// with their reasons, then the ordering edges (copy lifecycle, moves, groups, promotion, order
// constraints, fencing, probes) and the readable transitions.

import type { Order, ResourceAction } from '../model/config.js';
import type { Action, ActionKind, Edge, Transition } from '../model/plan.js';
import { formatDuration, formatScore, INFINITY } from '../model/units.js';
import type { Target } from './allocate.js';
import { baseId, failCount, lastFailure, onFailOf, own, slotKey, type ClusterView, type FailureView, type MonitorOp, type NodeView, type PrimView, type TopView } from './cluster.js';
import type { CopyCondition, Situation } from './situation.js';

type Role = 'stopped' | 'started' | 'promoted';

interface CopyOps {
  readonly key: string;
  readonly prim: PrimView | undefined;
  readonly node: NodeView;
  readonly from: CopyCondition;
  to: Role;
  probe?: Handle;
  demote?: Handle;
  stop?: Handle;
  start?: Handle;
  promote?: Handle;
  /** The stop is implied by fencing the node. */
  implied: boolean;
  /** A failed copy that was promoted when it failed. */
  wasPromoted?: boolean;
  why: string;
}

/** An action in the DAG under construction: its position + 1, so that a handle is never 0 (falsy). */
type Handle = number;

class DagBuilder {
  readonly actions: Action[] = [];
  private readonly from: number[] = [];
  private readonly to: number[] = [];
  /** Actions that may be asked for twice (monitors, barriers), by id. */
  private readonly shared = new Map<string, Handle>();
  /** Successors of each action, to keep edges unique. */
  private readonly succ: Array<number[] | Set<number> | undefined> = [];

  /** Adds an action that is created exactly once by construction. */
  add(action: Action): Handle {
    this.actions.push(action);
    // Keep succ dense (one slot per handle, slot 0 unused) so it stays a fast array.
    if (this.succ.length === 0) this.succ.push(undefined);
    this.succ.push(undefined);
    return this.actions.length;
  }

  /** Adds an action unless one with the same id exists; returns the handle either way. */
  addShared(action: Action): Handle {
    const h = this.shared.get(action.id);
    if (h !== undefined) return h;
    const n = this.add(action);
    this.shared.set(action.id, n);
    return n;
  }

  edge(before: Handle | undefined, after: Handle | undefined): void {
    if (before === undefined || after === undefined || before === after || before < 0 || after < 0) return;
    const s = this.succ[before];
    if (s === undefined) this.succ[before] = [after];
    else if (Array.isArray(s)) {
      if (s.includes(after)) return;
      // Barriers fan out to thousands: switch to a set before the scan gets long.
      if (s.length >= 16) this.succ[before] = new Set([...s, after]);
      else s.push(after);
    } else {
      if (s.has(after)) return;
      s.add(after);
    }
    this.from.push(before);
    this.to.push(after);
  }

  /**
   * An ordering that yields to every other: added only if `after` does not already lead to
   * `before` (serialize orders, capacity). Returns whether it was added.
   */
  softEdge(before: Handle, after: Handle): boolean {
    if (this.reaches(after, before)) return false;
    this.edge(before, after);
    return true;
  }

  private reaches(from: Handle, to: Handle): boolean {
    const seen = new Set<Handle>([from]);
    const stack = [from];
    while (stack.length) {
      const h = stack.pop()!;
      if (h === to) return true;
      const s = this.succ[h];
      if (!s) continue;
      for (const x of s) {
        if (!seen.has(x)) {
          seen.add(x);
          stack.push(x);
        }
      }
    }
    return false;
  }

  /** Every `before` precedes every `after`; through a pseudo action when that saves edges. */
  all(before: readonly Handle[], after: readonly Handle[], barrier: string, reason: string): void {
    if (before.length === 0 || after.length === 0) return;
    if (before.length * after.length <= before.length + after.length + 8) {
      for (const b of before) for (const a of after) this.edge(b, a);
      return;
    }
    const id = this.addShared({ id: `pseudo ${barrier}`, kind: 'pseudo', reason });
    for (const b of before) this.edge(b, id);
    for (const a of after) this.edge(id, a);
  }

  kindOf(h: Handle): Action['kind'] {
    return this.actions[h - 1]!.kind;
  }

  resourceOf(h: Handle): string | undefined {
    return this.actions[h - 1]!.resource;
  }

  edges(): Edge[] {
    const out: Edge[] = new Array(this.from.length);
    for (let i = 0; i < this.from.length; i++) out[i] = [this.actions[this.from[i]! - 1]!.id, this.actions[this.to[i]! - 1]!.id];
    return out;
  }
}

/** A lifecycle operation the copy needs, before its action exists. */
const PLANNED = -1;

export interface Graph {
  readonly actions: Action[];
  readonly edges: Edge[];
  readonly transitions: Transition[];
  readonly notes: string[];
}

export function buildGraph(view: ClusterView, sit: Situation, targets: ReadonlyMap<string, Target>): Graph {
  const dag = new DagBuilder();
  const transitions: Transition[] = [];
  const notes: string[] = [];
  const copyOps = new Map<string, CopyOps[]>(); // by primitive key
  const byTop = new Map<string, CopyOps[]>();
  const nodes = view.nodes;

  if (!view.quorum) {
    notes.push(
      view.noQuorumPolicy === 'ignore'
        ? 'this partition has no quorum; acting anyway (no-quorum policy ignore)'
        : `this partition has no quorum: no-quorum policy ${view.noQuorumPolicy}${view.fencing ? '; no fencing without quorum' : ''}`,
    );
  }
  if (view.maintenance) notes.push('the cluster is in maintenance: Haven observes and does nothing');

  // Fencing comes first: it is what makes recovery safe.
  const fenceIds = new Map<number, Handle>();
  for (const [n, why] of sit.fence) {
    const node = nodes[n]!;
    const id = dag.add({ id: `fence ${node.name}`, kind: 'fence', node: node.name, reason: why });
    fenceIds.set(n, id);
    transitions.push({ kind: 'fence', subject: node.name, reason: why });
  }
  for (const n of sit.unfencedUnclean) {
    const node = nodes[n]!;
    notes.push(
      node.fencing
        ? `${node.name} is unclean; a fence is under way: what ran there waits for it`
        : !view.fencing
          ? `${node.name} is unclean and fencing is off: what requires fencing cannot be recovered`
          : view.maintenance
            ? `${node.name} is unclean; the cluster is in maintenance, so it is not fenced`
            : `${node.name} is unclean and cannot be fenced without quorum`,
    );
  }

  // Node-wide probes: nothing starts until every joining node has said what it runs.
  const probeIds: Handle[] = [];
  for (const n of sit.unprobed) {
    const node = nodes[n]!;
    probeIds.push(
      dag.add({ id: `probe *@${node.name}`, kind: 'probe', node: node.name, reason: `${node.name} has not yet reported what it runs` }),
    );
    transitions.push({ kind: 'probe', subject: node.name, reason: 'find out what runs there before starting anything' });
  }

  for (const top of view.tops) {
    const t = targets.get(top.id)!;
    const list: CopyOps[] = [];
    byTop.set(top.id, list);
    if (t.frozen || t.settled) continue;
    const unmanagedGap = new Set<string>();
    top.members.forEach((m, i) => {
      const runs = i < t.runMembers;
      for (let slot = 0; slot < top.slots; slot++) {
        const key = slotKey(m.id, slot);
        const recorded = view.copiesOf(key);
        const involved = recorded ? Object.keys(recorded) : [];
        if (runs) {
          for (const n of t.copies.keys()) {
            const name = nodes[n]!.name;
            if (own(recorded, name) === undefined && roleOfSlot(t, n, slot) !== 'stopped') involved.push(name);
          }
        }
        const opsOfKey: CopyOps[] = [];
        for (const name of sortedNodes(view, involved)) {
          const node = view.nodeByName.get(name);
          if (!node) continue;
          if (t.current.get(node.index)?.fixed.has(slot) && isFixedCopy(m, key, node)) {
            const cur = sit.condition(key, node);
            if (cur === 'failed' || cur === 'stuck') {
              transitions.push({ kind: 'blocked', subject: `${key}@${name}`, from: cur, reason: t.current.get(node.index)!.fixedWhy ?? 'left as it is' });
            }
            continue;
          }
          const from = sit.condition(key, node);
          let to: Role = runs ? roleOfSlot(t, node.index, slot) : 'stopped';
          if (t.noStarts && from !== 'started' && from !== 'promoted') to = 'stopped';
          // Nothing of a group runs after a member Haven may not start (unmanaged and not running).
          if (unmanagedGap.has(`${name}/${slot}`)) to = 'stopped';
          // A copy pinned by another member that must be left alone: what runs there may keep
          // running, but a member starts there only where the resource could be placed anyway.
          if (to !== 'stopped' && from !== 'started' && from !== 'promoted' && t.current.get(node.index)?.fixed.has(slot)) {
            const pinnedNodes = [...t.current.values()].filter((c) => c.fixed.size > 0).length;
            const placeable = !sit.cannotHost.has(node.index) && (t.scores.get(node.index) ?? t.baseScore) >= 0;
            if (!placeable || (!top.isClone && pinnedNodes > 1)) to = 'stopped';
          }
          if (to !== 'stopped' && t.current.get(node.index)?.fixed.has(slot) && !isFixedCopy(m, key, node)) {
            // Managed members of a pinned copy on a node the resource may not use: stop them.
            if (sit.cannotHost.has(node.index) || (t.scores.get(node.index) ?? t.baseScore) < 0) to = 'stopped';
          }
          if (!m.policy.managed) {
            if (from !== 'started' && from !== 'promoted') unmanagedGap.add(`${name}/${slot}`);
            continue;
          }
          const ops = planCopy(key, m, node, from, to, t);
          if (ops) opsOfKey.push(ops);
        }
        if (opsOfKey.length) {
          copyOps.set(key, opsOfKey);
          list.push(...opsOfKey);
        }
      }
    });
  }

  // Orphans: recorded but no longer configured.
  for (const key of view.orphans) {
    const opsOfKey: CopyOps[] = [];
    for (const name of sortedNodes(view, Object.keys(view.copiesOf(key)!))) {
      const node = view.nodeByName.get(name);
      if (!node) continue;
      const from = sit.condition(key, node);
      if (from === 'stopped' || from === 'unknown') continue;
      if ((node.maintenance || view.maintenance) && from !== 'lost') continue; // observed, never touched
      if (from === 'stuck') {
        transitions.push({ kind: 'blocked', subject: `${key}@${name}`, from, reason: 'orphan on an unclean node that cannot be fenced now' });
        continue;
      }
      if (!view.stopOrphans && from !== 'lost') {
        notes.push(`${key} runs on ${name} but is not configured (stopOrphans is off: left running)`);
        continue;
      }
      const ops = planCopy(key, undefined, node, from, 'stopped', undefined);
      if (ops) opsOfKey.push(ops);
    }
    if (opsOfKey.length) copyOps.set(key, opsOfKey);
  }

  cascadeGroupRestarts();
  cascadeOrderRestarts();
  emitLifecycle();
  emitOrders();
  emitFencingAndProbes();
  orderCapacity();
  emitMonitors();
  emitClearFailures();
  describe();
  return { actions: dag.actions, edges: dag.edges(), transitions, notes };

  /**
   * The role a slot is to have. Slots left as they are keep their numbers; the other copies the
   * node is to run take the lowest free slots. Only the first of them is promoted.
   */
  function roleOfSlot(t: Target, n: number, slot: number): Role {
    const count = t.copies.get(n) ?? 0;
    if (count === 0) return 'stopped';
    const fixed = t.current.get(n)?.fixed;
    let rank = slot;
    if (fixed?.has(slot)) return t.promoted.has(n) && t.current.get(n)?.promoted ? 'promoted' : 'started';
    if (fixed && fixed.size > 0) {
      for (const f of fixed) if (f < slot) rank--;
      if (rank >= count - fixed.size) return 'stopped';
    } else if (slot >= count) return 'stopped';
    return t.promoted.has(n) && rank === 0 && !fixed?.size ? 'promoted' : 'started';
  }

  /**
   * This member's copy must be left as it is. (Another member's fixed copy only pins the group copy
   * to its node; this member is still managed there.)
   */
  function isFixedCopy(m: PrimView, key: string, node: NodeView): boolean {
    if (isFixedMember(m, key, node)) return true;
    // A running later member that must be left as it is holds the members before it too.
    const slot = key === m.id ? 0 : Number(key.slice(m.id.length + 1));
    const members = m.top.members;
    for (let i = m.position + 1; i < members.length; i++) {
      const later = members[i]!;
      const laterKey = slotKey(later.id, slot);
      if (isFixedMember(later, laterKey, node) && sit.condition(laterKey, node) !== 'stopped') return true;
    }
    return false;
  }

  function isFixedMember(m: PrimView, key: string, node: NodeView): boolean {
    if (view.maintenance || node.maintenance || !m.policy.managed) return true;
    const cond = sit.condition(key, node);
    if (cond === 'stuck') return true;
    if (cond !== 'failed') return false;
    const f = lastFailure(view, m.id, node.name);
    return onFailOf(view, m, f?.operation ?? 'monitor') === 'block';
  }

  function planCopy(key: string, prim: PrimView | undefined, node: NodeView, from: CopyCondition, to: Role, t: Target | undefined): CopyOps | undefined {
    const ops: CopyOps = { key, prim, node, from, to, implied: false, why: '' };
    switch (from) {
      case 'stuck':
        return undefined;
      case 'lost':
        ops.implied = true;
        ops.to = 'stopped';
        ops.why = `${node.name} is fenced`;
        return ops;
      case 'unknown':
        if (node.state !== 'online') return undefined;
        ops.probe = PLANNED;
        ops.why = 'not probed yet';
        if (to === 'stopped') return ops;
        ops.start = PLANNED;
        if (to === 'promoted') ops.promote = PLANNED;
        return ops;
      case 'stopped':
        if (to === 'stopped') return undefined;
        ops.start = PLANNED;
        if (to === 'promoted') ops.promote = PLANNED;
        return ops;
      case 'started':
        if (to === 'stopped') ops.stop = PLANNED;
        else if (to === 'promoted') ops.promote = PLANNED;
        else return undefined; // unchanged; a cascade may still restart it (ensureOps)
        return ops;
      case 'promoted':
        if (to === 'stopped') {
          ops.demote = PLANNED;
          ops.stop = PLANNED;
        } else if (to === 'started') ops.demote = PLANNED;
        else return undefined;
        return ops;
      case 'failed': {
        const wasPromoted = sit.copy(key, node.name)?.promoted === true;
        const f = prim ? lastFailure(view, prim.id, node.name) : undefined;
        const onFail = prim ? onFailOf(view, prim, f?.operation ?? 'monitor') : 'restart';
        ops.why = `${f?.operation ?? 'monitor'} failed`;
        ops.wasPromoted = wasPromoted;
        if (wasPromoted && onFail === 'demote' && to !== 'stopped') {
          // Demoted in place; it is not promoted there again while the failure counts.
          ops.demote = PLANNED;
          ops.to = 'started';
          return ops;
        }
        if (wasPromoted) ops.demote = PLANNED;
        ops.stop = PLANNED;
        if (to !== 'stopped') {
          ops.start = PLANNED;
          if (to === 'promoted') ops.promote = PLANNED;
        }
        void t;
        return ops;
      }
    }
  }

  /** A group member that (re)starts restarts the running members after it on that node. */
  function cascadeGroupRestarts(): void {
    for (const top of view.tops) {
      if (top.members.length < 2 || (byTop.get(top.id)?.length ?? 0) === 0) continue;
      const t = targets.get(top.id)!;
      if (t.frozen) continue;
      for (const [n] of t.copies) {
        for (let slot = 0; slot < top.slots; slot++) {
          let restartFrom: string | undefined;
          for (const m of top.members) {
            const ops = findOps(slotKey(m.id, slot), nodes[n]!.name) ?? (restartFrom ? unchangedOps(t, m, slot, n) : undefined);
            if (restartFrom && ops && !ops.start && !ops.stop && (ops.from === 'started' || ops.from === 'promoted') && ops.to !== 'stopped') {
              forceRestart(ops, `${restartFrom} before it in group ${top.groupId ?? top.id} restarts`);
            }
            if (ops?.start && !restartFrom) restartFrom = m.id;
          }
        }
      }
    }
  }

  function cascadeOrderRestarts(): void {
    if (view.orders.length === 0 || ![...byTop.values()].some((l) => l.some((x) => x.start))) return;
    for (const o of topoOrders()) {
      if ((o.kind ?? 'mandatory') !== 'mandatory' || (o.firstAction ?? 'start') !== 'start' || (o.thenAction ?? o.firstAction ?? 'start') !== 'start') continue;
      const first = targets.get(o.first);
      const then = targets.get(o.then);
      if (!first || !then || then.frozen) continue;
      const restarting = (byTop.get(o.first) ?? []).filter((x) => x.start && (x.stop || x.implied || x.from === 'failed'));
      const moved = !first.top.isClone && (byTop.get(o.first) ?? []).some((x) => x.start) && (byTop.get(o.first) ?? []).some((x) => x.stop || x.implied);
      if (restarting.length === 0 && !moved) continue;
      const interleaved = first.top.isClone && then.top.isClone && then.top.interleave;
      const restartNodes = new Set(restarting.map((x) => x.node.name));
      for (const m of then.top.members) {
        for (let slot = 0; slot < then.top.slots; slot++) {
          for (const ops of copyOps.get(slotKey(m.id, slot)) ?? []) {
            if (ops.start || ops.stop || ops.implied || ops.to === 'stopped') continue;
            if (ops.from !== 'started' && ops.from !== 'promoted') continue;
            if (interleaved && !restartNodes.has(ops.node.name)) continue;
            forceRestart(ops, `order ${o.id}: ${o.first} restarts before it`);
          }
          ensureOpsForRunning(then, m, slot, interleaved ? restartNodes : undefined, `order ${o.id}: ${o.first} restarts before it`);
        }
      }
    }
  }

  /** Running copies with no ops record yet (unchanged) get one so a cascade can restart them. */
  function ensureOpsForRunning(t: Target, m: PrimView, slot: number, only: Set<string> | undefined, why: string): void {
    for (const n of t.copies.keys()) {
      if (only && !only.has(nodes[n]!.name)) continue;
      if (findOps(slotKey(m.id, slot), nodes[n]!.name)) continue;
      const ops = unchangedOps(t, m, slot, n);
      if (ops) forceRestart(ops, why);
    }
  }

  /** A record for a copy that runs and stays as it is, so that a cascade can restart it. */
  function unchangedOps(t: Target, m: PrimView, slot: number, n: number): CopyOps | undefined {
    const key = slotKey(m.id, slot);
    const node = nodes[n]!;
    if (t.frozen || m.position >= t.runMembers) return undefined;
    if (isFixedCopy(m, key, node)) return undefined;
    const to = roleOfSlot(t, n, slot);
    const from = sit.condition(key, node);
    if (to === 'stopped' || (from !== 'started' && from !== 'promoted')) return undefined;
    const ops: CopyOps = { key, prim: m, node, from, to, implied: false, why: '' };
    if (ops.from !== ops.to) return undefined;
    const list = copyOps.get(key);
    if (list) list.push(ops);
    else copyOps.set(key, [ops]);
    byTop.get(t.top.id)!.push(ops);
    return ops;
  }

  function forceRestart(ops: CopyOps, why: string): void {
    if (ops.from === 'promoted') ops.demote = PLANNED;
    ops.stop = PLANNED;
    if (ops.prim && targets.get(ops.prim.top.id)?.noStarts) {
      // It must restart, but nothing of it may start now: it stops, and starts in a later cycle.
      ops.to = 'stopped';
      ops.why = `${why}; it cannot start again yet (${targets.get(ops.prim.top.id)!.decision})`;
      return;
    }
    ops.start = PLANNED;
    if (ops.to === 'promoted') ops.promote = PLANNED;
    ops.why = why;
  }

  function findOps(key: string, node: string): CopyOps | undefined {
    return copyOps.get(key)?.find((x) => x.node.name === node);
  }

  function topoOrders(): Order[] {
    // Kahn over tops so that a restart cascades through chains of orders.
    const orders = view.orders;
    const indeg = new Map<string, number>();
    const out = new Map<string, Order[]>();
    for (const o of orders) {
      indeg.set(o.then, (indeg.get(o.then) ?? 0) + 1);
      const l = out.get(o.first);
      if (l) l.push(o);
      else out.set(o.first, [o]);
    }
    const ready = view.tops.filter((t) => !indeg.get(t.id)).map((t) => t.id);
    const result: Order[] = [];
    for (let head = 0; head < ready.length; head++) {
      const id = ready[head]!;
      for (const o of out.get(id) ?? []) {
        result.push(o);
        const d = indeg.get(o.then)! - 1;
        indeg.set(o.then, d);
        if (d === 0) ready.push(o.then);
      }
    }
    const seen = new Set(result);
    for (const o of orders) if (!seen.has(o)) result.push(o);
    return result;
  }

  /** Creates the actions of every copy and the edges of its own lifecycle, moves and promotion. */
  function emitLifecycle(): void {
    for (const [key, list] of copyOps) {
      const prim = list[0]!.prim;
      const top = prim?.top;
      const t = top ? targets.get(top.id) : undefined;
      for (const ops of list) {
        const at = `${key}@${ops.node.name}`;
        const resource = key;
        const node = ops.node.name;
        const fence = fenceIds.get(ops.node.index);
        if (ops.probe) {
          ops.probe = dag.add({ id: `probe ${at}`, kind: 'probe', resource, node, reason: `${key} state on ${node} is unknown` });
        }
        if (ops.demote) {
          ops.demote = dag.add({ id: `demote ${at}`, kind: 'demote', resource, node, ...timeout(prim, 'demote'), reason: demoteReason(ops, t) });
        }
        if (ops.stop || ops.implied) {
          ops.stop = dag.add({
            id: `stop ${at}`,
            kind: 'stop',
            resource,
            node,
            ...(ops.implied ? { implied: true } : timeout(prim, 'stop')),
            reason: stopReason(ops, t),
          });
          // Only what requires fencing waits for the fence; quorum or nothing recovers at once.
          if (ops.implied && (prim === undefined || prim.policy.requires === 'fencing')) dag.edge(fence, ops.stop);
        }
        if (ops.start) {
          ops.start = dag.add({ id: `start ${at}`, kind: 'start', resource, node, ...timeout(prim, 'start'), reason: startReason(ops, t) });
        }
        if (ops.promote) {
          ops.promote = dag.add({ id: `promote ${at}`, kind: 'promote', resource, node, ...timeout(prim, 'promote'), reason: promoteReason(ops, t) });
        }
        dag.edge(ops.demote, ops.stop);
        dag.edge(ops.probe, ops.start);
        dag.edge(ops.stop, ops.start);
        dag.edge(ops.start, ops.promote);
        if (ops.demote && !ops.stop) dag.edge(ops.demote, ops.promote);
      }
      // A primitive that is not a clone never runs twice: stops anywhere before the start.
      if (top && !top.isClone) {
        const stops = list.filter((x) => x.stop).map((x) => x.stop!);
        const probes = list.filter((x) => x.probe).map((x) => x.probe!);
        for (const s of list) {
          if (!s.start) continue;
          for (const st of stops) dag.edge(st, s.start);
          for (const p of probes) dag.edge(p, s.start);
        }
      }
    }
    // Groups: members start in order and stop in reverse, on each node; a member with nothing to
    // do is skipped, so the chain links the nearest members that act.
    for (const top of view.tops) {
      for (let slot = 0; top.members.length > 1 && slot < top.slots; slot++) {
        const byNode = new Map<NodeView, Array<CopyOps | undefined>>();
        top.members.forEach((m, i) => {
          for (const ops of copyOps.get(slotKey(m.id, slot)) ?? []) {
            let row = byNode.get(ops.node);
            if (!row) byNode.set(ops.node, (row = new Array(top.members.length)));
            row[i] = ops;
          }
        });
        const firstStarts: Array<[NodeView, Handle]> = [];
        const stops: Array<[NodeView, Handle]> = [];
        for (const [node, row] of byNode) {
          chain(row.map((x) => x?.start));
          chain(row.map((x) => x?.promote));
          chain(row.map((x) => x?.stop).reverse());
          const first = row.find((x) => x?.start)?.start;
          if (first) firstStarts.push([node, first]);
          for (const x of row) if (x?.stop) stops.push([node, x.stop]);
        }
        // A group that is not a clone moves whole: every old stop before the first new start.
        if (!top.isClone) for (const [sn, stop] of stops) for (const [fn, start] of firstStarts) if (sn !== fn) dag.edge(stop, start);
      }
      if (top.isClone && top.maxCopies !== undefined) {
        // At maxCopies, a copy that moves stops before its replacement starts (like a primitive).
        const list = byTop.get(top.id) ?? [];
        const t = targets.get(top.id)!;
        const leaving = list.filter((x) => x.stop && !x.start && !t.copies.has(x.node.index)).map((x) => x.stop!);
        const arriving = list.filter((x) => x.start && !x.stop && x.prim?.position === 0).map((x) => x.start!);
        dag.all(leaving, arriving, `${top.id}-moved`, `copies of ${top.id} leave before others arrive (maxCopies ${top.maxCopies})`);
      }
      if (top.promotable) {
        // Never more promoted copies than allowed: demotions (and stops of a lost primary) first.
        const list = byTop.get(top.id) ?? [];
        // A copy that failed (a failed promote included) may still act as primary until stopped.
        const before = list
          .filter((x) => x.demote || (x.implied && x.from === 'lost' && wasPromoted(x)) || (x.from === 'failed' && x.stop))
          .map((x) => x.demote ?? x.stop!);
        const promotes = list.filter((x) => x.promote).map((x) => x.promote!);
        dag.all(before, promotes, `${top.id}-demoted`, `every demotion of ${top.id} done before a promotion`);
      }
    }
  }

  /** With capacity in play, what stops on a node frees room for what starts there: stops first. */
  function orderCapacity(): void {
    if (view.placementStrategy === 'default') return;
    const stopsOn = new Map<number, Handle[]>();
    const startsOn = new Map<number, Handle[]>();
    for (const list of copyOps.values()) {
      for (const ops of list) {
        if (ops.stop && !ops.implied) (stopsOn.get(ops.node.index) ?? stopsOn.set(ops.node.index, []).get(ops.node.index)!).push(ops.stop);
        if (ops.start) (startsOn.get(ops.node.index) ?? startsOn.set(ops.node.index, []).get(ops.node.index)!).push(ops.start);
      }
    }
    for (const [n, stops] of stopsOn) {
      for (const start of startsOn.get(n) ?? []) for (const stop of stops) dag.softEdge(stop, start);
    }
  }

  /** Orders the given actions one after the other, skipping the gaps. */
  function chain(handles: Array<Handle | undefined>): void {
    let prev: Handle | undefined;
    for (const h of handles) {
      if (!h) continue;
      dag.edge(prev, h);
      prev = h;
    }
  }

  function wasPromoted(ops: CopyOps): boolean {
    return sit.copy(ops.key, ops.node.name)?.state === 'promoted';
  }

  /**
   * The actions of a resource that mark an order's edge, copy by copy: for a group, "start done"
   * is its last member's start on that node and "start begins" its first member's; stops the reverse.
   */
  function boundaryActions(topId: string, action: ResourceAction, side: 'done' | 'begins', node?: string): Handle[] {
    const top = view.topById.get(topId);
    if (!top || (byTop.get(topId)?.length ?? 0) === 0) return [];
    const forwardAction = action === 'start' || action === 'promote';
    const members = forwardAction === (side === 'begins') ? top.members : [...top.members].reverse();
    const out: Handle[] = [];
    const claimed = new Set<string>();
    for (const m of members) {
      for (let slot = 0; slot < top.slots; slot++) {
        for (const ops of copyOps.get(slotKey(m.id, slot)) ?? []) {
          if (node !== undefined && ops.node.name !== node) continue;
          const id = ops[action];
          if (!id) continue;
          const copy = `${ops.node.name}/${slot}`;
          if (claimed.has(copy)) continue;
          claimed.add(copy);
          out.push(id);
        }
      }
    }
    return out;
  }

  function actionsOf(topId: string, action: ResourceAction, node?: string): Handle[] {
    return boundaryActions(topId, action, 'done', node);
  }

  function entryActionsOf(topId: string, action: ResourceAction, node?: string): Handle[] {
    return boundaryActions(topId, action, 'begins', node);
  }

  function emitOrders(): void {
    const inverse: Record<ResourceAction, ResourceAction> = { start: 'stop', stop: 'start', promote: 'demote', demote: 'promote' };
    // Serialize orders last: they only forbid overlap, so they yield to every other ordering.
    const orders = [...view.orders.filter((o) => o.kind !== 'serialize'), ...view.orders.filter((o) => o.kind === 'serialize')];
    for (const o of orders) {
      const kind = o.kind ?? 'mandatory';
      const fa = o.firstAction ?? 'start';
      const ta = o.thenAction ?? fa;
      // An order between actions of opposite directions (start A, then stop B) is one-way by default:
      // its inverse would loop with the moves of the same resources.
      const sameDirection = (fa === 'start' || fa === 'promote') === (ta === 'start' || ta === 'promote');
      const symmetrical = o.symmetrical ?? (kind !== 'serialize' && sameDirection);
      const first = view.topById.get(o.first);
      const then = view.topById.get(o.then);
      if (!first || !then) continue;
      const interleaved = first.isClone && then.isClone && then.interleave;
      const link = (a: ResourceAction, b: ResourceAction, fromTop: string, toTop: string, tag: string) => {
        if (kind === 'serialize') {
          for (const x of actionsOf(fromTop, a)) for (const y of entryActionsOf(toTop, b)) dag.softEdge(x, y);
        } else if (interleaved) {
          for (const node of view.nodes) {
            const before = actionsOf(fromTop, a, node.name);
            const after = entryActionsOf(toTop, b, node.name);
            for (const x of before) for (const y of after) dag.edge(x, y);
          }
        } else {
          dag.all(actionsOf(fromTop, a), entryActionsOf(toTop, b), `${o.id}-${tag}`, `order ${o.id}: ${fromTop} ${a} before ${toTop} ${b}`);
        }
      };
      link(fa, ta, o.first, o.then, 'forward');
      if (symmetrical) link(inverse[ta], inverse[fa], o.then, o.first, 'reverse');
    }
  }

  function emitFencingAndProbes(): void {
    const allStarts: Handle[] = [];
    for (let h = 1; h <= dag.actions.length; h++) if (dag.kindOf(h) === 'start') allStarts.push(h);
    if (probeIds.length) dag.all(probeIds, allStarts, 'probes-complete', 'every joining node has reported what it runs');
    // A resource that requires fencing starts only once every unclean node is fenced.
    const fences = [...fenceIds.values()];
    if (fences.length) {
      const needing = allStarts.filter((h) => view.primById.get(baseId(dag.resourceOf(h)!))?.policy.requires === 'fencing');
      dag.all(fences, needing, 'fencing-complete', 'every unclean node is fenced');
    }
  }

  function monitorsFor(prim: PrimView, role: Role): readonly MonitorOp[] {
    return role === 'stopped' ? NO_MONITORS : prim.monitorsIn(role);
  }

  function emitMonitors(): void {
    const every = new Map<number, string>();
    const fmt = (ms: number): string => {
      let f = every.get(ms);
      if (f === undefined) every.set(ms, (f = formatDuration(ms)));
      return f;
    };
    const monitorAction = (kind: ActionKind, prim: PrimView, key: string, node: string, interval: number, timeout: number, reason: string) =>
      dag.addShared({ id: `${kind} ${key}@${node}/${fmt(interval)}`, kind, resource: key, node, interval, timeout, reason });
    for (const [key, list] of copyOps) {
      for (const ops of list) {
        const prim = ops.prim;
        if (!prim || ops.to === 'stopped') continue;
        const last = ops.promote ?? ops.start ?? ops.demote;
        if (!last) continue;
        const after = monitorsFor(prim, ops.to);
        if (ops.start) {
          // One record per copy and node, one monitor per interval: unique without a lookup.
          for (const m of after) {
            const interval = fmt(m.interval);
            const id = dag.add({
              id: `monitor-start ${key}@${ops.node.name}/${interval}`,
              kind: 'monitor-start',
              resource: key,
              node: ops.node.name,
              interval: m.interval,
              timeout: m.timeout,
              reason: ops.to === 'promoted' ? `watch every ${interval} as promoted` : `watch every ${interval} as started`,
            });
            dag.edge(last, id);
          }
          continue;
        }
        const fromRole: Role = ops.from === 'promoted' || ops.wasPromoted ? 'promoted' : 'started';
        // What runs now: the reported monitors when the agent reported them, else the configured ones.
        const reported = sit.copy(key, ops.node.name)?.monitors;
        const running = reported ? reported.map((interval) => ({ interval, timeout: prim.timeouts.stop, role: undefined })) : monitorsFor(prim, fromRole);
        const before = new Set(running.map((m) => m.interval));
        const afterSet = new Set(after.map((m) => m.interval));
        for (const m of running) {
          if (afterSet.has(m.interval)) continue;
          const id = monitorAction('monitor-stop', prim, key, ops.node.name, m.interval, m.timeout, `role changes to ${ops.to}`);
          dag.edge(id, ops.promote ?? ops.demote);
        }
        for (const m of after) {
          if (before.has(m.interval)) continue;
          const id = monitorAction('monitor-start', prim, key, ops.node.name, m.interval, m.timeout, `watch every ${fmt(m.interval)} as ${ops.to}`);
          dag.edge(last, id);
        }
      }
    }
    // Copies that keep running but whose reported monitors differ from the configuration.
    for (const top of view.tops) {
      const t = targets.get(top.id)!;
      if (t.frozen || t.settled) continue;
      for (const prim of top.members) {
        for (let slot = 0; slot < top.slots; slot++) {
          const key = slotKey(prim.id, slot);
          const entries = view.copiesOf(key);
          if (!entries) continue;
          for (const [name, copy] of Object.entries(entries)) {
            if (!copy.monitors) continue;
            const node = view.nodeByName.get(name);
            if (!node || findOps(key, name)?.start || findOps(key, name)?.stop || findOps(key, name)?.promote || findOps(key, name)?.demote) continue;
            if (isFixedCopy(prim, key, node)) continue;
            const cond = sit.condition(key, node);
            if (cond !== 'started' && cond !== 'promoted') continue;
            const want = monitorsFor(prim, cond);
            const have = new Set(copy.monitors);
            const wantSet = new Set(want.map((m) => m.interval));
            for (const m of want) if (!have.has(m.interval)) monitorAction('monitor-start', prim, key, name, m.interval, m.timeout, `configured monitor every ${formatDuration(m.interval)} is not running`);
            for (const iv of copy.monitors) if (!wantSet.has(iv)) monitorAction('monitor-stop', prim, key, name, iv, prim.timeouts.stop, `monitor every ${formatDuration(iv)} is no longer configured`);
          }
        }
      }
    }
  }

  function emitClearFailures(): void {
    for (const [primId, byNode] of view.failures) {
      const prim = view.primById.get(primId);
      for (const [node, list] of byNode) {
        // A copy's failures are forgotten together, once the newest of them has expired.
        const byKey = new Map<string, FailureView[]>();
        for (const f of list) byKey.set(f.resource, [...(byKey.get(f.resource) ?? []), f]);
        for (const [resource, fs] of byKey) {
          if (!fs.every((f) => f.expired)) continue;
          const newest = fs.reduce((a, b) => (b.last > a.last ? b : a));
          const age = formatDuration(Math.max(0, view.now - newest.last));
          const timeout = prim ? formatDuration(prim.policy.failureTimeout) : '?';
          dag.addShared({
            id: `clear-failures ${resource}@${node}`,
            kind: 'clear-failures',
            resource,
            node,
            reason: `last ${newest.operation} failure ${age} ago is older than failure timeout ${timeout}`,
          });
          transitions.push({ kind: 'clear', subject: `${resource}@${node}`, reason: `failures expired (${age} old, timeout ${timeout})` });
        }
      }
    }
  }

  function stopReason(ops: CopyOps, t: Target | undefined): string {
    if (ops.implied) {
      return ops.prim === undefined || ops.prim.policy.requires === 'fencing'
        ? `implied by fencing ${ops.node.name}`
        : `${ops.node.name} is lost; ${ops.prim.id} requires ${ops.prim.policy.requires}, so it does not wait for the fence`;
    }
    if (!ops.prim) return `${ops.key} is not configured (orphan)`;
    if (ops.from === 'failed') return ops.start ? `recover: ${ops.why} on ${ops.node.name}` : `${ops.why} on ${ops.node.name}; ${stopWhy(ops, t)}`;
    if (ops.start) return `restart: ${ops.why}`;
    return stopWhy(ops, t);
  }

  function stopWhy(ops: CopyOps, t: Target | undefined): string {
    const cannot = sit.cannotHost.get(ops.node.index);
    if (cannot) return cannot;
    if (!t) return 'not configured';
    const elsewhere = [...t.copies.keys()].filter((n) => n !== ops.node.index).map((n) => nodes[n]!.name);
    if (ops.prim && ops.prim.position >= t.runMembers) {
      // Nothing runs because of a decision (no quorum, on-fail stop), not a target role.
      if (t.runMembers === 0 && !t.top.members.some((m) => m.policy.targetRole === 'stopped')) return t.decision;
      const stopped = t.top.members[t.runMembers];
      if (ops.prim.position === t.runMembers || t.runMembers === 0 || !stopped) return 'target role is stopped';
      return `${stopped.id} before it in group ${t.top.groupId ?? t.top.id} does not run (target role stopped)`;
    }
    if (!t.top.isClone && t.current.size > 1 && elsewhere.length) return `active on ${t.current.size} nodes; keeping ${elsewhere.join(', ')}`;
    if (t.copies.size > 0 && !t.copies.has(ops.node.index)) return leaveReason(t, ops.node.index);
    const count = ops.prim ? failCount(view, ops.prim.id, ops.node.name) : 0;
    if (ops.prim && count >= ops.prim.policy.migrationThreshold) return `failed ${count >= 1_000_000 ? 'to start' : `${count} times`} on ${ops.node.name}; ${t.decision}`;
    return t.decision;
  }

  /** An unclean node on which the copy was recorded active, taken as down because fencing is off. */
  function takenAsDown(key: string): string | undefined {
    if (view.fencing) return undefined;
    const recorded = view.copiesOf(key);
    if (!recorded) return undefined;
    for (const name of Object.keys(recorded)) {
      const node = view.nodeByName.get(name);
      const state = recorded[name]!.state;
      if (node?.state === 'unclean' && state !== 'stopped' && sit.condition(key, node) === 'stopped') return name;
    }
    return undefined;
  }

  function startReason(ops: CopyOps, t: Target | undefined): string {
    if (ops.from === 'failed') return `recover after ${ops.why} on ${ops.node.name}`;
    if (ops.stop) return `restart: ${ops.why}`;
    const lost = t && !t.top.isClone && !view.fencing ? takenAsDown(ops.key) : undefined;
    if (lost) return `recover from ${lost}: unclean and fencing is off, taken as down`;
    if (t && !t.top.isClone && t.current.size > 0) {
      for (const n of t.current.keys()) if (n !== ops.node.index) return `move from ${nodes[n]!.name}: ${leaveReason(t, n)}`;
    }
    return t?.decision ?? 'start';
  }

  /** Why a copy leaves a node: it may not host, it is banned there, or another node scores higher. */
  function leaveReason(t: Target, n: number): string {
    const name = nodes[n]!.name;
    const cannot = sit.cannotHost.get(n);
    if (cannot) return cannot;
    const ban = t.contributions.find((c) => c.node === name && c.score <= -INFINITY);
    if (ban) return `${name} is banned: ${ban.source}`;
    const follows = t.baseScore <= -INFINITY ? t.contributions.find((c) => c.node === '*' && c.source.startsWith('colocation')) : undefined;
    if (follows && !t.scores.has(n)) return `${follows.source.replace(/: only where .*/, '')}: it leaves ${name}`;
    const here = t.scores.get(n) ?? t.baseScore;
    if (here < 0) return `${name} scores ${formatScore(here)}`;
    const there = [...t.copies.keys()].find((x) => x !== n);
    if (there === undefined) return t.decision;
    const s = t.scores.get(there) ?? t.baseScore;
    return `${nodes[there]!.name} scores ${formatScore(s)} > ${name} ${formatScore(here)}`;
  }

  function promoteReason(ops: CopyOps, t: Target | undefined): string {
    const was = Object.entries(view.copiesOf(ops.key) ?? {}).find(([n, c]) => n !== ops.node.name && c.state === 'promoted');
    const old = was ? view.nodeByName.get(was[0]) : undefined;
    if (old) {
      const lost = old.state !== 'online' || sit.fence.has(old.index);
      const why = sit.cannotHost.get(old.index);
      return `promote on ${ops.node.name}: the primary on ${old.name} is ${lost ? 'lost' : 'demoted'}${why ? ` (${why})` : ''}`;
    }
    return `promote on ${ops.node.name}${t ? `: ${t.decision}` : ''}`;
  }

  function demoteReason(ops: CopyOps, t: Target | undefined): string {
    if (ops.from === 'failed') return `${ops.why} while promoted on ${ops.node.name}`;
    if (ops.to === 'stopped') return `demote before stopping: ${stopWhy(ops, t)}`;
    return `demote on ${ops.node.name}${t ? `: ${t.decision}` : ''}`;
  }

  function describe(): void {
    for (const [key, list] of copyOps) {
      const top = list[0]!.prim?.top;
      const stops = list.filter((x) => x.stop && !x.start);
      const starts = list.filter((x) => x.start && !x.stop);
      const paired = new Set<CopyOps>();
      if (top && !top.isClone && starts.length === 1 && stops.length >= 1) {
        const to = starts[0]!;
        const from = stops.find((s) => s.from === 'failed' || s.implied) ?? stops[0]!;
        paired.add(to).add(from);
        const failed = from.from === 'failed';
        transitions.push({
          kind: failed ? 'recover' : 'move',
          subject: key,
          from: from.node.name,
          to: to.node.name,
          reason: from.implied
            ? top.members.some((m) => m.policy.requires === 'fencing')
              ? `${sit.fence.get(from.node.index) ?? from.node.name}; fenced first`
              : `${sit.fence.get(from.node.index) ?? from.node.name}; requires ${top.policy.requires}: recovered without waiting for the fence`
            : stopReason(from, targets.get(top.id)),
        });
        if (to.promote) transitions.push({ kind: 'promote', subject: key, to: to.node.name, reason: promoteReason(to, targets.get(top.id)) });
      }
      if (top && !top.isClone && starts.length === 1 && stops.length === 0) {
        const lost = takenAsDown(key);
        if (lost) {
          const to = starts[0]!;
          paired.add(to);
          transitions.push({ kind: 'move', subject: key, from: lost, to: to.node.name, reason: `${lost} is unclean and fencing is off: taken as down` });
          if (to.promote) transitions.push({ kind: 'promote', subject: key, to: to.node.name, reason: promoteReason(to, targets.get(top.id)) });
        }
      }
      for (const ops of list) {
        const at = ops.node.name;
        const t = ops.prim ? targets.get(ops.prim.top.id) : undefined;
        if (!paired.has(ops)) {
          if (ops.stop && ops.start) {
            transitions.push({ kind: ops.from === 'failed' ? 'recover' : 'restart', subject: key, from: at, to: at, reason: stopReason(ops, t) });
          } else if (ops.stop) {
            transitions.push({ kind: 'stop', subject: key, from: at, reason: stopReason(ops, t) });
          } else if (ops.start) {
            transitions.push({ kind: 'start', subject: key, to: at, reason: startReason(ops, t) });
          } else if (ops.probe) {
            transitions.push({ kind: 'probe', subject: key, to: at, reason: `state on ${at} unknown` });
          }
          if (ops.promote && !(ops.stop && ops.start)) transitions.push({ kind: 'promote', subject: key, to: at, reason: promoteReason(ops, t) });
        }
        if (ops.demote && !ops.stop) transitions.push({ kind: 'demote', subject: key, from: at, reason: demoteReason(ops, t) });
      }
    }
    for (const t of targets.values()) {
      // Wanted to run but cannot: say so once, so the operator sees it.
      if (!t.frozen && t.blocked !== undefined) transitions.push({ kind: 'blocked', subject: t.top.id, reason: t.blocked });
    }
  }
}

const NO_MONITORS: readonly MonitorOp[] = [];

function timeout(prim: PrimView | undefined, op: 'start' | 'stop' | 'promote' | 'demote'): { timeout?: number } {
  return prim ? { timeout: prim.timeouts[op] } : {};
}

function sortedNodes(view: ClusterView, names: string[]): string[] {
  if (names.length < 2) return names;
  return names.sort((a, b) => (view.nodeByName.get(a)?.index ?? 1e9) - (view.nodeByName.get(b)?.index ?? 1e9) || (a < b ? -1 : a > b ? 1 : 0));
}
