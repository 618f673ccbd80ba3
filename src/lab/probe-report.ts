// Pure: what a user saw, read off a probe's answers. A probe sends a request every few
// milliseconds and records, for each, when it was sent, when it ended, and which host answered
// (or why it failed). From that list alone this module works out the report that `haven lab
// probe`, the demo and the benches print:
//
// - gaps: maximal runs of consecutive requests (in send order) that all failed; a gap runs
//   from the first failed request's send time to the next successful request's send time
//   (or to the end of the last failure when nothing answered after it: an open gap). The
//   longest gap is the RTO a user would have seen.
// - hand-overs: consecutive successful answers from two different hosts (A → B).
// - split brain: for an active/passive service, two hosts answering in the same period. A host
//   X that answers, then another host Y, then X again, with X's two answers at most
//   `splitWindowMs` apart, means X and Y both served during that time; overlapping episodes
//   are merged. A clean hand-over (A … A, B … B) is never split brain, nor is a fail-back
//   after X had been silent for longer than the window. For an active/active service behind a
//   load balancer, alternating hosts are normal: ignore this part of the report.
//
// - availability: the share of requests answered and the share of the probe's time outside
//   the gaps, each as a percentage and in nines (src/availability/nines.ts), so a scenario reads
//   as what users saw: 99.95 % of requests, 3.3 nines.
//
// Times are milliseconds since the probe started (a monotonic clock); the report also gives
// them as ISO times from `startedAt`.

import { formatNines, formatPercent, nines } from '../availability/nines.js';

export interface ProbeAnswer {
  /** 0, 1, 2, … in send order. */
  readonly seq: number;
  /** When the request was sent, in ms since the probe started. */
  readonly sentMs: number;
  /** When it ended (answer, error or timeout), in ms since the probe started. */
  readonly doneMs: number;
  readonly ok: boolean;
  /** The host that answered, when the service named it (see docs/lab.md: the probe convention). */
  readonly host?: string;
  /** Why it failed: timeout, refused, reset, unreachable, http 503, … */
  readonly error?: string;
}

export interface ReportOptions {
  readonly target: string;
  /** Epoch ms of the probe's time 0. */
  readonly startedAt: number;
  readonly intervalMs: number;
  /** How long the probe ran (ms), when known; else the last request's end. */
  readonly durationMs?: number;
  /** Request slots the sender missed because it ran late (never sent). */
  readonly missedSlots?: number;
  /** See the header; default 1000 ms. */
  readonly splitWindowMs?: number;
  /** An active/active service: hosts take turns by design, split brain is not judged. */
  readonly activeActive?: boolean;
}

export interface Gap {
  readonly startMs: number;
  readonly endMs: number;
  readonly durationMs: number;
  readonly start: string;
  readonly end: string;
  /** Requests that failed in it. */
  readonly failed: number;
  /** No request succeeded after it (the service had not come back when the probe ended). */
  readonly open: boolean;
  /** The host that answered last before it and first after it, when known. */
  readonly before?: string;
  readonly after?: string;
}

export interface Handover {
  readonly from: string;
  readonly to: string;
  /** Send time of the last answer from `from`, and of the first from `to`. */
  readonly lastFromMs: number;
  readonly firstToMs: number;
  readonly gapMs: number;
  readonly at: string;
}

export interface SplitBrain {
  readonly hosts: readonly string[];
  readonly startMs: number;
  readonly endMs: number;
  readonly start: string;
  readonly end: string;
  /** Answers from each host inside the episode. */
  readonly answers: Readonly<Record<string, number>>;
}

export interface ProbeReport {
  readonly target: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly intervalMs: number;
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  readonly missedSlots: number;
  /** Failures by reason. */
  readonly errors: Readonly<Record<string, number>>;
  /** Successful answers by host ("?" when the service did not name itself). */
  readonly hosts: Readonly<Record<string, number>>;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  readonly gaps: readonly Gap[];
  /** The longest gap: what a user saw as the recovery time. Null when nothing failed. */
  readonly rto: Gap | null;
  readonly handovers: readonly Handover[];
  readonly splitBrain: readonly SplitBrain[];
  /** Null when no request was sent. */
  readonly availability: Availability | null;
  /** Judged as an active/active service (no split brain; hand-overs are normal). */
  readonly activeActive: boolean;
}

/** What users saw, as availability. Nines are null when nothing failed (no finite figure). */
export interface Availability {
  /** Requests answered, in % of requests sent. */
  readonly requestsPercent: number;
  readonly requestsNines: number | null;
  /** Time outside gaps, in % of the probe's duration. */
  readonly timePercent: number;
  readonly timeNines: number | null;
  /** The gaps' total length. */
  readonly downtimeMs: number;
}

export const DEFAULT_SPLIT_WINDOW_MS = 1000;
const UNKNOWN_HOST = '?';

