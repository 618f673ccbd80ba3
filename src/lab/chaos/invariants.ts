// Pure: the chaos suite's invariants, checked on what was recorded during a trial.
//
// 1. Never two hosts serving the active/passive service at once: ./timeline.ts (ground truth
//    from the watchers), and the probe's own split-brain episodes (what a user saw).
// 2. No fence of a host that stayed healthy and reachable on at least one ring: only the
//    faults that make a host dead or unreachable may fence it, and only it (./plan.ts,
//    fenceAllowed). A fence attempt counts, whether it succeeded or not.
// 3. Every service back within its bound after the heal: the A/P service through its VIP and
//    every clone copy, as the probe saw them.
// 4. No fail count or configuration lost: every failure recorded before the trial is still
//    there after it with at least its count (a node fenced in the trial may lose its own: a
//    fence resets a node, as Pacemaker's fence clears its transient attributes), and the
//    operator's constraints and the resources are the same.
// With three controllers, across a leader change (docs/chaos.md):
// 5. No action run twice: the same action id done under two epochs in one trial (`twice`), or an
//    action sent by a leader after a newer epoch had begun (`stale`: its commands must be refused).
// 6. No service restarted by a leader change alone (`restarted`): lab-web's PIDs the same after it.

import { fenceAllowed, type FaultPlan } from './plan.js';
import type { Overlap } from './timeline.js';

export type Invariant = 'split-brain' | 'fence' | 'recovery' | 'durable' | 'twice' | 'stale' | 'restarted' | 'harness';

export interface Violation {
  readonly invariant: Invariant;
  readonly message: string;
}

/** A fence the controller attempted (event kinds fence, fenced, fence-failed). */
export interface FenceRecord {
  readonly at: number;
  readonly node: string;
  readonly kind: string;
  readonly message: string;
}

/** The event kinds that mean the controller tried to fence a node. */
export const FENCE_EVENT_KINDS: ReadonlySet<string> = new Set(['fence', 'fenced', 'fence-failed']);

const iso = (t: number): string => new Date(t).toISOString().slice(11, 23);

export function splitBrainViolations(found: readonly Overlap[]): Violation[] {
  return found.map((o) => ({
    invariant: 'split-brain',
    message: `${o.what === 'vip' ? 'the VIP was on' : 'the A/P service answered on'} both ${o.hosts[0]} and ${o.hosts[1]} from ${iso(o.start)} to ${iso(o.end)} (${o.end - o.start} ms)`,
  }));
}

/** The probe's view: episodes where two hosts answered through the VIP in the same period. */
export function probeSplitBrainViolations(episodes: readonly { hosts: readonly string[]; start: string; end: string }[]): Violation[] {
  return episodes.map((e) => ({ invariant: 'split-brain', message: `the probe saw ${e.hosts.join(' and ')} answer through the VIP in the same period (${e.start.slice(11, 23)} to ${e.end.slice(11, 23)})` }));
}

/** Invariant 2: the nodes fenced in a trial against what its fault allows. */
export function fenceViolations(plan: FaultPlan, target: string | undefined, fences: readonly FenceRecord[]): Violation[] {
  const nodes = [...new Set(fences.map((f) => f.node))].sort();
  const rule = fenceAllowed(plan.kind);
  const out: Violation[] = [];
  for (const node of nodes) {
    if (rule.allowed && node === target) continue;
    const first = fences.find((f) => f.node === node) as FenceRecord;
    const why = node === target ? `${plan.kind} must fence nothing: ${rule.why}` : `${node} was not the target of ${plan.kind}${target === undefined ? '' : ` (${target})`}`;
    out.push({ invariant: 'fence', message: `${node} was fenced at ${iso(first.at)} (${first.message}): ${why}` });
  }
  return out;
}

export interface Answer {
  /** Epoch ms when the request was sent. */
  readonly sentAt: number;
  readonly ok: boolean;
}

/**
 * When a service was back for good after the heal: the send time of the first success after
 * the last failure sent at or after the heal (the heal itself when nothing failed after it).
 * Undefined when its last answer failed, or nothing was sent after the heal.
 */
export function backAt(answers: readonly Answer[], healAt: number): number | undefined {
  const after = answers.filter((a) => a.sentAt >= healAt).sort((x, y) => x.sentAt - y.sentAt);
  if (after.length === 0) return undefined;
  let lastFail = -1;
  for (let i = 0; i < after.length; i++) if (!(after[i] as Answer).ok) lastFail = i;
  if (lastFail === -1) return healAt;
  const next = after[lastFail + 1];
  return next === undefined ? undefined : next.sentAt;
}

