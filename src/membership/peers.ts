// Who hears whom for distributed confirmation (docs/safety.md): each node sends its peer heartbeats
// to the `cluster.confirmation.peers` nodes that follow it in the configured order, wrapping round,
// and the controller asks exactly those when it has lost the node. Pure, so the sender, the agent's
// peer receiver and the controller agree by construction. A bounded set keeps the peer traffic at
// k datagrams per interval per node and ring (not N − 1), and the questions per lost node at k,
// whatever the size of the cluster.

import { DEFAULTS, type Config } from '../model/config.js';

/** How many peers hear each node: cluster.confirmation.peers, or all other nodes when fewer. */
export function peersPerNode(config: Config): number {
  return Math.min(config.cluster.confirmation?.peers ?? DEFAULTS.confirmationPeers, Math.max(0, config.nodes.length - 1));
}

/** The nodes that hear `node`: the k after it in `nodes`, wrapping round; [] for a node not configured. */
export function hearersOf(config: Config, node: string): string[] {
  return around(config, node, +1);
}

/** The nodes `node` hears: the k before it in `nodes`, wrapping round, nearest first; [] for a node not configured. */
export function heardBy(config: Config, node: string): string[] {
  return around(config, node, -1);
}

function around(config: Config, node: string, step: 1 | -1): string[] {
  const names = config.nodes.map((n) => n.name);
  const i = names.indexOf(node);
  if (i < 0) return [];
  const n = names.length;
  return Array.from({ length: peersPerNode(config) }, (_, j) => names[(((i + step * (j + 1)) % n) + n) % n] as string);
}
