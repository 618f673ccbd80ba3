// Pure: the chaos suite's table, summary and replay hints, from a run's result.

import type { ChaosResult, TrialResult } from './harness.js';
import { percentile, type Violation } from './invariants.js';
import { faultsFor } from './plan.js';

export interface ChaosSummary {
  readonly trials: number;
  readonly violations: number;
  readonly trialsWithViolations: number;
  readonly harnessErrors: number;
  readonly recovery: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null; readonly notBack: number };
  readonly byInvariant: Readonly<Record<string, number>>;
}

const systemViolations = (vs: readonly Violation[]): Violation[] => vs.filter((v) => v.invariant !== 'harness');

export function summarize(r: ChaosResult): ChaosSummary {
  const rec = r.trials.map((t) => t.recoveryMs).filter((x): x is number => x !== null);
  const all = [...r.trials.flatMap((t) => t.violations), ...r.overall];
  const byInvariant: Record<string, number> = {};
  for (const v of all) byInvariant[v.invariant] = (byInvariant[v.invariant] ?? 0) + 1;
  const num = (x: number): number | null => (Number.isNaN(x) ? null : x);
  return {
    trials: r.trials.length,
    violations: systemViolations(all).length,
    trialsWithViolations: r.trials.filter((t) => t.violations.length > 0).length,
    harnessErrors: all.length - systemViolations(all).length,
    recovery: { p50: num(percentile(rec, 50)), p99: num(percentile(rec, 99)), max: rec.length === 0 ? null : Math.max(...rec), notBack: r.trials.length - rec.length },
    byInvariant,
  };
}

/** Exit 0 when no trial and nothing overall broke an invariant (or the harness), else 1. */
export function failed(r: ChaosResult): boolean {
  return r.overall.length > 0 || r.trials.some((t) => t.violations.length > 0);
}

const ms = (n: number | null): string => (n === null ? '—' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);

function faultText(t: TrialResult): string {
  return t.detail === undefined ? t.kind : `${t.kind} (${t.detail})`;
}

function targetText(t: TrialResult): string {
  switch (t.role) {
    case 'active':
    case 'leader':
    case 'follower':
      return `${t.target} (${t.role})`;
    case 'etcd':
      return `etcd@${t.target}`;
    default:
      return t.target;
  }
}

/** The command that runs one trial again, with the options that shaped it. */
export function replayCommand(r: ChaosResult, trial: number): string {
  const o = r.options;
  const controllers = r.lab.controllers ?? 1;
  const args = ['haven lab chaos', `--replay ${r.seed}:${trial}`];
  if (controllers !== 1) args.push(`--controllers ${controllers}`);
  if (r.lab.leaderLease !== undefined && r.lab.leaderLease !== 2) args.push(`--leader-lease ${r.lab.leaderLease}`);
  if (o.faults.join() !== faultsFor(controllers).join()) args.push(`--faults ${o.faults.join(',')}`);
  args.push(`--hold ${o.holdMinMs}ms-${o.holdMaxMs}ms`, `--bound ${o.boundMs}ms`);
  if (r.lab.hosts !== 3) args.push(`--hosts ${r.lab.hosts}`);
  if (r.lab.rings !== 2) args.push(`--rings ${r.lab.rings}`);
  return args.join(' ');
}

export function renderTrialLine(t: TrialResult): string {
  const v = t.violations.length === 0 ? 'ok' : `${t.violations.length} violation${t.violations.length === 1 ? '' : 's'} (${t.violations.map((x) => `${x.invariant}: ${x.message}`).join('; ')})`;
  return `trial ${t.trial}: ${faultText(t)} on ${targetText(t)}, held ${ms(t.holdMs)}, recovery ${ms(t.recoveryMs)}, fenced ${t.fenced.join(',') || 'none'}: ${v}`;
}

export function renderChaos(r: ChaosResult): string {
  const rows: string[][] = [['trial', 'fault', 'target', 'held', 'recovery', 'VIP gap', 'VIP on', 'fenced', 'violations']];
  for (const t of r.trials) {
    rows.push([
      String(t.trial),
      faultText(t),
      targetText(t),
      ms(t.holdMs),
      ms(t.recoveryMs),
      ms(t.vipGapMs),
      t.apHosts.join('→') || '-',
      t.fenced.join(',') || '-',
      t.violations.length === 0 ? '-' : [...new Set(t.violations.map((v) => v.invariant))].join(','),
    ]);
  }
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const lines = rows.map((row) => row.map((x, c) => (c === 0 ? x.padStart(widths[c] as number) : x.padEnd(widths[c] as number))).join('  ').trimEnd());
  const s = summarize(r);
  const shape = (r.lab.controllers ?? 1) === 3 ? `, 3 controllers on etcd, leader lease ${r.lab.leaderLease ?? 2} s` : '';
  const out = [`chaos: seed ${r.seed}, lab ${r.lab.name} (${r.lab.hosts} hosts, ${r.lab.rings} rings${shape}), bound ${ms(r.options.boundMs)}, hold ${ms(r.options.holdMinMs)}–${ms(r.options.holdMaxMs)}`, ...lines, ''];
  for (const t of r.trials) {
    for (const v of t.violations) out.push(`trial ${t.trial} (${faultText(t)} on ${t.target}): ${v.invariant}: ${v.message}`);
  }
  for (const v of r.overall) out.push(`overall: ${v.invariant}: ${v.message}`);
  out.push(
    `${s.trials} trials${r.aborted ? ' (aborted)' : ''}, ${s.violations} violation${s.violations === 1 ? '' : 's'}${s.harnessErrors > 0 ? `, ${s.harnessErrors} harness error${s.harnessErrors === 1 ? '' : 's'}` : ''}, recovery p50 ${ms(s.recovery.p50)} / p99 ${ms(s.recovery.p99)} / max ${ms(s.recovery.max)}${s.recovery.notBack > 0 ? `, ${s.recovery.notBack} not back` : ''}, ${(r.durationMs / 1000).toFixed(0)} s`,
  );
  const bad = r.trials.filter((t) => t.violations.length > 0);
  if (bad.length > 0) {
    out.push('replay a failing trial:');
    for (const t of bad.slice(0, 10)) out.push(`  ${replayCommand(r, t.trial)}`);
    if (bad.length > 10) out.push(`  … and ${bad.length - 10} more`);
  }
  return `${out.join('\n')}\n`;
}
