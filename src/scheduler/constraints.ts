// After placement: copies whose mandatory prerequisites will not hold are dropped, until nothing
// changes. "then" cannot run without "first"; a dependent with a +INFINITY colocation cannot run
// where its primary does not.

import { INFINITY } from '../model/units.js';
import { runsAs, type Target } from './allocate.js';
import type { ClusterView } from './cluster.js';

/** Returns the resources that lost every copy they were placed with, and why. */
export function enforcePrerequisites(view: ClusterView, targets: ReadonlyMap<string, Target>): Map<number, string> {
  const hadCopies = new Set<Target>();
  for (const t of targets.values()) if (t.copies.size > 0 && !t.frozen) hadCopies.add(t);
  const lost = (): Map<number, string> => {
    const out = new Map<number, string>();
    for (const t of hadCopies) if (t.copies.size === 0) out.set(t.top.index, t.decision);
    return out;
  };
  const orders = view.orders.filter((o) => (o.kind ?? 'mandatory') === 'mandatory');
  const colocs = [...view.colocationsOf.values()].flat().filter((c) => c.score >= INFINITY && c.role !== 'promoted');
  const bans = [...view.colocationsOf.values()].flat().filter((c) => c.score <= -INFINITY && c.role !== 'promoted');
  // Colocations of a promoted role decide where the dependent may be promoted.
  const promotions = [...view.colocationsOf.values()].flat().filter((c) => c.role === 'promoted' && (c.score >= INFINITY || c.score <= -INFINITY));
  for (let round = 0; round <= orders.length + colocs.length + bans.length + promotions.length; round++) {
    let changed = false;
    for (const o of orders) {
      const first = targets.get(o.first);
      const then = targets.get(o.then);
      if (!first || !then || then.frozen) continue;
      const action = o.firstAction ?? 'start';
      const running = first.copies.size > 0 && first.runMembers > 0;
      const ok = action === 'start' ? running : action === 'promote' ? first.promoted.size > 0 : true;
      const interleaved = first.top.isClone && then.top.isClone && then.top.interleave;
      if (!ok) {
        const why =
          action === 'promote' && running
            ? `order ${o.id}: waits for ${o.first} to be promoted (no copy can be promoted yet)`
            : `order ${o.id}: needs ${o.first} to ${action}, which will not happen`;
        changed = drop(then, () => true, why) || changed;
      } else if (interleaved && action === 'start') {
        changed = drop(then, (n) => !first.copies.has(n), `order ${o.id} (interleaved): no copy of ${o.first} on that node`) || changed;
      } else if (interleaved && action === 'promote') {
        changed = drop(then, (n) => !first.promoted.has(n), `order ${o.id} (interleaved): ${o.first} is not promoted on that node`) || changed;
      }
    }
    for (const c of colocs) {
      const dep = targets.get(c.resource);
      const primary = targets.get(c.with);
      if (!dep || !primary || dep.frozen) continue;
      const has = (n: number) => primary.runMembers > 0 && runsAs(primary, n, c.withRole);
      changed = drop(dep, (n) => !has(n), `colocation ${c.id}: ${c.with} does not run there`) || changed;
    }
    for (const c of bans) {
      // Placement honours these unless another rule forced the dependent there: drop it, then.
      const dep = targets.get(c.resource);
      const primary = targets.get(c.with);
      if (!dep || !primary || dep.frozen) continue;
      const with_ = (n: number) => runsAs(primary, n, c.withRole);
      changed = drop(dep, with_, `colocation ${c.id}: may not run where ${c.with} runs`) || changed;
    }
    for (const c of promotions) {
      const dep = targets.get(c.resource);
      const primary = targets.get(c.with);
      if (!dep || !primary || dep.frozen) continue;
      for (const n of [...dep.promoted]) {
        const there = primary.runMembers > 0 && runsAs(primary, n, c.withRole);
        if (c.score >= INFINITY ? there : !there) continue;
        if (dep.current.get(n)?.fixed.size) continue;
        dep.promoted.delete(n);
        dep.decision += `; not promoted on ${view.nodes[n]!.name} (colocation ${c.id})`;
        changed = true;
      }
    }
    if (!changed) return lost();
  }
  return lost();
}

/** Drops the copies on nodes matching `where`, except copies that must stay as they are. */
function drop(t: Target, where: (node: number) => boolean, why: string): boolean {
  let changed = false;
  for (const n of [...t.copies.keys()]) {
    if (!where(n)) continue;
    const fixed = t.current.get(n)?.fixed.size ?? 0;
    if (fixed > 0) {
      if (t.copies.get(n) !== fixed) {
        t.copies.set(n, fixed);
        changed = true;
      }
      continue;
    }
    t.copies.delete(n);
    t.promoted.delete(n);
    changed = true;
  }
  if (changed) {
    t.decision = why;
    t.blocked = why;
  }
  return changed;
}
