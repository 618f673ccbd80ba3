// Pure: the nftables ruleset of a lab's switch namespace, from the faults in force. Cuts,
// partitions and loss act on the bridges, port by port, like a managed switch: they see every
// frame (ARP included) whatever addresses the hosts carry, VIPs that move included. The hosts
// keep carrier: a cut is a silent loss, as when a switch or a cable beyond it fails.
//
// The whole table is replaced in one nft transaction (add, delete, define), so applying it is
// idempotent and never leaves half a ruleset.
//
// Delay is the exception: this kernel has neither sch_netem nor nft's queue statement, so the
// frames of a delayed host go to an NFQUEUE delay line (delay-queue.py) through an iptables
// rule on the switch's FORWARD chain, which br_netfilter runs for bridged IPv4 frames
// (`renderDelayRules`, applied whole with iptables-restore). ARP is not delayed.

import type { Block, Cut, Degrade, HostState } from './state.js';

export interface RulesetInput {
  /** The table's name: the lab's prefix without the dash (nft names allow no "-"). */
  readonly table: string;
  readonly hosts: readonly HostState[];
  readonly cuts: readonly Cut[];
  readonly blocks: readonly Block[];
  readonly degrades: readonly Degrade[];
}

export function tableName(prefix: string): string {
  return prefix.replace(/-$/, '').replace(/[^a-zA-Z0-9_]/g, '_');
}

function ports(hosts: readonly HostState[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    const h = hosts.find((x) => x.name === name);
    if (h !== undefined) out.push(...h.links.map((l) => l.port));
  }
  return out.sort();
}

function set(names: readonly string[]): string {
  return `{ ${names.map((n) => `"${n}"`).join(', ')} }`;
}

/** The nft script that makes the table exactly this (an empty chain when nothing is in force). */
export function renderRuleset(input: RulesetInput): string {
  const rules: string[] = [];
  for (const c of input.cuts) {
    const port = input.hosts.find((h) => h.name === c.host)?.links.find((l) => l.ring === c.ring)?.port;
    if (port === undefined) continue;
    rules.push(`iifname "${port}" counter drop comment "cut ${c.host} ring${c.ring} (from)"`);
    rules.push(`oifname "${port}" counter drop comment "cut ${c.host} ring${c.ring} (to)"`);
  }
  for (const b of input.blocks) {
    const from = ports(input.hosts, b.from);
    const to = ports(input.hosts, b.to);
    if (from.length === 0 || to.length === 0) continue;
    rules.push(`iifname ${set(from)} oifname ${set(to)} counter drop comment "block ${b.from.join(',')} -> ${b.to.join(',')}"`);
  }
  for (const d of input.degrades) {
    if (d.method !== 'bridge' || d.lossPct <= 0) continue;
    const from = ports(input.hosts, [d.host]);
    if (from.length === 0) continue;
    // numgen random mod 100 < p drops p% of the frames the host sends.
    rules.push(`iifname ${set(from)} numgen random mod 100 < ${Math.round(d.lossPct)} counter drop comment "loss ${d.host} ${d.lossPct}%"`);
  }
  return [
    `add table bridge ${input.table}`,
    `delete table bridge ${input.table}`,
    `table bridge ${input.table} {`,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The iptables-restore script of the switch's filter table: one NFQUEUE rule per port of every
 * delayed host (the frames it sends), with --queue-bypass so that frames pass undelayed, never
 * dropped, when no delay line is bound. Empty chains when nothing is delayed.
 */
export function renderDelayRules(hosts: readonly HostState[], degrades: readonly Degrade[]): string {
  const rules: string[] = [];
  for (const d of degrades) {
    if (d.method !== 'bridge' || d.delayMs <= 0 || d.queue === undefined) continue;
    for (const port of ports(hosts, [d.host])) {
      rules.push(`-A FORWARD -m physdev --physdev-in ${port} -m comment --comment "delay ${d.host} ${d.delayMs}ms" -j NFQUEUE --queue-num ${d.queue} --queue-bypass`);
    }
  }
  return ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...rules, 'COMMIT', ''].join('\n');
}