/** Invariant 3, for one service: back within `boundMs` of the heal. */
export function recoveryViolation(service: string, back: number | undefined, healAt: number, boundMs: number, waitedUntil: number): Violation | undefined {
  if (back === undefined) return { invariant: 'recovery', message: `${service} was not back ${Math.round((waitedUntil - healAt) / 100) / 10} s after the heal (bound ${boundMs / 1000} s)` };
  if (back - healAt > boundMs) return { invariant: 'recovery', message: `${service} was back ${back - healAt} ms after the heal (bound ${boundMs} ms)` };
  return undefined;
}

/** What must survive any fault: fail counts, the operator's constraints, the resources. */
export interface DurableView {
  readonly failures: readonly { readonly resource: string; readonly node: string; readonly count: number | 'INFINITY' }[];
  readonly constraints: readonly string[];
  readonly resources: readonly string[];
}

const countOf = (c: number | 'INFINITY'): number => (c === 'INFINITY' ? Infinity : c);

/** Invariant 4: what was lost between two views (fenced nodes may lose their own fail counts). */
export function durableViolations(before: DurableView, after: DurableView, fencedNodes: ReadonlySet<string>): Violation[] {
  const out: Violation[] = [];
  for (const f of before.failures) {
    if (fencedNodes.has(f.node)) continue;
    const now = after.failures.find((g) => g.resource === f.resource && g.node === f.node);
    if (now === undefined) out.push({ invariant: 'durable', message: `the fail count of ${f.resource} on ${f.node} (${f.count}) was lost` });
    else if (countOf(now.count) < countOf(f.count)) out.push({ invariant: 'durable', message: `the fail count of ${f.resource} on ${f.node} went down from ${f.count} to ${now.count}` });
  }
  const missing = (a: readonly string[], b: readonly string[]): string[] => a.filter((x) => !b.includes(x));
  for (const c of missing(before.constraints, after.constraints)) out.push({ invariant: 'durable', message: `the operator constraint ${c} was lost` });
  for (const c of missing(after.constraints, before.constraints)) out.push({ invariant: 'durable', message: `an operator constraint ${c} appeared that nobody set` });
  if (before.resources.join() !== after.resources.join()) out.push({ invariant: 'durable', message: `the configured resources changed: ${before.resources.join(', ')} → ${after.resources.join(', ')}` });
  return out;
}

/** Percentile by nearest rank (p in 0..100); NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** An event as the controller logged it (its log lines with a `kind`), or as its API returned it. */
export interface SeenEvent {
  readonly at: number;
  readonly kind: string;
  readonly node?: string;
  readonly message: string;
  /** Logged by a controller that is not the leader (yet): by design never in the event log. */
  readonly follower?: boolean;
  /** The leader's epoch when it logged it (its log line's `epoch`). */
  readonly epoch?: number;
  /** The controller whose log it is (with three controllers). */
  readonly controller?: string;
}

/** Logged events that may be missing from the event log: [from, until], of one controller or any, of epochs up to maxEpoch or any. */
export interface Spare {
  readonly from: number;
  readonly until: number;
  readonly controller?: string;
  readonly maxEpoch?: number;
}

/**
 * Events the controller logged as the leader that its event log (GET /v1/events) does not have:
 * the store stopped persisting. Logged events a spare covers are spared (a kill -9 may come
 * between an event and its write; a leader whose term ended drops what it could not write).
 */
export function lostEvents(logged: readonly SeenEvent[], stored: readonly SeenEvent[], spares: readonly Spare[] = []): SeenEvent[] {
  return logged.filter((l) => {
    if (l.follower === true) return false;
    if (spares.some((s) => l.at >= s.from && l.at <= s.until && (s.controller === undefined || s.controller === l.controller) && (s.maxEpoch === undefined || (l.epoch ?? 0) <= s.maxEpoch))) return false;
    return !stored.some((e) => e.kind === l.kind && e.message === l.message && Math.abs(e.at - l.at) <= 1_000);
  });
}

export function lostEventsViolation(lost: readonly SeenEvent[]): Violation | undefined {
  const first = lost[0];
  if (first === undefined) return undefined;
  return { invariant: 'durable', message: `${lost.length} event${lost.length === 1 ? '' : 's'} the controller logged ${lost.length === 1 ? 'is' : 'are'} not in its event log (GET /v1/events), first at ${iso(first.at)}: ${first.kind}: ${first.message.slice(0, 160)}` };
}