function iso(startedAt: number, ms: number): string {
  return new Date(startedAt + Math.round(ms)).toISOString();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function analyzeProbe(answers: readonly ProbeAnswer[], opts: ReportOptions): ProbeReport {
  const at = (ms: number): string => iso(opts.startedAt, ms);
  const window = opts.splitWindowMs ?? DEFAULT_SPLIT_WINDOW_MS;
  const sorted = [...answers].sort((a, b) => a.sentMs - b.sentMs || a.seq - b.seq);

  const errors: Record<string, number> = {};
  const hosts: Record<string, number> = {};
  const latencies: number[] = [];
  for (const a of sorted) {
    if (a.ok) {
      const h = a.host ?? UNKNOWN_HOST;
      hosts[h] = (hosts[h] ?? 0) + 1;
      latencies.push(a.doneMs - a.sentMs);
    } else {
      const e = a.error ?? 'error';
      errors[e] = (errors[e] ?? 0) + 1;
    }
  }
  latencies.sort((x, y) => x - y);

  // Gaps: runs of failures between successes.
  const gaps: Gap[] = [];
  let runStart = -1;
  let lastOkHost: string | undefined;
  const closeGap = (endIndex: number, open: boolean): void => {
    const first = sorted[runStart] as ProbeAnswer;
    const failed = sorted.slice(runStart, endIndex);
    const endMs = open ? Math.max(...failed.map((f) => f.doneMs)) : (sorted[endIndex] as ProbeAnswer).sentMs;
    const after = open ? undefined : (sorted[endIndex] as ProbeAnswer).host;
    gaps.push({
      startMs: round(first.sentMs),
      endMs: round(endMs),
      durationMs: round(endMs - first.sentMs),
      start: at(first.sentMs),
      end: at(endMs),
      failed: failed.length,
      open,
      ...(lastOkHost === undefined ? {} : { before: lastOkHost }),
      ...(after === undefined ? {} : { after }),
    });
  };
  sorted.forEach((a, i) => {
    if (!a.ok) {
      if (runStart < 0) runStart = i;
      return;
    }
    if (runStart >= 0) {
      closeGap(i, false);
      runStart = -1;
    }
    lastOkHost = a.host;
  });
  if (runStart >= 0) closeGap(sorted.length, true);
  let rto: Gap | null = null;
  for (const g of gaps) if (rto === null || g.durationMs > rto.durationMs) rto = g;

  // Hand-overs and split brain, over the successful answers that name a host.
  const named = sorted.filter((a): a is ProbeAnswer & { host: string } => a.ok && a.host !== undefined);
  const handovers: Handover[] = [];
  for (let i = 1; i < named.length; i++) {
    const prev = named[i - 1] as ProbeAnswer & { host: string };
    const cur = named[i] as ProbeAnswer & { host: string };
    if (prev.host !== cur.host) {
      handovers.push({ from: prev.host, to: cur.host, lastFromMs: round(prev.sentMs), firstToMs: round(cur.sentMs), gapMs: round(cur.sentMs - prev.sentMs), at: at(cur.sentMs) });
    }
  }

  const episodes: { hosts: Set<string>; startMs: number; endMs: number }[] = [];
  const lastSeen = new Map<string, number>();
  for (let i = 0; i < named.length; i++) {
    const cur = named[i] as ProbeAnswer & { host: string };
    const prev = lastSeen.get(cur.host);
    lastSeen.set(cur.host, cur.sentMs);
    if (prev === undefined || cur.sentMs - prev > window) continue;
    // Did another host answer between this host's two answers?
    const others = new Set<string>();
    for (let j = i - 1; j >= 0; j--) {
      const a = named[j] as ProbeAnswer & { host: string };
      if (a.sentMs < prev) break;
      if (a.host !== cur.host) others.add(a.host);
    }
    if (others.size === 0) continue;
    const last = episodes[episodes.length - 1];
    if (last !== undefined && prev <= last.endMs) {
      last.endMs = Math.max(last.endMs, cur.sentMs);
      last.hosts.add(cur.host);
      for (const o of others) last.hosts.add(o);
    } else {
      episodes.push({ hosts: new Set([cur.host, ...others]), startMs: prev, endMs: cur.sentMs });
    }
  }
  const splitBrain: SplitBrain[] = opts.activeActive === true ? [] : episodes.map((e) => {
    const counts: Record<string, number> = {};
    for (const a of named) if (a.sentMs >= e.startMs && a.sentMs <= e.endMs && e.hosts.has(a.host)) counts[a.host] = (counts[a.host] ?? 0) + 1;
    return { hosts: [...e.hosts].sort(), startMs: round(e.startMs), endMs: round(e.endMs), start: at(e.startMs), end: at(e.endMs), answers: counts };
  });

  const ok = sorted.filter((a) => a.ok).length;
  const lastDone = sorted.reduce((m, a) => Math.max(m, a.doneMs), 0);
  const durationMs = opts.durationMs ?? lastDone;
  return {
    target: opts.target,
    startedAt: new Date(opts.startedAt).toISOString(),
    durationMs: round(durationMs),
    intervalMs: opts.intervalMs,
    requests: sorted.length,
    ok,
    failed: sorted.length - ok,
    missedSlots: opts.missedSlots ?? 0,
    errors,
    hosts,
    latencyMs: latencies.length === 0 ? null : { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies[latencies.length - 1] as number) },
    gaps,
    rto,
    handovers,
    splitBrain,
    availability: availabilityOf(sorted.length, ok, gaps, durationMs),
    activeActive: opts.activeActive === true,
  };
}

