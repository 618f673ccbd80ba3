// `haven status` as text, like crm_mon: nodes, resources where they run, failures, the
// operator's moves and bans with how long they last (so none is forgotten), and the plan in flight.

import type { ControllerSnapshot } from '../controller/controller.js';
import { formatDuration } from '../model/units.js';

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function ago(now: number, then: number): string {
  return formatDuration(Math.max(0, Math.round((now - then) / 1000) * 1000) || 0) + ' ago';
}

export function renderStatus(s: ControllerSnapshot): string {
  const out: string[] = [];
  out.push(`cluster ${s.cluster} · controller epoch ${s.epoch} · ${s.phase} · ${time(s.now)}`);
  // Several controllers (etcd): who answers, and who leads. Older controllers say neither.
  if (s.role === 'follower') {
    const l = s.leader;
    out.push(`controller ${s.name} follows: ${l ? `${l.name} leads with epoch ${l.epoch}${l.url ? ` (${l.url})` : ''}` : `nobody leads right now${s.lostWhy ? ` (${s.lostWhy})` : ''}`} · this view is the stored state as ${s.name} sees it; commands go to the leader`);
  } else if (s.role === 'leader' && s.name !== undefined) out.push(`controller ${s.name} leads`);
  // The configuration that runs, and where it came from (older controllers say nothing of it).
  if (s.config) out.push(`config: ${s.config.how}`);
  const q = s.quorum;
  out.push(
    `quorum: ${q.quorate ? 'yes' : 'NO'} · hears ${q.heard} of ${q.total} votes · lease ${formatDuration(q.leaseMs)}${q.quorate ? '' : ' · not acting; agents apply the no-quorum policy when their leases lapse'}`,
  );
  out.push('');
  out.push('nodes:');
  const width = Math.max(4, ...s.nodes.map((n) => n.name.length));
  for (const n of s.nodes) {
    const flags = [
      n.standby ? 'standby' : '',
      n.maintenance ? 'maintenance' : '',
      n.fencing ? 'fencing' : '',
      n.isolated ? 'isolated: observed, not acted on, never fenced' : '',
      n.state === 'unclean' && n.leaseEndsInMs > 0 ? `lease may be held ${formatDuration(n.leaseEndsInMs)} more` : '',
      n.state === 'online' && !n.probed ? 'probing' : '',
    ].filter(Boolean);
    out.push(`  ${n.name.padEnd(width)}  ${n.state.padEnd(8)}${flags.length ? ` [${flags.join(', ')}]` : ''}  ${n.reason} (${ago(s.now, n.since)})`);
  }
  out.push('');
  out.push('resources:');
  const copies = s.status.resources ?? {};
  const keys = Object.keys(copies).sort();
  if (keys.length === 0) out.push('  (nothing runs)');
  const kw = Math.max(4, ...keys.map((k) => k.length));
  for (const key of keys) {
    const perNode = copies[key] ?? {};
    const parts = Object.entries(perNode).map(([node, c]) => `${c.state} on ${node}`);
    out.push(`  ${key.padEnd(kw)}  ${parts.join(', ')}`);
  }
  const running = new Set(keys.map((k) => k.replace(/:\d+$/, '')));
  const stopped = s.resources.filter((r) => r.type === 'primitive' && !running.has(r.id)).map((r) => r.id);
  if (stopped.length) out.push(`  stopped: ${stopped.join(', ')}`);
  const failures = s.status.failures ?? [];
  if (failures.length) {
    out.push('');
    out.push('failures:');
    for (const f of failures) out.push(`  ${f.resource} on ${f.node}: ${f.count} (${f.operation ?? 'monitor'}, last ${time(f.last)})  clear with: haven resource cleanup ${f.resource}`);
  }
  if (s.operatorConstraints.length) {
    out.push('');
    out.push('operator constraints:');
    for (const c of s.operatorConstraints) {
      const lasts = c.expires === undefined ? 'until cleared' : `until ${time(c.expires)} (${formatDuration(Math.max(0, Math.round((c.expires - s.now) / 1000)) * 1000)} left)`;
      out.push(`  ${c.id}: ${c.reason}, ${lasts}  clear with: haven resource clear ${c.resource}`);
    }
  }
  out.push('');
  if (s.plan) {
    out.push(`plan: ${s.plan.done}/${s.plan.actions} actions done${s.plan.running.length ? `, running ${s.plan.running.join(', ')}` : ''}`);
    for (const line of s.plan.summary) out.push(`  ${line}`);
  } else out.push(`plan: idle${s.lastPlanAt ? ` (last planned ${ago(s.now, s.lastPlanAt)})` : ''}`);
  return `${out.join('\n')}\n`;
}
