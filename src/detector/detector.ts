// The failure detector: heartbeat arrivals and clock ticks in, per-ring link states and per-node
// liveness verdicts out. A state machine with no clock, no I/O and no randomness: the caller says
// what time it is, and the same inputs always give the same events (docs/detection.md).
//
// The rule that matters (DESIGN.md, principle 4): a ring is silent for a node once nothing fresh
// came over it for `ringTimeout`, and the node is *suspect* only when every configured ring is
// silent. A node silent on some rings only is *degraded*, and its verdict names the rings that
// failed, so a cut network is reported as a cut network and never triggers a failover.
//
// Three guards keep stale or local trouble from turning into a verdict:
// - sequence numbers: a datagram whose seq is not above the highest already seen on its ring (a
//   duplicate, or one overtaken by a newer one) carries no news and is refused; one that lags the
//   node's newest seq on another ring is credited with the time it was probably sent, not the time
//   it arrived, so a datagram that sat in a queue cannot make a dead ring look alive;
// - incarnations: an agent restart starts a new incarnation (larger is newer); datagrams of an
//   older incarnation are refused;
// - the pause guard: if ticks stop for longer than `pauseThreshold`, the detector itself was
//   not running (a stalled event loop, a paused VM) and the datagrams queued meanwhile have not
//   been read yet; no ring may go silent until `pauseGrace` after such a pause.

import TinyQueue from 'tinyqueue';
import { ArrivalStats, phiTimeout } from './stats.js';

/** Milliseconds on the caller's monotonic clock. */
export type Millis = number;

/** One heartbeat datagram as received. */
export interface Arrival {
  readonly node: string;
  readonly ring: string;
  /** The sender's heartbeat slot number within its incarnation: one per interval, the same on every ring. */
  readonly seq: number;
  /** Which run of the sender's agent sent it; a larger number is a newer run. */
  readonly incarnation: number;
  /** The highest controller epoch the sender has accepted (issue 4); recorded, not judged. */
  readonly epoch?: number;
  /** The sender's wall clock at sending, informational only: clocks of two hosts are not compared. */
  readonly sentAt?: number;
  /** The receiver's monotonic clock when the datagram was read. */
  readonly receivedAt: Millis;
}

/**
 * How long a ring may be silent. `fixed`: always `ringTimeout` (the default: predictable, easy to
 * reason about). `adaptive`: a phi-accrual timeout from the ring's recent inter-arrival times,
 * clamped to [minTimeout, maxTimeout]; `ringTimeout` until `minSamples` gaps have been seen.
 */
export type TimeoutPolicy =
  | { readonly kind: 'fixed' }
  | {
      readonly kind: 'adaptive';
      /** phi at which a ring is silent; 8 ≈ one false suspicion in 10^8 gaps if gaps were normal. */
      readonly threshold: number;
      readonly minTimeout: Millis;
      readonly maxTimeout: Millis;
      /** Floor of the standard deviation, so a very regular ring is not judged on microseconds. */
      readonly minStdDev: Millis;
      readonly minSamples: number;
    };

export interface DetectorOptions {
  /** The configured nodes, in the order events are reported. */
  readonly nodes: readonly string[];
  /** The configured rings (1 to 31), in the order they are reported. */
  readonly rings: readonly string[];
  /** The agents' heartbeat interval: used to date lagging datagrams and for the adaptive defaults. */
  readonly interval: Millis;
  /** Silence on one ring for this long marks it down (fixed policy; the adaptive policy's start value). */
  readonly ringTimeout: Millis;
  /** When observation begins: a ring never heard is down only `ringTimeout` after this. */
  readonly start: Millis;
  readonly policy?: TimeoutPolicy;
  /** A gap between ticks longer than this is a pause of the detector itself. Default ringTimeout / 2. */
  readonly pauseThreshold?: Millis;
  /** After such a pause, no ring goes silent for this long. Default ringTimeout. */
  readonly pauseGrace?: Millis;
  /** How long `recovered` lasts before a node that came back is plain alive (or degraded). Default ringTimeout. */
  readonly recoveryHold?: Millis;
  /** Inter-arrival samples kept per node and ring. Default 64. */
  readonly statsWindow?: number;
}

