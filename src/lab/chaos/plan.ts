// Pure: what the chaos suite does in each trial. A trial injects one fault, holds it, heals it,
// and waits for the cluster to settle. The fault, its target and how long it is held are drawn
// from the trial's own random stream (./prng.ts), so a seed and a trial number name one trial
// exactly, and `--replay SEED:TRIAL` runs it again.
//
// Targets are drawn as roles, not host names: "the host running the active/passive service"
// or "another host" (by index among the others), "the leading controller", "a follower", "raft's
// leader member of etcd", because which host is active, and which controller leads, when a trial
// starts depends on the trials before it. A replayed trial hits the same role.
//
// The lab's shape decides which faults apply: with one controller (the embedded store) there is
// no leader to change and no etcd; the leader and etcd faults need `--controllers 3`.

import { UsageError } from '../../errors.js';
import { trialRandom } from './prng.js';

/** The faults, in the order `--faults` documents them. */
export const FAULT_KINDS = [
  'power-off', // the host's plug pulled: every process killed, links down; healed by power on
  'cut-ring', // one of the host's rings drops every frame, both ways
  'partition', // the host cut off from the cluster on every ring, both ways
  'asym-partition', // one direction only, on every ring: the host cannot send, or cannot receive
  'loss', // 30 % of the frames the host sends are dropped (every ring)
  'delay', // the frames the host sends are held 200 ms (every ring; NFQUEUE delay line)
  'controller-kill', // kill -9 of the controller (with 3: of a follower); healed by starting it again
  'agent-kill', // kill -9 of the host's agent; the lab starts it again after a short delay
  'service-kill', // kill -9 of a service process (the A/P service, or a clone copy)
  'cpu-hog', // a busy loop in the host's namespace, killed at heal
  // With 3 controllers on etcd only (appended: the faults of one controller draw as before).
  'leader-kill', // kill -9 of the leading controller; healed by starting it again (a follower then)
  'leader-pause', // SIGSTOP of the leading controller for the hold, SIGCONT at heal: it must step down
  'etcd-kill', // kill -9 of one etcd member (raft's leader or a follower, drawn); started again at heal
  'etcd-majority', // kill -9 of two etcd members: no store majority, nobody decides; started again at heal
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The faults that need a lab with 3 controllers on etcd. */
const NEEDS_ETCD: ReadonlySet<FaultKind> = new Set(['leader-kill', 'leader-pause', 'etcd-kill', 'etcd-majority']);

/** The controllers a chaos lab can run: 1 (embedded store) or 3 (on a 3-member etcd). */
export type ControllerCount = 1 | 3;

/** Whether a fault applies to a lab with this many controllers. */
export function faultApplies(kind: FaultKind, controllers: ControllerCount): boolean {
  return controllers === 3 || !NEEDS_ETCD.has(kind);
}

/** Every fault that applies to the lab's shape, in FAULT_KINDS order: what is drawn by default. */
export function faultsFor(controllers: ControllerCount): FaultKind[] {
  return FAULT_KINDS.filter((k) => faultApplies(k, controllers));
}

/** Loss and delay of the `loss` and `delay` faults. */
export const LOSS_PCT = 30;
export const DELAY_MS = 200;

/**
 * Who a fault hits: the host running the A/P service, or the k-th of the others; the controller
 * (one controller), the leading one, or the k-th follower (3); an etcd member, by its raft role
 * (`etcd-kill`: the member killed; `etcd-majority`: the one member left running).
 */
export type TargetRole =
  | { readonly role: 'active' }
  | { readonly role: 'other'; readonly index: number }
  | { readonly role: 'controller' }
  | { readonly role: 'leader' }
  | { readonly role: 'follower'; readonly index: number }
  | { readonly role: 'etcd'; readonly raft: 'leader' | 'follower'; readonly index: number };

export interface FaultPlan {
  readonly trial: number;
  readonly kind: FaultKind;
  readonly target: TargetRole;
  readonly holdMs: number;
  /** cut-ring: which ring. */
  readonly ring?: number;
  /** asym-partition: `out` drops what the host sends, `in` what it would receive. */
  readonly direction?: 'in' | 'out';
  /** service-kill: the A/P service (on the active host) or a clone copy. */
  readonly service?: 'ap' | 'clone';
}

export interface PlanOptions {
  readonly faults: readonly FaultKind[];
  readonly holdMinMs: number;
  readonly holdMaxMs: number;
  readonly hosts: number;
  readonly rings: number;
  /** The lab's controllers (default 1). */
  readonly controllers?: ControllerCount;
}

/** The fault of trial `trial` (1-based) of a seed: the same inputs give the same plan. */
export function planTrial(seed: number, trial: number, opts: PlanOptions): FaultPlan {
  if (opts.faults.length === 0) throw new RangeError('no faults to choose from');
  const r = trialRandom(seed, trial);
  const kind = r.pick(opts.faults);
  const holdMs = Math.round((opts.holdMinMs + r.next() * (opts.holdMaxMs - opts.holdMinMs)) / 10) * 10;
  const hostRole = (): TargetRole => (opts.hosts < 2 || r.next() < 0.5 ? { role: 'active' } : { role: 'other', index: r.int(0, opts.hosts - 2) });
  // Nothing more is drawn for a fault of one controller than before: old seeds replay the same.
  const etcdRole = (): TargetRole => ({ role: 'etcd', raft: r.next() < 0.5 ? 'leader' : 'follower', index: r.int(0, 1) });
  switch (kind) {
    case 'controller-kill':
      return { trial, kind, target: opts.controllers === 3 ? { role: 'follower', index: r.int(0, 1) } : { role: 'controller' }, holdMs };
    case 'leader-kill':
    case 'leader-pause':
      return { trial, kind, target: { role: 'leader' }, holdMs };
    case 'etcd-kill':
    case 'etcd-majority':
      return { trial, kind, target: etcdRole(), holdMs };
    case 'cut-ring':
      return { trial, kind, target: hostRole(), holdMs, ring: r.int(0, opts.rings - 1) };
    case 'asym-partition':
      return { trial, kind, target: hostRole(), holdMs, direction: r.next() < 0.5 ? 'out' : 'in' };
    case 'service-kill': {
      const service = r.next() < 0.5 ? 'ap' : 'clone';
      return { trial, kind, target: service === 'ap' ? { role: 'active' } : hostRole(), holdMs, service };
    }
    case 'power-off':
    case 'partition':
    case 'loss':
    case 'delay':
    case 'agent-kill':
    case 'cpu-hog':
      return { trial, kind, target: hostRole(), holdMs };
    default: {
      const never: never = kind;
      throw new Error(`unknown fault ${String(never)}`);
    }
  }
}

/**
 * `--faults power-off,cut-ring`: known names that apply to the lab's shape, no duplicates; `all`
 * (or nothing) is every fault that applies. A fault of another shape (`leader-kill` with one
 * controller) is refused, not silently dropped.
 */
export function parseFaults(text: string | undefined, controllers: ControllerCount = 1): FaultKind[] {
  const usable = faultsFor(controllers);
  if (text === undefined || text.trim() === '' || text.trim() === 'all') return usable;
  const out: FaultKind[] = [];
  for (const word of text.split(',').map((w) => w.trim()).filter((w) => w !== '')) {
    if (!(FAULT_KINDS as readonly string[]).includes(word)) {
      throw new UsageError(`unknown fault "${word}"`, { hint: `the faults: ${usable.join(', ')} (or all)` });
    }
    if (!faultApplies(word as FaultKind, controllers)) {
      throw new UsageError(`${word} needs a lab with 3 controllers on etcd; this one has ${controllers}`, { hint: `pass --controllers 3, or leave ${word} out of --faults (with ${controllers}: ${usable.join(', ')})` });
    }
    if (!out.includes(word as FaultKind)) out.push(word as FaultKind);
  }
  if (out.length === 0) throw new UsageError('--faults names no fault', { hint: `the faults: ${usable.join(', ')} (or all)` });
  return out;
}

/** `--controllers 1|3`. */
export function parseControllers(n: number): ControllerCount {
  if (n !== 1 && n !== 3) throw new UsageError(`--controllers ${n}: the chaos lab runs 1 controller or 3 (on etcd)`);
  return n;
}

/** `--replay 42:17`: a seed and a trial number. */
export function parseReplay(text: string): { seed: number; trial: number } {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  const seed = m === null ? NaN : Number(m[1]);
  const trial = m === null ? NaN : Number(m[2]);
  if (!Number.isSafeInteger(seed) || seed > 0xffffffff || !Number.isSafeInteger(trial) || trial < 1) {
    throw new UsageError(`--replay "${text}" is not SEED:TRIAL`, { hint: 'the seed (0 to 4294967295) and the trial number (from 1) that the failing run printed, e.g. --replay 42:17' });
  }
  return { seed, trial };
}

/** Whether a fault may fence its target, and why (docs/chaos.md: what may be fenced). */
export function fenceAllowed(kind: FaultKind): { readonly allowed: boolean; readonly why: string } {
  switch (kind) {
    case 'power-off':
      return { allowed: true, why: 'the host is dead' };
    case 'partition':
      return { allowed: true, why: 'the host is unreachable on every ring' };
    case 'asym-partition':
      return { allowed: true, why: 'no ring carries traffic both ways: the host is not reachable, and cannot be told from a half-dead one' };
    case 'agent-kill':
      return { allowed: true, why: "the host's membership daemon is gone: it is silent on every ring, like a dead host (Pacemaker fences a node whose corosync dies)" };
    case 'cut-ring':
      return { allowed: false, why: 'the host stays reachable on its other rings' };
    case 'loss':
      return { allowed: false, why: 'the host stays reachable (70 % of its frames get through)' };
    case 'delay':
      return { allowed: false, why: 'the host stays reachable (200 ms late)' };
    case 'cpu-hog':
      return { allowed: false, why: 'the host stays reachable (busy, not dead)' };
    case 'controller-kill':
    case 'leader-kill':
    case 'leader-pause':
    case 'etcd-kill':
    case 'etcd-majority':
      return { allowed: false, why: 'no host failed' };
    case 'service-kill':
      return { allowed: false, why: 'only a service failed: it is restarted, the host is healthy' };
    default: {
      const never: never = kind;
      throw new Error(`unknown fault ${String(never)}`);
    }
  }
}

/**
 * Whether a fault touches only the controllers or the store while a majority of both stays: at
 * most a leader change, so no service may be restarted (lab-web's PIDs the same after the trial).
 * One controller killed is not: a restart slower than the agents' lease stops what needs quorum.
 */
export function leaderChangeOnly(kind: FaultKind, controllers: ControllerCount): boolean {
  switch (kind) {
    case 'leader-kill':
    case 'leader-pause':
    case 'etcd-kill':
      return true;
    case 'controller-kill':
      return controllers === 3;
    default:
      return false;
  }
}

/**
 * How long a fault is held: the drawn hold, but a leader pause is held past the leader lease too
 * (so that the term always ends while the leader is stopped and another takes over), and an etcd
 * majority past the leader lease and the agents' lease (so that the agents always apply the
 * no-quorum policy during the hold, and the services must come back after it).
 */
export function holdOf(plan: FaultPlan, leases: { readonly leaderMs: number; readonly agentMs: number }): number {
  if (plan.kind === 'leader-pause') return plan.holdMs + leases.leaderMs;
  if (plan.kind === 'etcd-majority') return plan.holdMs + leases.leaderMs + leases.agentMs;
  return plan.holdMs;
}
