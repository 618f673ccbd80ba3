// The controller's edge of failure detection: UDP heartbeats in, liveness events out. It binds one
// socket per ring, checks every datagram against the wire format (src/model/wire.ts), feeds the pure
// Detector (src/detector) with the arrival time on the monotonic clock, ticks it every few ms and
// turns its events into a small typed event stream (docs/detection.md). The agents' half is
// src/membership/sender.ts.
//
// API (for the controller):
//
//   const receiver = await HeartbeatReceiver.start({ config, controller: 'c1', logger });
//   const off = receiver.on('suspect', (e) => plan.nodeLost(e.node, e.reason));
//   receiver.onEvent((e) => eventLog.append(e));        // every event, in order
//   receiver.verdict('n1');                              // the detector's current Verdict
//   receiver.verdicts(); receiver.report('n1');          // all verdicts; per-ring details
//   receiver.counts();                                   // datagrams accepted / refused by reason
//   await receiver.stop();                               // closes sockets and the tick; idempotent
//
// With `grant`, every accepted heartbeat may be answered with a lease grant (leaseGrantSchema),
// sent back to the port it came from: `grant(node)` says whether and with which epoch and length
// (the controller grants only while it holds quorum). An agent runs one of these too, bound to
// its own addresses (`node` instead of `controller`), to hear its peers for distributed
// confirmation; it never grants.
//
// Events (`at` is on performance.now()'s clock, like the detector's):
//   alive      heard on every ring that is not pending (the first heartbeat, or a ring came back)
//   degraded   silent on some rings (`down`), heard on others (`up`): a path failed, not the node
//   suspect    silent on every ring: the node may be dead (the controller decides about fencing)
//   recovered  heard again after suspect; lasts the detector's recoveryHold, then alive or degraded
//   ring-down / ring-up   one node's link on one ring
//   restarted  a datagram of a newer agent incarnation (the agent restarted)
//
// Refused datagrams never crash anything: each is counted by reason and logged at debug. A datagram
// must parse with heartbeatSchema, name this cluster, name the ring it arrived on and, when the
// node's address on that ring is an IPv4 address, come from it (a datagram over ring A claiming to
// be from ring B would make a cut ring look alive).
//
// Nothing blocks the loop: a datagram costs one JSON.parse and an O(1) detector update, a tick
// O(nodes × rings).

import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Detector, detectorOptions, IMPLICIT_RING, type DetectorEvent, type DetectorOptions, type NodeReport, type RefusalReason, type Verdict, type VerdictKind } from '../detector/index.js';
import { HavenError } from '../errors.js';
import { DEFAULTS, type Config } from '../model/config.js';
import { heartbeatSchema, WIRE_VERSION, type LeaseGrant } from '../model/wire.js';
import { peerPort } from './sender.js';
import { bindSocket, closeQuietly, closeSocket } from './udp.js';

/** The logger calls this module makes; a pino logger fits. */
export interface ReceiverLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

const silentLogger: ReceiverLogger = { debug() {}, info() {}, warn() {} };

/** Largest datagram read as a heartbeat; a real one is about 150 bytes. */
export const MAX_HEARTBEAT_BYTES = 1024;

export const DEFAULT_TICK_INTERVAL = 10;

interface EventBase {
  readonly node: string;
  readonly at: number;
}

export type ReceiverEvent =
  | (EventBase & { readonly type: 'alive'; readonly previous: VerdictKind; readonly up: readonly string[]; readonly reason: string; readonly verdict: Verdict })
  | (EventBase & {
      readonly type: 'degraded';
      readonly previous: VerdictKind;
      readonly up: readonly string[];
      readonly down: readonly string[];
      readonly reason: string;
      readonly verdict: Verdict;
    })
  | (EventBase & {
      readonly type: 'suspect';
      readonly previous: VerdictKind;
      readonly down: readonly string[];
      /** The freshest heartbeat on any ring; null if never heard. */
      readonly lastHeard: { readonly ring: string; readonly at: number } | null;
      readonly reason: string;
      readonly verdict: Verdict;
    })
  | (EventBase & {
      readonly type: 'recovered';
      readonly previous: VerdictKind;
      readonly up: readonly string[];
      readonly down: readonly string[];
      readonly suspectSince: number;
      readonly reason: string;
      readonly verdict: Verdict;
    })
  | (EventBase & { readonly type: 'ring-down'; readonly ring: string; readonly lastHeard: number | null; readonly reason: string })
  | (EventBase & { readonly type: 'ring-up'; readonly ring: string; readonly reason: string })
  | (EventBase & { readonly type: 'restarted'; readonly ring: string; readonly from: number; readonly to: number });