export type LinkState = 'pending' | 'up' | 'down';

/** A ring that is silent for a node. */
export interface SilentRing {
  readonly ring: string;
  /** When it was declared silent: last credited heartbeat + its timeout (or the end of a grace). */
  readonly since: Millis;
  /** When a heartbeat last arrived on it; null if never. */
  readonly lastHeard: Millis | null;
}

export type VerdictKind = 'unknown' | 'alive' | 'degraded' | 'suspect' | 'recovered';

interface VerdictBase {
  readonly node: string;
  /** When this verdict began (the moment the deciding deadline passed or the deciding datagram arrived). */
  readonly since: Millis;
  /** One line for an operator: what was heard, what was not, since when. */
  readonly reason: string;
}

/**
 * unknown: not heard on any ring yet, and not silent for long enough to say more.
 * alive: heard on every ring that has been heard from (none silent).
 * degraded: silent on some rings (named in `down`), still heard on others: a path failed, the node did not.
 * suspect: silent on every ring.
 * recovered: heard again after being suspect; lasts `recoveryHold`, then alive or degraded.
 */
export type Verdict =
  | (VerdictBase & { readonly kind: 'unknown' })
  | (VerdictBase & { readonly kind: 'alive'; readonly up: readonly string[] })
  | (VerdictBase & { readonly kind: 'degraded'; readonly up: readonly string[]; readonly down: readonly SilentRing[] })
  | (VerdictBase & {
      readonly kind: 'suspect';
      readonly down: readonly SilentRing[];
      /** The freshest arrival on any ring; null if the node was never heard. */
      readonly lastHeard: { readonly ring: string; readonly at: Millis } | null;
    })
  | (VerdictBase & {
      readonly kind: 'recovered';
      readonly up: readonly string[];
      readonly down: readonly SilentRing[];
      /** When the suspicion it recovered from began. */
      readonly suspectSince: Millis;
    });

export type DetectorEvent =
  | {
      readonly type: 'link';
      readonly node: string;
      readonly ring: string;
      readonly state: 'up' | 'down';
      readonly at: Millis;
      readonly lastHeard: Millis | null;
      readonly reason: string;
    }
  | { readonly type: 'verdict'; readonly node: string; readonly previous: VerdictKind; readonly verdict: Verdict; readonly at: Millis }
  | { readonly type: 'restarted'; readonly node: string; readonly ring: string; readonly from: number; readonly to: number; readonly at: Millis };

/** Why an arrival was not taken as news. */
export type RefusalReason = 'unknown-node' | 'unknown-ring' | 'invalid' | 'old-seq' | 'old-incarnation';

export type ArrivalResult =
  | { readonly accepted: true; readonly events: readonly DetectorEvent[] }
  | { readonly accepted: false; readonly reason: RefusalReason; readonly events: readonly DetectorEvent[] };

/** What the detector knows about one node on one ring, for status pages and diagnostics. */
export interface RingReport {
  readonly ring: string;
  readonly link: LinkState;
  /** When the link entered its state (for down: the deadline that passed). */
  readonly since: Millis;
  readonly lastHeard: Millis | null;
  /** The time the last accepted heartbeat is credited with (≤ its arrival when it lagged). */
  readonly lastEvidence: Millis;
  /** Highest seq accepted in the current incarnation; -1 if none. */
  readonly seq: number;
  readonly accepted: number;
  readonly refused: number;
  /** Inter-arrival statistics over the window, in ms. */
  readonly meanGap: number;
  readonly stdDevGap: number;
  readonly maxGap: number;
  /** The silence after which this ring goes down now. */
  readonly timeout: Millis;
}