function availabilityOf(requests: number, ok: number, gaps: readonly Gap[], durationMs: number): Availability | null {
  if (requests === 0) return null;
  const downtimeMs = Math.min(durationMs, gaps.reduce((sum, g) => sum + g.durationMs, 0));
  const byRequests = ok / requests;
  const byTime = durationMs > 0 ? 1 - downtimeMs / durationMs : ok === requests ? 1 : 0;
  const finite = (n: number): number | null => (Number.isFinite(n) ? Math.round(n * 100) / 100 : null);
  return {
    requestsPercent: Math.round(byRequests * 1e8) / 1e6,
    requestsNines: finite(nines(byRequests)),
    timePercent: Math.round(byTime * 1e8) / 1e6,
    timeNines: finite(nines(byTime)),
    downtimeMs: round(downtimeMs),
  };
}

/** One line: "99.95 % of requests (3.3 nines), 99.91 % of the time (3.0 nines, 450 ms in gaps)". */
export function renderAvailability(a: Availability, requests: number): string {
  if (a.requestsNines === null && a.timeNines === null) return `100 % (no failure in ${requests} requests)`;
  const part = (percent: number, n: number | null): string => `${formatPercent(percent / 100)} % (${n === null ? '∞' : formatNines(n)} nines)`;
  return `${part(a.requestsPercent, a.requestsNines)} of requests, ${part(a.timePercent, a.timeNines)} of the time (${ms(a.downtimeMs)} in gaps)`;
}

function clock(iso: string): string {
  return iso.slice(11, 23);
}

function ms(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`;
}

/** The report as a few lines for a terminal. */
export function renderProbeReport(r: ProbeReport): string {
  const lines: string[] = [];
  lines.push(`probe ${r.target}: ${r.requests} requests in ${(r.durationMs / 1000).toFixed(2)} s, one every ${r.intervalMs} ms${r.missedSlots > 0 ? ` (${r.missedSlots} slots missed: the prober ran late)` : ''}`);
  const errs = Object.entries(r.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  lines.push(`  answered ${r.ok}, failed ${r.failed}${errs === '' ? '' : ` (${errs})`}`);
  const hosts = Object.entries(r.hosts)
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  if (hosts !== '') lines.push(`  answered by: ${hosts}`);
  if (r.requests === 0) lines.push('  no request was sent');
  else if (r.rto === null) lines.push('  longest gap (RTO): none, every request was answered');
  else {
    const g = r.rto;
    const around = g.before !== undefined || g.after !== undefined ? `, ${g.before ?? '–'} → ${g.after ?? '–'}` : '';
    lines.push(`  longest gap (RTO): ${ms(g.durationMs)}, ${clock(g.start)} → ${clock(g.end)} (${g.failed} failed${g.open ? ', still failing at the end' : ''}${around})`);
    if (r.gaps.length > 1) lines.push(`  gaps: ${r.gaps.length} (${r.gaps.map((x) => ms(x.durationMs)).join(', ')})`);
  }
  if (r.activeActive) lines.push(`  hand-overs: ${r.handovers.length} (active/active: hosts take turns by design; split brain not judged)`);
  else if (r.handovers.length === 0) lines.push('  hand-overs: none');
  else for (const h of r.handovers.slice(0, 10)) lines.push(`  hand-over: ${h.from} → ${h.to} at ${clock(h.at)} (no answer for ${ms(h.gapMs)})`);
  if (!r.activeActive && r.handovers.length > 10) lines.push(`  … ${r.handovers.length - 10} more hand-overs`);
  if (r.splitBrain.length === 0 && !r.activeActive) lines.push('  split brain: none seen');
  for (const s of r.splitBrain) {
    const counts = Object.entries(s.answers)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(`  SPLIT BRAIN: ${s.hosts.join(' and ')} both answered ${clock(s.start)} → ${clock(s.end)} (${counts})`);
  }
  if (r.availability !== null) lines.push(`  availability: ${renderAvailability(r.availability, r.requests)}`);
  if (r.latencyMs !== null) lines.push(`  latency: p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`);
  return `${lines.join('\n')}\n`;
}