export type ReceiverEventType = ReceiverEvent['type'];

/** Why a datagram was refused: at the edge (the first six) or by the detector. */
export type DatagramRefusal = 'too-large' | 'not-json' | 'schema' | 'wrong-cluster' | 'wrong-ring' | 'wrong-source' | RefusalReason;

export interface ReceiverCounts {
  /** Every datagram read. */
  readonly datagrams: number;
  readonly accepted: number;
  readonly refused: Readonly<Record<DatagramRefusal, number>>;
  /** Lease grants sent. */
  readonly grants: number;
}

export interface HeartbeatReceiverOptions {
  /** A validated configuration (src/config/load.ts). */
  readonly config: Config;
  /** This controller's name in `config.controllers`: its addresses are bound. */
  readonly controller?: string;
  /** Or: this node's name in `config.nodes` (an agent hearing its peers): its addresses are bound. */
  readonly node?: string;
  /** Answer an accepted heartbeat from `node` with a lease? undefined: no. */
  readonly grant?: (node: string, heartbeatEpoch: number, lapsed: boolean) => { readonly epoch: number; readonly leaseMs: number } | undefined;
  /** How often the detector is ticked, in ms. Default 10: a dead node is suspect ≈ ringTimeout + 10 ms after its last heartbeat. */
  readonly tickInterval?: number;
  /** Detector tuning beyond the configuration (adaptive policy, pause guard, recovery hold). */
  readonly detector?: Partial<Pick<DetectorOptions, 'policy' | 'pauseThreshold' | 'pauseGrace' | 'recoveryHold' | 'statsWindow'>>;
  /**
   * The configured nodes whose heartbeats count (an agent hears only the peers that send to it:
   * ./peers.ts); the others' are refused as unknown-node. Default: every configured node.
   */
  readonly nodes?: readonly string[];
  /** Refuse datagrams whose source is not the node's configured IPv4 address on that ring. Default true. */
  readonly checkSource?: boolean;
  readonly logger?: ReceiverLogger;
}

interface RingSocket {
  readonly ring: string;
  readonly address: string;
  readonly port: number;
  readonly socket: dgram.Socket;
}

type Listener = (event: ReceiverEvent) => void;

export class HeartbeatReceiver {
  readonly cluster: string;
  /** The controller or node whose addresses are bound. */
  readonly controller: string;
  readonly tickInterval: number;
  private readonly grant: HeartbeatReceiverOptions['grant'];
  private grantsSent = 0;
  private readonly detector: Detector;
  private readonly sockets: RingSocket[];
  private readonly log: ReceiverLogger;
  /** node → ring → the IPv4 address its heartbeats must come from. */
  private readonly sources: Map<string, Map<string, string>>;
  private readonly listeners = new Set<{ type: ReceiverEventType | '*'; fn: Listener }>();
  private readonly refused: Record<DatagramRefusal, number> = {
    'too-large': 0,
    'not-json': 0,
    schema: 0,
    'wrong-cluster': 0,
    'wrong-ring': 0,
    'wrong-source': 0,
    'unknown-node': 0,
    'unknown-ring': 0,
    invalid: 0,
    'old-seq': 0,
    'old-incarnation': 0,
  };
  private datagrams = 0;
  private accepted = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(config: Config, controller: string, tickInterval: number, detector: Detector, sockets: RingSocket[], options: HeartbeatReceiverOptions) {
    this.cluster = config.cluster.name;
    this.controller = controller;
    this.tickInterval = tickInterval;
    this.detector = detector;
    this.sockets = sockets;
    this.log = options.logger ?? silentLogger;
    this.grant = options.grant;
    this.sources = new Map();
    if (options.checkSource ?? true) {
      for (const n of config.nodes) {
        const byRing = new Map<string, string>();
        for (const [ring, address] of Object.entries(n.addresses ?? {})) if (isIPv4(address)) byRing.set(ring, address);
        this.sources.set(n.name, byRing);
      }
    }
  }