export interface NodeReport {
  readonly node: string;
  readonly verdict: Verdict;
  readonly incarnation: number | null;
  readonly epoch: number | null;
  readonly rings: readonly RingReport[];
}

const DEFAULT_STATS_WINDOW = 64;
const MAX_RINGS = 31;

interface RingState {
  link: LinkState;
  since: Millis;
  lastHeard: Millis | null;
  lastEvidence: Millis;
  maxSeq: number;
  accepted: number;
  refused: number;
  readonly stats: ArrivalStats;
  /** The key of this ring's live entry in the deadline queue; NONE while the ring is down (it has none). */
  queued: Millis;
}

/** A ring's entry in the deadline queue: it cannot go down before `key`. */
interface Deadline {
  readonly key: Millis;
  readonly node: NodeState;
  readonly ring: number;
}

const NONE = Number.POSITIVE_INFINITY;

interface NodeState {
  readonly name: string;
  /** Its place in the configured order: events of one tick are reported in this order. */
  readonly index: number;
  readonly rings: RingState[];
  incarnation: number | null;
  epoch: number | null;
  /** The newest seq seen on any ring in this incarnation, and when it first arrived. */
  maxSeq: number;
  maxSeqAt: Millis;
  verdict: Verdict;
  /** Bit i set: ring i is down. With `verdict.kind` it decides whether a new verdict is news. */
  downMask: number;
  /** Bit i set: ring i is up. A change alone refreshes the verdict's ring lists without an event. */
  upMask: number;
  /** For a recovered node: when the recovery hold ends. */
  recoveredUntil: Millis;
}

export class Detector {
  readonly nodes: readonly string[];
  readonly rings: readonly string[];
  private readonly ringIndex: Map<string, number>;
  private readonly state: Map<string, NodeState>;
  private readonly order: NodeState[];
  private readonly interval: Millis;
  private readonly ringTimeout: Millis;
  private readonly policy: TimeoutPolicy;
  private readonly pauseThreshold: Millis;
  private readonly pauseGrace: Millis;
  private readonly recoveryHold: Millis;
  private readonly allDown: number;
  /** The latest time seen: input times before it are taken as it (the clock never runs back). */
  private clock: Millis;
  private lastTick: Millis;
  /** No ring goes down before this: start + ringTimeout, pushed on by pauses. */
  private notBefore: Millis;
  /**
   * Every ring that is not down, keyed by a time before which it cannot go down (at most its real
   * deadline: a heartbeat that moves a deadline later leaves the key, and the tick re-keys the entry
   * when it comes up). A tick looks only at the entries that fell due, not at every node: the cost
   * of a tick follows the rings whose deadline passed, not the size of the cluster.
   */
  private readonly deadlines = new TinyQueue<Deadline>([], (a, b) => a.key - b.key);
  /** Nodes whose verdict is recovered: their hold ends in a tick. */
  private readonly recovering = new Set<NodeState>();

  constructor(options: DetectorOptions) {
    const problems = checkOptions(options);
    if (problems.length > 0) throw new RangeError(`detector options: ${problems.join('; ')}`);
    this.nodes = [...options.nodes];
    this.rings = [...options.rings];
    this.ringIndex = new Map(this.rings.map((r, i) => [r, i]));
    this.interval = options.interval;
    this.ringTimeout = options.ringTimeout;
    this.policy = options.policy ?? { kind: 'fixed' };
    this.pauseThreshold = options.pauseThreshold ?? options.ringTimeout / 2;
    this.pauseGrace = options.pauseGrace ?? options.ringTimeout;
    this.recoveryHold = options.recoveryHold ?? options.ringTimeout;
    this.allDown = 2 ** this.rings.length - 1;
    this.clock = options.start;
    this.lastTick = options.start;
    this.notBefore = options.start + options.ringTimeout;
    const window = options.statsWindow ?? DEFAULT_STATS_WINDOW;
    this.state = new Map();
    this.order = this.nodes.map((name, index) => {
      const node: NodeState = {
        name,
        index,
        rings: this.rings.map(() => ({
          link: 'pending',
          since: options.start,
          lastHeard: null,
          lastEvidence: options.start,
          maxSeq: -1,
          accepted: 0,
          refused: 0,
          stats: new ArrivalStats(window),
          queued: NONE,
        })),
        incarnation: null,
        epoch: null,
        maxSeq: -1,
        maxSeqAt: options.start,
        verdict: { kind: 'unknown', node: name, since: options.start, reason: this.unknownReason() },
        downMask: 0,
        upMask: 0,
        recoveredUntil: 0,
      };
      this.state.set(name, node);
      node.rings.forEach((_, r) => this.queue(node, r));
      return node;
    });
  }

