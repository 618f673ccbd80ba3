// What a running cluster can take through the API (`haven apply`) and what only a rolling
// restart can change (docs/operations.md, "Changing the configuration"). Pure: two parsed
// configurations in, the fixed fields that differ out.
//
// Live: resources, constraints, fence devices and fencing topology, and the cluster policy the
// controller alone reads (fencing, symmetric, placementStrategy, stopOrphans, maintenance,
// defaults, confirmation.timeout), and a node's attributes, capacity, standby and maintenance.
//
// Fixed, because a part other than the controller read them when it started, or because they
// say who is in the cluster and how it is reached:
// - nodes (which there are, in which order, their addresses), rings, controllers, the cluster's
//   name, heartbeat timing, agentPort: the heartbeat receiver, the agents and the API listen by
//   them;
// - quorum (lease, controllerVotes), noQuorumPolicy, confirmation.enabled and confirmation.peers:
//   every agent read them from its own file at start and applies them alone when it is cut off
//   (self-fencing), or sends its peer heartbeats by them. A controller assuming a policy its agents do not apply could start a
//   resource a second time while the first copy still runs.

import { DEFAULTS, type Config } from '../model/config.js';
import { formatDuration } from '../model/units.js';
import { canonical } from '../config/diff.js';

/** One field that differs but cannot change while the cluster runs. */
export interface FixedChange {
  /** `nodes`, `cluster.heartbeat`, `nodes.n2.addresses`. */
  readonly field: string;
  /** `n4 added`, `50 ms → 100 ms` */
  readonly detail: string;
}

/** The fixed fields that differ from `running` to `next` (empty: `next` can be applied live). */
export function fixedChanges(running: Config, next: Config): FixedChange[] {
  const out: FixedChange[] = [];
  const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
  const field = (name: string, a: unknown, b: unknown, format: (v: unknown) => string = show): void => {
    if (!same(a, b)) out.push({ field: name, detail: `${format(a)} → ${format(b)}` });
  };
  const ms = (v: unknown): string => formatDuration(v as number);

  const a = running.cluster;
  const b = next.cluster;
  field('cluster.name', a.name, b.name);
  field('cluster.heartbeat.interval', a.heartbeat?.interval ?? DEFAULTS.heartbeatInterval, b.heartbeat?.interval ?? DEFAULTS.heartbeatInterval, ms);
  field('cluster.heartbeat.ringTimeout', a.heartbeat?.ringTimeout ?? DEFAULTS.ringTimeout, b.heartbeat?.ringTimeout ?? DEFAULTS.ringTimeout, ms);
  field('cluster.agentPort', a.agentPort ?? DEFAULTS.agentPort, b.agentPort ?? DEFAULTS.agentPort);
  field('cluster.quorum.lease', a.quorum?.lease ?? DEFAULTS.lease, b.quorum?.lease ?? DEFAULTS.lease, ms);
  field('cluster.quorum.controllerVotes', a.quorum?.controllerVotes ?? DEFAULTS.controllerVotes, b.quorum?.controllerVotes ?? DEFAULTS.controllerVotes);
  field('cluster.noQuorumPolicy', a.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy, b.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy);
  field('cluster.confirmation.enabled', a.confirmation?.enabled ?? DEFAULTS.confirmation, b.confirmation?.enabled ?? DEFAULTS.confirmation);
  field('cluster.confirmation.peers', a.confirmation?.peers ?? DEFAULTS.confirmationPeers, b.confirmation?.peers ?? DEFAULTS.confirmationPeers);

  const ringsA = (running.rings ?? []).map((r) => ({ name: r.name, port: r.port ?? DEFAULTS.ringPort }));
  const ringsB = (next.rings ?? []).map((r) => ({ name: r.name, port: r.port ?? DEFAULTS.ringPort }));
  if (!same(ringsA, ringsB)) out.push({ field: 'rings', detail: listChange(ringsA.map((r) => `${r.name}:${r.port}`), ringsB.map((r) => `${r.name}:${r.port}`)) });

  const ctlA = (running.controllers ?? []).map((c) => ({ name: c.name, addresses: c.addresses, apiPort: c.apiPort ?? DEFAULTS.apiPort }));
  const ctlB = (next.controllers ?? []).map((c) => ({ name: c.name, addresses: c.addresses, apiPort: c.apiPort ?? DEFAULTS.apiPort }));
  if (!same(ctlA, ctlB)) {
    const namesA = ctlA.map((c) => c.name);
    const namesB = ctlB.map((c) => c.name);
    out.push({ field: 'controllers', detail: same(namesA, namesB) ? `addresses or apiPort of ${ctlA.filter((c, i) => !same(c, ctlB[i])).map((c) => c.name).join(', ')}` : listChange(namesA, namesB) });
  }

  const namesA = running.nodes.map((n) => n.name);
  const namesB = next.nodes.map((n) => n.name);
  if (!same(namesA, namesB)) out.push({ field: 'nodes', detail: listChange(namesA, namesB) });
  else {
    running.nodes.forEach((n, i) => {
      const m = next.nodes[i]!;
      if (!same(n.addresses ?? {}, m.addresses ?? {})) out.push({ field: `nodes.${n.name}.addresses`, detail: `${show(n.addresses ?? {})} → ${show(m.addresses ?? {})}` });
    });
  }
  return out;
}

/** The message of the refusal: which fields, and what to do instead. */
export function describeFixed(changes: readonly FixedChange[]): string {
  return `cannot change while the cluster runs: ${changes.map((c) => `${c.field} (${c.detail})`).join('; ')}`;
}

export const ROLLING_RESTART_HINT =
  'these need a rolling restart: put the new file on every host, then restart the agents and the controllers one at a time (docs/operations.md, "Changing the configuration"); apply the rest without them';

function listChange(a: readonly string[], b: readonly string[]): string {
  const added = b.filter((x) => !a.includes(x));
  const removed = a.filter((x) => !b.includes(x));
  const parts = [...added.map((x) => `${x} added`), ...removed.map((x) => `${x} removed`)];
  return parts.length > 0 ? parts.join(', ') : `order ${a.join(', ')} → ${b.join(', ')}`;
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
