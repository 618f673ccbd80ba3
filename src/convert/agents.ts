// How Haven's agent kinds map onto Pacemaker resource agents, both ways.
//
//   Haven agent           CIB primitive                 parameters
//   ocf:<p>:<t>           class=ocf provider=p type=t   unchanged
//   process               ocf:heartbeat:anything        command → binfile + cmdline_options; others unchanged
//   vip                   ocf:heartbeat:IPaddr2         cidrNetmask → cidr_netmask, interface → nic, arpCount → arp_count
//   haproxy               systemd:haproxy               unchanged (systemd ignores them)
//
// The Haven kinds are marked with the meta attribute `haven-agent` so that a CIB written by
// Haven reads back as the same kind; Pacemaker ignores unknown meta attributes. Without the
// mark, an OCF primitive stays an OCF primitive (Haven runs OCF agents as they are) and
// systemd:haproxy (HAProxy on its own /etc/haproxy/haproxy.cfg) becomes a `process` running
// that file in the foreground, as its unit does: Haven's `haproxy` renders its configuration from
// services the CIB does not describe (docs/pacemaker.md).

import { attrToCib } from './pacemaker.js';

export type HavenAgentKind = 'process' | 'vip' | 'haproxy';

export interface CibAgent {
  readonly class: string;
  readonly provider?: string;
  readonly type: string;
  /** The parameters as written to instance_attributes. */
  readonly params: Record<string, string>;
  /** Set for Haven's own kinds: the value of the haven-agent meta attribute. */
  readonly kind?: HavenAgentKind;
}

/** Haven's vip params → IPaddr2's. */
const VIP_TO_CIB: Record<string, string> = { cidrNetmask: 'cidr_netmask', interface: 'nic', arpCount: 'arp_count' };
const VIP_FROM_CIB: Record<string, string> = Object.fromEntries(Object.entries(VIP_TO_CIB).map(([h, c]) => [c, h]));

/** What runs HAProxy with its own configuration file, as Debian's haproxy.service does. */
export const HAPROXY_OWN_CONFIG = '/usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg';

export function agentToCib(agent: string, params: Readonly<Record<string, string | number | boolean>> | undefined): CibAgent {
  const p: Record<string, string> = {};
  for (const [k, v] of Object.entries(params ?? {})) p[k] = attrToCib(v);
  if (agent.startsWith('ocf:')) {
    const [, provider = '', type = ''] = agent.split(':');
    return { class: 'ocf', provider, type, params: p };
  }
  switch (agent) {
    case 'process': {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(p)) {
        if (k !== 'command') {
          out[k] = v;
          continue;
        }
        const m = /^\s*(\S+)(?:\s+([\s\S]*\S))?\s*$/.exec(v);
        out['binfile'] = m?.[1] ?? v;
        if (m?.[2] !== undefined) out['cmdline_options'] = m[2];
      }
      return { class: 'ocf', provider: 'heartbeat', type: 'anything', params: out, kind: 'process' };
    }
    case 'vip': {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(p)) out[VIP_TO_CIB[k] ?? k] = v;
      return { class: 'ocf', provider: 'heartbeat', type: 'IPaddr2', params: out, kind: 'vip' };
    }
    case 'haproxy':
      return { class: 'systemd', type: 'haproxy', params: p, kind: 'haproxy' };
    default:
      // The config schema admits no other agent; keep the text so nothing is silently lost.
      return { class: 'ocf', provider: 'haven', type: agent, params: p };
  }
}

export type AgentFromCib =
  | { readonly ok: true; readonly agent: string; readonly params: Record<string, string> }
  | { readonly ok: false; readonly why: string };

/** The Haven agent for a CIB primitive; `marker` is its haven-agent meta attribute, if any. */
export function agentFromCib(cls: string, provider: string | undefined, type: string, params: Record<string, string>, marker: string | undefined): AgentFromCib {
  const c = cls.toLowerCase();
  if (marker === 'process' && c === 'ocf' && type === 'anything') {
    const out: Record<string, string> = {};
    const bin = params['binfile'];
    const opts = params['cmdline_options'];
    for (const [k, v] of Object.entries(params)) if (k !== 'binfile' && k !== 'cmdline_options') out[k] = v;
    if (bin !== undefined) return { ok: true, agent: 'process', params: { command: opts ? `${bin} ${opts}` : bin, ...out } };
    return { ok: true, agent: 'process', params };
  }
  if (marker === 'vip' && c === 'ocf' && type === 'IPaddr2') {
    return { ok: true, agent: 'vip', params: Object.fromEntries(Object.entries(params).map(([k, v]) => [VIP_FROM_CIB[k] ?? k, v])) };
  }
  if ((c === 'systemd' || c === 'service') && type === 'haproxy') {
    if (marker === 'haproxy') return { ok: true, agent: 'haproxy', params };
    return { ok: true, agent: 'process', params: { command: HAPROXY_OWN_CONFIG } };
  }
  if (c === 'ocf') {
    if (!provider) return { ok: false, why: 'an OCF primitive needs a provider' };
    if (!/^[A-Za-z0-9_.-]+$/.test(provider) || !/^[A-Za-z0-9_.-]+$/.test(type)) {
      return { ok: false, why: `ocf:${provider}:${type} is not an agent name Haven accepts (letters, digits, "_", "." and "-")` };
    }
    return { ok: true, agent: `ocf:${provider}:${type}`, params };
  }
  if (c === 'stonith') {
    return { ok: false, why: 'fencing devices are not resources in Haven; they are configured as fence devices in a later version, keep fencing on the Pacemaker side until then' };
  }
  return {
    ok: false,
    why: `Haven has no ${c} agent class; declare it as a resource with agent "process" running the service's command in the foreground, or use an OCF agent`,
  };
}