  /** Takes one heartbeat. Refused arrivals change nothing but the ring's refusal count. */
  heartbeat(arrival: Arrival): ArrivalResult {
    const node = this.state.get(arrival.node);
    if (node === undefined) return refused('unknown-node');
    const r = this.ringIndex.get(arrival.ring);
    if (r === undefined) return refused('unknown-ring');
    const ring = node.rings[r] as RingState;
    if (!validArrival(arrival)) {
      ring.refused++;
      return refused('invalid');
    }
    const now = this.advance(arrival.receivedAt);
    const events: DetectorEvent[] = [];

    if (node.incarnation !== null && arrival.incarnation < node.incarnation) {
      ring.refused++;
      return refused('old-incarnation');
    }
    const previous = node.incarnation;
    const restarted = previous !== null && arrival.incarnation > previous;
    if (restarted) {
      events.push({ type: 'restarted', node: node.name, ring: arrival.ring, from: previous, to: arrival.incarnation, at: now });
      for (const rs of node.rings) rs.maxSeq = -1;
      node.maxSeq = -1;
    }
    node.incarnation = arrival.incarnation;
    if (arrival.seq <= ring.maxSeq) {
      ring.refused++;
      return { accepted: false, reason: 'old-seq', events };
    }
    if (arrival.epoch !== undefined && (node.epoch === null || arrival.epoch > node.epoch)) node.epoch = arrival.epoch;

    // Credit: a datagram lagging the node's newest seq was sent (about) that many intervals earlier.
    let evidence = now;
    if (arrival.seq > node.maxSeq) {
      node.maxSeq = arrival.seq;
      node.maxSeqAt = now;
    } else {
      evidence = Math.min(now, node.maxSeqAt - (node.maxSeq - arrival.seq) * this.interval);
    }
    ring.maxSeq = arrival.seq;
    ring.accepted++;
    // Only gaps of a live ring describe it: the silence of a cut ring or of a restart is an outage,
    // and counting it would inflate the adaptive timeout for long after (up to maxTimeout).
    if (ring.lastHeard !== null && ring.link === 'up' && !restarted) ring.stats.add(now - ring.lastHeard);
    ring.lastHeard = now;
    if (evidence > ring.lastEvidence) ring.lastEvidence = evidence;

    if (ring.link !== 'up' && ring.lastEvidence + this.timeoutOf(ring) > now) {
      const first = ring.accepted === 1;
      ring.link = 'up';
      ring.since = now;
      events.push({
        type: 'link',
        node: node.name,
        ring: arrival.ring,
        state: 'up',
        at: now,
        lastHeard: now,
        reason: first ? `first heartbeat on ring ${arrival.ring}` : `heard again on ring ${arrival.ring}`,
      });
    }
    if (ring.link !== 'down') this.queue(node, r);
    this.evaluate(node, now, now, events);
    return { accepted: true, events };
  }