  /**
   * Binds the controller's address on every ring and starts ticking. Throws HavenError NOT_FOUND
   * (no such controller), CONFIG_INVALID (it lacks an address on a ring), USAGE (bad tick interval)
   * or IO (an address cannot be bound: not on this host, or the port is taken); nothing stays open then.
   */
  static async start(options: HeartbeatReceiverOptions): Promise<HeartbeatReceiver> {
    const { config } = options;
    if ((options.controller === undefined) === (options.node === undefined)) throw new HavenError('USAGE', 'a heartbeat receiver binds either a controller or a node');
    const controller = options.controller ?? options.node!;
    const me =
      options.controller !== undefined
        ? (config.controllers ?? []).find((c) => c.name === controller)
        : (() => {
            const n = config.nodes.find((x) => x.name === controller);
            return n === undefined ? undefined : { name: n.name, addresses: n.addresses ?? {} };
          })();
    if (me === undefined) {
      const names = options.controller !== undefined ? (config.controllers ?? []).map((c) => c.name) : config.nodes.map((n) => n.name);
      throw new HavenError('NOT_FOUND', `${options.controller !== undefined ? 'controller' : 'node'} "${controller}" is not in the configuration`, {
        hint: names.length === 0 ? 'add a controllers: entry with an address on every ring' : `configured: ${names.join(', ')}`,
      });
    }
    const tickInterval = options.tickInterval ?? DEFAULT_TICK_INTERVAL;
    const start = performance.now();
    const detOptions = detectorOptions(config, start, { ...options.detector, ...(options.nodes === undefined ? {} : { nodes: options.nodes }) });
    const pauseThreshold = detOptions.pauseThreshold ?? detOptions.ringTimeout / 2;
    if (!(Number.isFinite(tickInterval) && tickInterval > 0 && tickInterval * 2 <= pauseThreshold)) {
      throw new HavenError('USAGE', `tick interval must be a positive number of ms at most half the pause threshold (${pauseThreshold} ms), got ${tickInterval}`, {
        hint: 'a late tick is taken as a pause of the controller itself, which holds every verdict back',
      });
    }
    let detector: Detector;
    try {
      detector = new Detector(detOptions);
    } catch (error) {
      throw new HavenError('USAGE', `heartbeat detector: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }

    const declared = config.rings ?? [];
    const plan =
      declared.length > 0
        ? declared.map((r) => {
            const port = r.port ?? DEFAULTS.ringPort;
            return { ring: r.name, address: me.addresses[r.name], port: options.node !== undefined ? peerPort(port) : port };
          })
        : [{ ring: IMPLICIT_RING, address: Object.values(me.addresses)[0], port: DEFAULTS.ringPort }];
    const sockets: RingSocket[] = [];
    try {
      for (const p of plan) {
        if (p.address === undefined) {
          throw new HavenError('CONFIG_INVALID', `controller "${controller}" has no address on ring "${p.ring}"`, { hint: 'a controller needs an address on every ring to hear heartbeats there' });
        }
        const socket = dgram.createSocket({ type: isIPv6(p.address) ? 'udp6' : 'udp4' });
        sockets.push({ ring: p.ring, address: p.address, port: p.port, socket });
        const { address, port, ring } = p;
        await bindSocket(socket, { address, port, exclusive: true }, (error) =>
          new HavenError('IO', `cannot listen for heartbeats on ring "${ring}" at ${address}:${port}: ${error.message}`, {
            hint: 'the address must be configured on this host and the port free (is another controller running here?)',
            cause: error,
          }),
        );
      }
    } catch (error) {
      for (const s of sockets) closeQuietly(s.socket);
      throw error;
    }

    const receiver = new HeartbeatReceiver(config, controller, tickInterval, detector, sockets, options);
    for (const s of sockets) {
      s.socket.on('message', (msg, rinfo) => receiver.onDatagram(s.ring, msg, rinfo));
      s.socket.on('error', (error) => receiver.log.warn({ ring: s.ring, err: error.message }, 'heartbeat socket error'));
    }
    receiver.timer = setInterval(() => receiver.tick(), tickInterval);
    receiver.log.info({ controller, rings: sockets.map((s) => `${s.ring} ${s.address}:${s.port}`), tickInterval, ringTimeout: detOptions.ringTimeout }, 'listening for heartbeats');
    return receiver;
  }

  /** Calls `fn` for every event of one type; returns a function that removes it. */
  on<T extends ReceiverEventType>(type: T, fn: (event: Extract<ReceiverEvent, { type: T }>) => void): () => void {
    const entry = { type, fn: fn as Listener };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /** Calls `fn` for every event, in the order they happen; returns a function that removes it. */
  onEvent(fn: (event: ReceiverEvent) => void): () => void {
    const entry = { type: '*' as const, fn };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  verdict(node: string): Verdict | undefined {
    return this.detector.verdict(node);
  }

  verdicts(): Verdict[] {
    return this.detector.verdicts();
  }

  report(node: string): NodeReport | undefined {
    return this.detector.report(node);
  }

  counts(): ReceiverCounts {
    return { datagrams: this.datagrams, accepted: this.accepted, refused: { ...this.refused }, grants: this.grantsSent };
  }

  /** The bound addresses, per ring. */
  endpoints(): { ring: string; address: string; port: number }[] {
    return this.sockets.map((s) => ({ ring: s.ring, address: s.address, port: s.port }));
  }

  /** Stops ticking and closes every socket; resolves when they are closed. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.sockets.map((s) => closeSocket(s.socket)));
    this.listeners.clear();
    this.log.info({ controller: this.controller, ...this.counts() }, 'stopped listening for heartbeats');
  }

  private onDatagram(ring: string, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.stopped) return;
    const receivedAt = performance.now();
    this.datagrams++;
    const from = `${rinfo.address}:${rinfo.port}`;
    if (msg.length > MAX_HEARTBEAT_BYTES) return this.refuse('too-large', ring, from, `${msg.length} bytes`);
    let data: unknown;
    try {
      data = JSON.parse(msg.toString('utf8'));
    } catch (error) {
      return this.refuse('not-json', ring, from, error instanceof Error ? error.message : String(error));
    }
    const parsed = heartbeatSchema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.refuse('schema', ring, from, issue === undefined ? 'invalid' : `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const hb = parsed.data;
    if (hb.cluster !== this.cluster) return this.refuse('wrong-cluster', ring, from, `cluster "${hb.cluster}", this is "${this.cluster}"`, hb.node);
    if (hb.ring !== ring) return this.refuse('wrong-ring', ring, from, `names ring "${hb.ring}" but arrived on ring "${ring}"`, hb.node);
    const source = this.sources.get(hb.node)?.get(ring);
    if (source !== undefined && source !== rinfo.address) return this.refuse('wrong-source', ring, from, `node "${hb.node}" is ${source} on ring "${ring}"`, hb.node);
    const result = this.detector.heartbeat({ node: hb.node, ring, seq: hb.seq, incarnation: hb.incarnation, epoch: hb.epoch, sentAt: hb.sentAt, receivedAt });
    if (result.accepted) {
      this.accepted++;
      this.dispatch(result.events);
      this.answer(ring, hb.node, hb.seq, hb.incarnation, hb.epoch, hb.lapsed === true, rinfo);
      return;
    }
    this.refuse(result.reason, ring, from, `seq ${hb.seq}, incarnation ${hb.incarnation}`, hb.node);
    this.dispatch(result.events);
  }

  /** Sends a lease grant for an accepted heartbeat, if the owner grants one now. */
  private answer(ring: string, node: string, seq: number, incarnation: number, epoch: number, lapsed: boolean, rinfo: dgram.RemoteInfo): void {
    if (this.grant === undefined) return;
    const g = this.grant(node, epoch, lapsed);
    if (g === undefined) return;
    const socket = this.sockets.find((s) => s.ring === ring)?.socket;
    if (socket === undefined) return;
    const grant: LeaseGrant = { v: WIRE_VERSION, kind: 'lease', cluster: this.cluster, node, controller: this.controller, epoch: g.epoch, seq, incarnation, leaseMs: g.leaseMs };
    try {
      socket.send(Buffer.from(JSON.stringify(grant)), rinfo.port, rinfo.address, (error) => {
        if (error) this.log.debug({ ring, node, err: error.message }, 'lease grant not sent');
      });
      this.grantsSent++;
    } catch (error) {
      this.log.debug({ ring, node, err: String(error) }, 'lease grant not sent');
    }
  }

  private refuse(reason: DatagramRefusal, ring: string, from: string, detail: string, node?: string): void {
    this.refused[reason]++;
    this.log.debug({ ring, from, reason, detail, ...(node === undefined ? {} : { node }) }, 'heartbeat refused');
  }

  private tick(): void {
    if (this.stopped) return;
    this.dispatch(this.detector.tick(performance.now()));
  }

  private dispatch(events: readonly DetectorEvent[]): void {
    for (const e of events) {
      const out = toReceiverEvent(e);
      if (out === undefined) continue;
      this.logEvent(out);
      for (const l of this.listeners) {
        if (l.type !== '*' && l.type !== out.type) continue;
        try {
          l.fn(out);
        } catch (error) {
          this.log.warn({ event: out.type, node: out.node, err: error instanceof Error ? error.message : String(error) }, 'heartbeat event listener threw');
        }
      }
    }
  }

  private logEvent(e: ReceiverEvent): void {
    switch (e.type) {
      case 'ring-down':
      case 'ring-up':
        this.log.info({ node: e.node, ring: e.ring, reason: e.reason }, e.type);
        return;
      case 'restarted':
        this.log.info({ node: e.node, ring: e.ring, from: e.from, to: e.to }, 'agent restarted');
        return;
      case 'alive':
      case 'degraded':
      case 'suspect':
      case 'recovered':
        (e.type === 'suspect' ? this.log.warn : this.log.info).call(this.log, { node: e.node, previous: e.previous, reason: e.reason }, `node ${e.type}`);
        return;
      default: {
        const never: never = e;
        throw new Error(`unknown receiver event ${JSON.stringify(never)}`);
      }
    }
  }
}

/** A detector event as the receiver reports it; undefined for none (a node never goes back to unknown). */
export function toReceiverEvent(e: DetectorEvent): ReceiverEvent | undefined {
  switch (e.type) {
    case 'link':
      return e.state === 'down'
        ? { type: 'ring-down', node: e.node, ring: e.ring, at: e.at, lastHeard: e.lastHeard, reason: e.reason }
        : { type: 'ring-up', node: e.node, ring: e.ring, at: e.at, reason: e.reason };
    case 'restarted':
      return { type: 'restarted', node: e.node, ring: e.ring, from: e.from, to: e.to, at: e.at };
    case 'verdict': {
      const v = e.verdict;
      const base = { node: e.node, at: e.at, previous: e.previous, reason: v.reason, verdict: v };
      switch (v.kind) {
        case 'unknown':
          return undefined;
        case 'alive':
          return { ...base, type: 'alive', up: v.up };
        case 'degraded':
          return { ...base, type: 'degraded', up: v.up, down: v.down.map((d) => d.ring) };
        case 'suspect':
          return { ...base, type: 'suspect', down: v.down.map((d) => d.ring), lastHeard: v.lastHeard };
        case 'recovered':
          return { ...base, type: 'recovered', up: v.up, down: v.down.map((d) => d.ring), suspectSince: v.suspectSince };
        default: {
          const never: never = v;
          throw new Error(`unknown verdict ${JSON.stringify(never)}`);
        }
      }
    }
    default: {
      const never: never = e;
      throw new Error(`unknown detector event ${JSON.stringify(never)}`);
    }
  }
}
