// The first judgement of a cycle: which nodes must be fenced, which may host resources, and what
// each recorded copy really means given its node's state (a copy on a powered-off node is stopped;
// one on an unclean node is lost until the node is fenced).

import type { CopyStatus } from '../model/status.js';
import { baseId, lastFailure, onFailOf, own, type ClusterView, type NodeView, type PrimView } from './cluster.js';

/**
 * stopped/started/promoted/failed/unknown: as observed on a reachable node.
 * lost: was (or may be) active on an unclean node that is fenced in this plan: its stop is implied by the fence.
 * stuck: active on an unclean node that cannot be fenced now: nothing may replace it yet.
 */
export type CopyCondition = 'stopped' | 'started' | 'promoted' | 'failed' | 'unknown' | 'lost' | 'stuck';

export interface Situation {
  /** May act at all on resources that require quorum. */
  readonly quorumOk: boolean;
  /** Nodes to fence in this plan, with the reason. */
  readonly fence: ReadonlyMap<number, string>;
  /** Why a node may not host resources now; absent: it may. */
  readonly cannotHost: ReadonlyMap<number, string>;
  /** Unclean nodes that are not fenced in this plan (fence under way, no quorum, or fencing off). */
  readonly unfencedUnclean: readonly number[];
  /** Online nodes whose agents have not reported their resources yet. */
  readonly unprobed: readonly number[];
  condition(key: string, node: NodeView): CopyCondition;
  copy(key: string, node: string): CopyStatus | undefined;
}

const ACTIVE: ReadonlySet<string> = new Set(['started', 'promoted', 'failed', 'unknown']);

export function assess(view: ClusterView): Situation {
  const quorumOk = view.quorum || view.noQuorumPolicy === 'ignore';
  const canFence = view.fencing && quorumOk && !view.maintenance;
  const fence = new Map<number, string>();
  const cannotHost = new Map<number, string>();
  const unfencedUnclean: number[] = [];

  for (const n of view.nodes) {
    if (n.fencing && n.state === 'online') {
      // A fence under way of a node that still answers: nothing there is trusted until it completes.
      unfencedUnclean.push(n.index);
    } else if (n.state === 'unclean') {
      if (n.fencing) unfencedUnclean.push(n.index);
      else if (canFence) fence.set(n.index, `${n.name} is unclean (lost without a clean stop)`);
      else unfencedUnclean.push(n.index);
    }
  }

  // Failures whose consequence is a fence, or standby, of an online node.
  const standby = new Map<number, string>();
  for (const [primId, byNode] of view.failures) {
    const prim = view.primById.get(primId);
    if (!prim) continue;
    for (const [nodeName] of byNode) {
      const node = view.nodeByName.get(nodeName);
      if (!node || node.state !== 'online') continue;
      const f = lastFailure(view, primId, nodeName);
      if (!f) continue;
      const onFail = onFailOf(view, prim, f.operation);
      if (onFail === 'fence' && stillFailed(view, prim, nodeName)) {
        if (canFence && !fence.has(node.index) && !node.maintenance) {
          fence.set(node.index, `${prim.id} ${f.operation} failed on ${nodeName} (on-fail=fence)`);
        }
      } else if (onFail === 'standby' && !standby.has(node.index)) {
        standby.set(node.index, `${prim.id} ${f.operation} failed there (on-fail=standby)`);
      }
    }
  }

  for (const n of view.nodes) {
    const why = view.maintenance
      ? 'the cluster is in maintenance'
      : n.state !== 'online'
        ? `${n.name} is ${n.state}`
        : n.fencing
          ? `a fence of ${n.name} is under way`
          : fence.has(n.index)
          ? `${n.name} is to be fenced`
          : n.maintenance
            ? `${n.name} is in maintenance`
            : n.standby
              ? `${n.name} is in standby`
              : standby.get(n.index);
    if (why !== undefined) cannotHost.set(n.index, why);
  }

  const unprobed = view.nodes.filter((n) => n.state === 'online' && !n.probed && !n.maintenance).map((n) => n.index);

  const copy = (key: string, node: string) => own(view.copiesOf(key), node);
  const condition = (key: string, node: NodeView): CopyCondition => {
    const recorded = copy(key, node.name)?.state ?? 'stopped';
    switch (node.state) {
      case 'offline':
      case 'fenced':
        return 'stopped';
      case 'unclean': {
        if (!ACTIVE.has(recorded)) return 'stopped';
        if (fence.has(node.index)) return 'lost';
        // What does not require fencing does not wait for it: with fencing off, or while a fence is
        // under way, the unclean node is taken as down for it (Pacemaker's semantics) — once its
        // lease has ended, so its agent stopped it (Haven's lease; `leased` absent: ended).
        const prim = view.primById.get(baseId(key));
        const requiresFencing = prim === undefined ? view.fencing : prim.policy.requires === 'fencing';
        if (!requiresFencing && (!view.fencing || node.fencing)) return node.leased && prim?.policy.requires === 'quorum' ? 'stuck' : 'stopped';
        return 'stuck';
      }
      case 'online':
        if (fence.has(node.index) && ACTIVE.has(recorded)) return 'lost';
        if (node.fencing && ACTIVE.has(recorded)) return 'stuck';
        return recorded;
    }
  };

  return { quorumOk, fence, cannotHost, unfencedUnclean, unprobed, condition, copy };
}

/** A failed copy of the primitive is still recorded on the node (the failure is not yet handled). */
function stillFailed(view: ClusterView, prim: PrimView, node: string): boolean {
  const top = prim.top;
  for (let slot = 0; slot < top.slots; slot++) {
    const key = slot === 0 ? prim.id : `${prim.id}:${slot}`;
    if (own(view.copiesOf(key), node)?.state === 'failed') return true;
  }
  return false;
}

/** Active in the sense of "occupies the node": counts against placement and must be stopped to move. */
export function isActive(c: CopyCondition): boolean {
  return c === 'started' || c === 'promoted' || c === 'failed' || c === 'stuck';
}