  /**
   * Advances the clock: rings whose silence passed their timeout go down, verdicts follow. Only the
   * rings whose queued deadline passed are looked at; events come in the configured node order, each
   * node's rings in ring order, as if every node had been checked.
   */
  tick(now: Millis): DetectorEvent[] {
    now = this.advance(now);
    if (now - this.lastTick > this.pauseThreshold) this.notBefore = Math.max(this.notBefore, now + this.pauseGrace);
    this.lastTick = now;
    /** node → its rings that went down in this tick. */
    const due = new Map<NodeState, number[]>();
    // Nothing goes down before notBefore: the queue waits (its keys stay at most the deadlines).
    if (now >= this.notBefore) {
      for (let top = this.deadlines.peek(); top !== undefined && top.key <= now; top = this.deadlines.peek()) {
        this.deadlines.pop();
        const ring = top.node.rings[top.ring] as RingState;
        if (ring.queued !== top.key || ring.link === 'down') continue; // superseded by a newer entry
        ring.queued = NONE;
        if (ring.lastEvidence + this.timeoutOf(ring) > now) {
          this.queue(top.node, top.ring); // heard since it was queued: not due yet
          continue;
        }
        const rings = due.get(top.node);
        if (rings === undefined) due.set(top.node, [top.ring]);
        else rings.push(top.ring);
      }
    }
    for (const node of this.recovering) {
      if (node.verdict.kind !== 'recovered') this.recovering.delete(node);
      else if (now >= node.recoveredUntil && !due.has(node)) due.set(node, []);
    }
    if (due.size === 0) return [];
    const events: DetectorEvent[] = [];
    for (const [node, rings] of [...due].sort(([a], [b]) => a.index - b.index)) {
      let changedAt = -Infinity;
      for (const r of rings.sort((a, b) => a - b)) {
        const ring = node.rings[r] as RingState;
        const deadline = Math.max(ring.lastEvidence + this.timeoutOf(ring), this.notBefore);
        ring.link = 'down';
        ring.since = deadline;
        if (deadline > changedAt) changedAt = deadline;
        const name = this.rings[r] as string;
        events.push({
          type: 'link',
          node: node.name,
          ring: name,
          state: 'down',
          at: deadline,
          lastHeard: ring.lastHeard,
          reason:
            ring.lastHeard === null
              ? `never heard on ring ${name} in ${fmt(deadline - ring.lastEvidence)}`
              : `silent on ring ${name} for ${fmt(deadline - ring.lastEvidence)} (timeout ${fmt(this.timeoutOf(ring))})`,
        });
      }
      if (changedAt > -Infinity) this.evaluate(node, changedAt, now, events);
      else if (node.verdict.kind === 'recovered' && now >= node.recoveredUntil) this.evaluate(node, node.recoveredUntil, now, events);
    }
    return events;
  }

  /** Queues a ring that is not down at its deadline, unless an entry at or before it is queued already. */
  private queue(node: NodeState, r: number): void {
    const ring = node.rings[r] as RingState;
    const key = ring.lastEvidence + this.timeoutOf(ring);
    if (key >= ring.queued) return;
    ring.queued = key;
    this.deadlines.push({ key, node, ring: r });
  }

  verdict(node: string): Verdict | undefined {
    return this.state.get(node)?.verdict;
  }

  verdicts(): Verdict[] {
    return this.order.map((n) => n.verdict);
  }

  report(node: string): NodeReport | undefined {
    const n = this.state.get(node);
    if (n === undefined) return undefined;
    return {
      node,
      verdict: n.verdict,
      incarnation: n.incarnation,
      epoch: n.epoch,
      rings: n.rings.map((ring, i) => ({
        ring: this.rings[i] as string,
        link: ring.link,
        since: ring.since,
        lastHeard: ring.lastHeard,
        lastEvidence: ring.lastEvidence,
        seq: ring.maxSeq,
        accepted: ring.accepted,
        refused: ring.refused,
        meanGap: ring.stats.mean,
        stdDevGap: ring.stats.stdDev,
        maxGap: ring.stats.max,
        timeout: this.timeoutOf(ring),
      })),
    };
  }

  /** The latest time the detector has seen. */
  get now(): Millis {
    return this.clock;
  }