/** An action a leader ran to its end (an `action` event: `ID done in N ms: reason`). */
export interface DoneAction {
  readonly id: string;
  readonly epoch: number;
  /** When it was sent (the event's time less its duration) and when it was done. */
  readonly sentAt: number;
  readonly at: number;
  readonly controller?: string;
}

const DONE = /^(.+?) done in (\d+) ms(?::|$)/;
const LEADS = /leads with epoch (\d+)/;

/**
 * The epoch of each stored event, in seq order: `startEpoch` (the leader's when the trial began)
 * until a `controller … leads with epoch N` event, N from then on.
 */
export function withEpochs(stored: readonly (SeenEvent & { readonly seq: number })[], startEpoch: number): SeenEvent[] {
  let epoch = startEpoch;
  return [...stored]
    .sort((a, b) => a.seq - b.seq)
    .map((e) => {
      const m = e.kind === 'controller' ? LEADS.exec(e.message) : null;
      if (m !== null) epoch = Number(m[1]);
      return { ...e, epoch };
    });
}

/** When each epoch began (its `leads with epoch N` event), from any source; the earliest sighting. */
export function epochStarts(events: readonly SeenEvent[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of events) {
    const m = e.kind === 'controller' ? LEADS.exec(e.message) : null;
    if (m === null) continue;
    const n = Number(m[1]);
    out.set(n, Math.min(out.get(n) ?? Infinity, e.at));
  }
  return out;
}

/** The actions done, from events that carry their epoch (logged, or stored and dated by withEpochs). */
export function doneActions(events: readonly SeenEvent[]): DoneAction[] {
  const out: DoneAction[] = [];
  for (const e of events) {
    if (e.kind !== 'action' || e.epoch === undefined || e.follower === true) continue;
    const m = DONE.exec(e.message);
    if (m === null) continue;
    out.push({ id: m[1] as string, epoch: e.epoch, sentAt: e.at - Number(m[2]), at: e.at, ...(e.controller === undefined ? {} : { controller: e.controller }) });
  }
  return out;
}

/**
 * Invariant 5a: no action done under two epochs in one trial. A probe is left out: it only reads
 * (what an agent runs), and each new term probes every node again by design.
 */
export function twiceViolations(actions: readonly DoneAction[]): Violation[] {
  const byId = new Map<string, DoneAction[]>();
  for (const a of actions) {
    if (a.id.startsWith('probe ')) continue;
    byId.set(a.id, [...(byId.get(a.id) ?? []), a]);
  }
  const out: Violation[] = [];
  for (const [id, done] of byId) {
    const epochs = [...new Set(done.map((a) => a.epoch))].sort((a, b) => a - b);
    if (epochs.length < 2) continue;
    const when = epochs.map((ep) => `epoch ${ep} at ${iso((done.find((a) => a.epoch === ep) as DoneAction).at)}`).join(', ');
    out.push({ invariant: 'twice', message: `${id} was done by ${epochs.length} leaders: ${when}` });
  }
  return out;
}

/** Invariant 5b: no action sent by a leader after a newer epoch had begun (agents refuse an older epoch). */
export function staleViolations(actions: readonly DoneAction[], starts: ReadonlyMap<number, number>): Violation[] {
  const out: Violation[] = [];
  for (const a of actions) {
    const newer = [...starts].filter(([ep, at]) => ep > a.epoch && at < a.sentAt).sort((x, y) => x[1] - y[1])[0];
    if (newer === undefined) continue;
    out.push({ invariant: 'stale', message: `${a.id} was sent at ${iso(a.sentAt)} by epoch ${a.epoch}${a.controller === undefined ? '' : ` (${a.controller})`} and done, although epoch ${newer[0]} had begun at ${iso(newer[1])}` });
  }
  return out;
}

/** lab-web's processes on every host, as `host:port:pid` (the A/P service and the clone copies). */
export type ServicePids = readonly string[];

/** Invariant 6: a leader change alone restarts no service: the same lab-web processes before and after. */
export function restartViolations(before: ServicePids, after: ServicePids): Violation[] {
  const gone = before.filter((p) => !after.includes(p));
  const came = after.filter((p) => !before.includes(p));
  if (gone.length === 0 && came.length === 0) return [];
  return [{ invariant: 'restarted', message: `lab-web was restarted by a leader change alone: ${gone.length > 0 ? `gone ${gone.join(', ')}` : ''}${gone.length > 0 && came.length > 0 ? '; ' : ''}${came.length > 0 ? `new ${came.join(', ')}` : ''} (host:port:pid)` }];
}