  private advance(t: Millis): Millis {
    if (t > this.clock) this.clock = t;
    return this.clock;
  }

  private timeoutOf(ring: RingState): Millis {
    const p = this.policy;
    switch (p.kind) {
      case 'fixed':
        return this.ringTimeout;
      case 'adaptive': {
        if (ring.stats.samples < p.minSamples) return this.ringTimeout;
        const t = phiTimeout(ring.stats.mean, Math.max(ring.stats.stdDev, p.minStdDev), p.threshold);
        return Math.min(p.maxTimeout, Math.max(p.minTimeout, t));
      }
      default: {
        const never: never = p;
        throw new Error(`unknown timeout policy ${JSON.stringify(never)}`);
      }
    }
  }

  /** Recomputes a node's verdict at `at` (the time of the change), emitting an event if it is news. */
  private evaluate(node: NodeState, at: Millis, now: Millis, events: DetectorEvent[]): void {
    let downMask = 0;
    let upMask = 0;
    for (let r = 0; r < node.rings.length; r++) {
      const link = (node.rings[r] as RingState).link;
      if (link === 'down') downMask |= 1 << r;
      else if (link === 'up') upMask |= 1 << r;
    }
    const up = upMask !== 0;
    const prev = node.verdict;
    let kind: VerdictKind;
    if (downMask === this.allDown) kind = 'suspect';
    else if (prev.kind === 'suspect' && up) kind = 'recovered';
    else if (prev.kind === 'recovered' && now < node.recoveredUntil) kind = 'recovered';
    else if (!up && downMask === 0) kind = 'unknown';
    else if (downMask !== 0) kind = 'degraded';
    else kind = 'alive';
    // Same verdict: a ring heard for the first time, or (while recovered) a ring coming back or
    // going down, only brings its ring lists up to date; the link events already said so. A degraded
    // node whose set of silent rings changes is news: a verdict event names the rings.
    if (kind === prev.kind && (downMask === node.downMask || kind === 'recovered')) {
      if (upMask !== node.upMask || downMask !== node.downMask) {
        node.upMask = upMask;
        node.downMask = downMask;
        node.verdict = this.buildVerdict(node, kind, prev.since, prev);
      }
      return;
    }

    if (kind === 'recovered' && prev.kind === 'suspect') {
      node.recoveredUntil = at + this.recoveryHold;
      this.recovering.add(node);
    }
    node.downMask = downMask;
    node.upMask = upMask;
    node.verdict = this.buildVerdict(node, kind, at, prev);
    events.push({ type: 'verdict', node: node.name, previous: prev.kind, verdict: node.verdict, at });
  }

  private buildVerdict(node: NodeState, kind: VerdictKind, at: Millis, prev: Verdict): Verdict {
    const up: string[] = [];
    const down: SilentRing[] = [];
    let last: { ring: string; at: Millis } | null = null;
    node.rings.forEach((ring, i) => {
      const name = this.rings[i] as string;
      if (ring.link === 'up') up.push(name);
      if (ring.link === 'down') down.push({ ring: name, since: ring.since, lastHeard: ring.lastHeard });
      if (ring.lastHeard !== null && (last === null || ring.lastHeard > last.at)) last = { ring: name, at: ring.lastHeard };
    });
    const base = { node: node.name, since: at };
    const silent = down.map((d) => `${d.ring} (${d.lastHeard === null ? 'never heard' : `for ${fmt(at - d.lastHeard)}`})`).join(', ');
    switch (kind) {
      case 'unknown':
        return { ...base, kind, reason: this.unknownReason() };
      case 'alive':
        return { ...base, kind, up, reason: `heard on ${list(up, 'ring')}` };
      case 'degraded':
        return { ...base, kind, up, down, reason: `silent on ${down.length === 1 ? 'ring' : 'rings'} ${silent}; still heard on ${list(up, 'ring')}` };
      case 'suspect': {
        const lastHeard = last as { ring: string; at: Millis } | null;
        const heard = lastHeard === null ? 'never heard' : `last heard on ring ${lastHeard.ring} ${fmt(at - lastHeard.at)} before`;
        return { ...base, kind, down, lastHeard, reason: `silent on every ring: ${silent}; ${heard}` };
      }
      case 'recovered': {
        const suspectSince = prev.kind === 'suspect' ? prev.since : prev.kind === 'recovered' ? prev.suspectSince : at;
        const still = down.length > 0 ? `; still silent on ${silent}` : '';
        return { ...base, kind, up, down, suspectSince, reason: `heard again on ${list(up, 'ring')} after ${fmt(at - suspectSince)} suspect${still}` };
      }
      default: {
        const never: never = kind;
        throw new Error(`unknown verdict ${String(never)}`);
      }
    }
  }

  private unknownReason(): string {
    return `not heard on any ring yet (silent rings go down ${fmt(this.ringTimeout)} after the detector starts)`;
  }
}

/** Every problem with a set of options, as text; empty when they are usable. */
export function checkOptions(o: DetectorOptions): string[] {
  const problems: string[] = [];
  if (o.rings.length < 1 || o.rings.length > MAX_RINGS) problems.push(`need 1 to ${MAX_RINGS} rings, got ${o.rings.length}`);
  if (new Set(o.rings).size !== o.rings.length) problems.push('ring names must be unique');
  if (new Set(o.nodes).size !== o.nodes.length) problems.push('node names must be unique');
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) problems.push(`${name} must be a positive number, got ${v}`);
  };
  positive('interval', o.interval);
  positive('ringTimeout', o.ringTimeout);
  positive('pauseThreshold', o.pauseThreshold);
  if (o.pauseGrace !== undefined && !(o.pauseGrace >= 0)) problems.push(`pauseGrace must be ≥ 0, got ${o.pauseGrace}`);
  if (o.recoveryHold !== undefined && !(o.recoveryHold >= 0)) problems.push(`recoveryHold must be ≥ 0, got ${o.recoveryHold}`);
  if (!Number.isFinite(o.start)) problems.push(`start must be a finite time, got ${o.start}`);
  if (o.policy?.kind === 'adaptive') {
    const p = o.policy;
    positive('policy.threshold', p.threshold);
    positive('policy.minTimeout', p.minTimeout);
    if (!(p.maxTimeout >= p.minTimeout)) problems.push('policy.maxTimeout must be ≥ policy.minTimeout');
    if (!(p.minStdDev >= 0)) problems.push('policy.minStdDev must be ≥ 0');
    if (!(Number.isInteger(p.minSamples) && p.minSamples >= 1)) problems.push('policy.minSamples must be an integer ≥ 1');
  }
  return problems;
}

/** The adaptive policy's defaults for a heartbeat interval and ring timeout (docs/detection.md). */
export function adaptivePolicy(interval: Millis, ringTimeout: Millis): TimeoutPolicy {
  return { kind: 'adaptive', threshold: 8, minTimeout: 3 * interval, maxTimeout: 2 * ringTimeout, minStdDev: interval / 2, minSamples: 16 };
}

function validArrival(a: Arrival): boolean {
  return (
    Number.isSafeInteger(a.seq) &&
    a.seq >= 0 &&
    Number.isSafeInteger(a.incarnation) &&
    a.incarnation >= 0 &&
    Number.isFinite(a.receivedAt) &&
    (a.epoch === undefined || (Number.isSafeInteger(a.epoch) && a.epoch >= 0))
  );
}

function refused(reason: RefusalReason): ArrivalResult {
  return { accepted: false, reason, events: [] };
}

function fmt(ms: number): string {
  return `${Math.round(ms)} ms`;
}

function list(names: readonly string[], word: string): string {
  return names.length === 0 ? `no ${word}` : `${word}${names.length === 1 ? '' : 's'} ${names.join(', ')}`;
}
