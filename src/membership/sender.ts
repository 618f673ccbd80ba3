// The agent's half of failure detection: every `interval`, one heartbeat datagram per ring to every
// controller's address on that ring (docs/detection.md). The controller's half is
// src/membership/receiver.ts; the wire format is `heartbeatSchema` in src/model/wire.ts.
//
// API (for the agent daemon):
//
//   const sender = await HeartbeatSender.start({ config, node: 'n1', epoch: () => agent.epoch, logger });
//   sender.counts();          // { sent, failed, skipped, slot } for status pages
//   sender.stopRing('r2');    // stop sending on one ring only (diagnostics, tests)
//   onGrant: (grant, sentAt) => lease.renew(...)   // lease grants from quorate controllers
//   await sender.stop();      // closes every socket; idempotent
//
// - One UDP socket per ring, bound to the node's own address on that ring (nodes[].addresses), so
//   that cutting that ring's link really silences the node on that ring and only there. A
//   configuration without rings has one implicit ring, sent unbound to each controller's only address.
// - seq is the heartbeat's *slot*: slot k is due at start + k · interval on the monotonic clock. A
//   timer that fires late sends the current slot and skips the missed ones (counted in `skipped`):
//   never a burst, never drift, and the receiver can date a lagging datagram by its seq.
// - incarnation defaults to the wall-clock time the sender started (ms), so a restarted agent has a
//   larger one; pass the agent's own start time to share it with the agent's other messages.
// - epoch is read through the getter at every send: the highest controller epoch the agent accepted.
// - With `peers`, the nodes that hear this one (cluster.confirmation.peers of them, the next in the
//   configured order: ./peers.ts) get the heartbeat too (at the ring's port + 1), so peers can
//   confirm a node the controller lost (docs/safety.md).
// - A controller answers a heartbeat with a lease grant (leaseGrantSchema) to the socket it came
//   from; `onGrant` gets it with the monotonic time that heartbeat was sent, which is where the
//   lease starts. A grant that does not parse, names another node or incarnation, or answers a
//   slot not sent (or too old to remember) is refused and counted.
// - Sending never throws: a send error (a ring that is down: ENETUNREACH, EPERM from a firewall)
//   is counted and logged at debug, once per ring until that ring sends again.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { IMPLICIT_RING } from '../detector/index.js';
import { HavenError } from '../errors.js';
import { DEFAULTS, type Config } from '../model/config.js';
import { leaseGrantSchema, WIRE_VERSION, type Heartbeat, type LeaseGrant } from '../model/wire.js';
import { hearersOf } from './peers.js';
import { bindSocket, closeQuietly, closeSocket } from './udp.js';

/** The logger calls this module makes; a pino logger fits. */
export interface HeartbeatLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export const silentLogger: HeartbeatLogger = { debug() {}, info() {}, warn() {} };


export interface HeartbeatSenderOptions {
  /** A validated configuration (src/config/load.ts). */
  readonly config: Config;
  /** This node's name in `config.nodes`. */
  readonly node: string;
  /** The highest controller epoch the agent has accepted; read at every send. */
  readonly epoch: () => number;
  /** Whether the agent's lease has lapsed (said in every heartbeat while so). */
  readonly lapsed?: () => boolean;
  /** Which run of the agent this is; larger is newer. Default: Date.now() at start. */
  readonly incarnation?: number;
  /** Overrides cluster.heartbeat.interval (ms). */
  readonly interval?: number;
  /** Send to the peers that hear this node on each ring too (distributed confirmation, ./peers.ts). Default false. */
  readonly peers?: boolean;
  /** A lease grant answered one of our heartbeats, sent at `sentAt` (performance.now()). */
  readonly onGrant?: (grant: LeaseGrant, sentAt: number) => void;
  readonly logger?: HeartbeatLogger;
}

export interface SenderCounts {
  /** Datagrams handed to the kernel without error (all rings, all controllers). */
  readonly sent: number;
  /** Datagrams whose send failed. */
  readonly failed: number;
  /** Slots missed because the timer fired late (the event loop was busy): not sent at all. */
  readonly skipped: number;
  /** The last slot (seq) sent; -1 before the first. */
  readonly slot: number;
  /** Lease grants taken, and datagrams refused as grants. */
  readonly grants: number;
  readonly grantsRefused: number;
}

/**
 * Agents hear their peers on the ring's port + 1, so that an agent and a controller may share an
 * address (a controller node that is also a cluster node) without fighting over one port.
 */
export function peerPort(ringPort: number): number {
  return ringPort + 1;
}

/** Slots whose send time is remembered, to date a grant: a grant later than this is useless anyway. */
const SLOT_MEMORY = 256;
const MAX_GRANT_BYTES = 1024;

interface Target {
  /** The controller or peer node it goes to. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

interface RingSender {
  readonly ring: string;
  readonly socket: dgram.Socket;
  readonly targets: readonly Target[];
  open: boolean;
  /** Whether the last send on this ring failed (so a failure is logged once, not every interval). */
  failing: boolean;
}

export class HeartbeatSender {
  readonly node: string;
  readonly cluster: string;
  readonly incarnation: number;
  readonly interval: number;
  private readonly rings: RingSender[];
  private readonly epoch: () => number;
  private readonly log: HeartbeatLogger;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private lastSlot = -1;
  private lastEpoch = 0;
  private sent = 0;
  private failed = 0;
  private skipped = 0;
  private grants = 0;
  private grantsRefused = 0;
  private stopped = false;
  /** slot → performance.now() when it was sent. */
  private readonly sentAtBySlot = new Map<number, number>();
  private readonly onGrant: ((grant: LeaseGrant, sentAt: number) => void) | undefined;
  private readonly lapsed: (() => boolean) | undefined;

  private constructor(options: HeartbeatSenderOptions, interval: number, rings: RingSender[]) {
    this.node = options.node;
    this.cluster = options.config.cluster.name;
    this.incarnation = options.incarnation ?? Date.now();
    this.interval = interval;
    this.rings = rings;
    this.epoch = options.epoch;
    this.log = options.logger ?? silentLogger;
    this.onGrant = options.onGrant;
    this.lapsed = options.lapsed;
    this.startedAt = performance.now();
  }

  /**
   * Binds one socket per ring and sends the first heartbeat at once. Throws HavenError NOT_FOUND
   * (no such node), CONFIG_INVALID (no controllers, or the node lacks an address on a ring) or IO
   * (an address cannot be bound: not on this host, or in use); nothing stays open then.
   */
  static async start(options: HeartbeatSenderOptions): Promise<HeartbeatSender> {
    const { config, node } = options;
    const nodeConfig = config.nodes.find((n) => n.name === node);
    if (nodeConfig === undefined) {
      throw new HavenError('NOT_FOUND', `node "${node}" is not in the configuration`, { hint: `configured nodes: ${config.nodes.map((n) => n.name).join(', ')}` });
    }
    const interval = options.interval ?? config.cluster.heartbeat?.interval ?? DEFAULTS.heartbeatInterval;
    if (!(Number.isFinite(interval) && interval > 0)) throw new HavenError('USAGE', `heartbeat interval must be a positive number of ms, got ${interval}`);
    if (options.incarnation !== undefined && !(Number.isSafeInteger(options.incarnation) && options.incarnation >= 0)) {
      throw new HavenError('USAGE', `incarnation must be a non-negative integer, got ${options.incarnation}`);
    }
    const controllers = config.controllers ?? [];
    if (controllers.length === 0) {
      throw new HavenError('CONFIG_INVALID', 'the configuration names no controllers: heartbeats have nowhere to go', { hint: 'add a controllers: entry with an address on every ring' });
    }
    const declared = config.rings ?? [];
    const plan =
      declared.length > 0
        ? declared.map((r) => {
            const bind = nodeConfig.addresses?.[r.name];
            if (bind === undefined) {
              throw new HavenError('CONFIG_INVALID', `node "${node}" has no address on ring "${r.name}"`, { hint: 'every node needs an address on every ring' });
            }
            const port = r.port ?? DEFAULTS.ringPort;
            const targets: Target[] = controllers.flatMap((c) => {
              const address = c.addresses[r.name];
              return address === undefined ? [] : [{ name: c.name, address, port }];
            });
            if (options.peers === true) {
              // Only the peers that hear this node (membership/peers.ts), not every node.
              const byName = new Map(config.nodes.map((n) => [n.name, n]));
              for (const name of hearersOf(config, node)) {
                const address = byName.get(name)?.addresses?.[r.name];
                if (address !== undefined) targets.push({ name, address, port: peerPort(port) });
              }
            }
            return { ring: r.name, bind: bind as string | undefined, targets };
          })
        : [
            {
              ring: IMPLICIT_RING,
              bind: undefined,
              targets: controllers.flatMap((c) => {
                const address = Object.values(c.addresses)[0];
                return address === undefined ? [] : [{ name: c.name, address, port: DEFAULTS.ringPort }];
              }),
            },
          ];

    const rings: RingSender[] = [];
    try {
      for (const p of plan) {
        const probe = p.bind ?? p.targets[0]?.address;
        const socket = dgram.createSocket({ type: probe !== undefined && isIPv6(probe) ? 'udp6' : 'udp4' });
        rings.push({ ring: p.ring, socket, targets: p.targets, open: true, failing: false });
        const address = p.bind;
        await bindSocket(socket, { port: 0, ...(address === undefined ? {} : { address }) }, (error) =>
          new HavenError('IO', `cannot bind the heartbeat socket of node "${node}" on ring "${p.ring}"${address === undefined ? '' : ` to ${address}`}: ${error.message}`, {
            hint: 'the address must be configured on this host (nodes[].addresses)',
            cause: error,
          }),
        );
      }
    } catch (error) {
      for (const r of rings) closeQuietly(r.socket);
      throw error;
    }
    const sender = new HeartbeatSender(options, interval, rings);
    for (const r of rings) {
      // A send error is also reported here on some platforms; never let it crash the agent.
      r.socket.on('error', (error) => sender.log.debug({ node, ring: r.ring, err: error.message }, 'heartbeat socket error'));
      r.socket.on('message', (msg) => sender.onDatagram(r.ring, msg));
      if (r.targets.length === 0) sender.log.warn({ node, ring: r.ring }, 'no controller has an address on this ring: nothing is sent there');
    }
    sender.log.info(
      { node, incarnation: sender.incarnation, interval, rings: rings.map((r) => `${r.ring} → ${r.targets.map((t) => `${t.address}:${t.port}`).join(' ')}`) },
      'heartbeats started',
    );
    sender.fire();
    return sender;
  }

  counts(): SenderCounts {
    return { sent: this.sent, failed: this.failed, skipped: this.skipped, slot: this.lastSlot, grants: this.grants, grantsRefused: this.grantsRefused };
  }

  /** Stops sending on one ring (closes its socket); the others go on. Unknown ring: NOT_FOUND. */
  stopRing(ring: string): void {
    const r = this.rings.find((x) => x.ring === ring);
    if (r === undefined) throw new HavenError('NOT_FOUND', `no heartbeat ring "${ring}"`, { hint: `rings: ${this.rings.map((x) => x.ring).join(', ')}` });
    if (!r.open) return;
    r.open = false;
    closeQuietly(r.socket);
    this.log.info({ node: this.node, ring }, 'heartbeats stopped on one ring');
  }

  /** Stops every ring; resolves when the sockets are closed. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(
      this.rings.map((r) => {
        if (!r.open) return undefined;
        r.open = false;
        return closeSocket(r.socket);
      }),
    );
    this.log.info({ node: this.node, sent: this.sent, failed: this.failed, skipped: this.skipped }, 'heartbeats stopped');
  }

  /** Sends the current slot if it is new, then sleeps until the next slot is due. */
  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = performance.now();
    const slot = Math.floor((now - this.startedAt) / this.interval);
    if (slot > this.lastSlot) {
      if (this.lastSlot >= 0 && slot > this.lastSlot + 1) {
        this.skipped += slot - this.lastSlot - 1;
        // Info, not debug: a heartbeat sent late is how a healthy node comes to look dead.
        this.log.info({ node: this.node, missed: slot - this.lastSlot - 1, lateMs: Math.round(now - this.startedAt - (this.lastSlot + 1) * this.interval) }, 'heartbeat slots missed (the agent was not running): skipped, not burst');
      }
      this.lastSlot = slot;
      this.send(slot);
    }
    // A timer may fire a hair early (ms rounding): then the slot is not new and we sleep again.
    const next = this.startedAt + (this.lastSlot + 1) * this.interval;
    this.timer = setTimeout(() => this.fire(), Math.max(1, Math.ceil(next - performance.now())));
  }

  private send(slot: number): void {
    let epoch = this.lastEpoch;
    try {
      const e = this.epoch();
      if (Number.isSafeInteger(e) && e >= 0) epoch = e;
    } catch (error) {
      this.log.debug({ node: this.node, err: String(error) }, 'epoch getter threw; sending the last epoch');
    }
    this.lastEpoch = epoch;
    const sentAt = Date.now();
    const lapsed = this.lapsed?.() === true;
    this.sentAtBySlot.set(slot, performance.now());
    this.sentAtBySlot.delete(slot - SLOT_MEMORY);
    for (const r of this.rings) {
      if (!r.open) continue;
      const message: Heartbeat = { v: WIRE_VERSION, cluster: this.cluster, node: this.node, ring: r.ring, seq: slot, incarnation: this.incarnation, epoch, sentAt, ...(lapsed ? { lapsed: true as const } : {}) };
      const bytes = Buffer.from(JSON.stringify(message));
      for (const t of r.targets) {
        try {
          r.socket.send(bytes, t.port, t.address, (error) => this.sendDone(r, t, error));
        } catch (error) {
          this.sendDone(r, t, error instanceof Error ? error : new Error(String(error)));
        }
      }
    }
  }

  /** A datagram on a ring socket: only a lease grant answering one of our heartbeats is taken. */
  private onDatagram(ring: string, msg: Buffer): void {
    if (this.stopped) return;
    const refuse = (why: string): void => {
      this.grantsRefused++;
      this.log.debug({ node: this.node, ring, why }, 'lease grant refused');
    };
    if (msg.length > MAX_GRANT_BYTES) return refuse(`${msg.length} bytes`);
    let data: unknown;
    try {
      data = JSON.parse(msg.toString('utf8'));
    } catch {
      return refuse('not JSON');
    }
    const parsed = leaseGrantSchema.safeParse(data);
    if (!parsed.success) return refuse(`not a lease grant: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const g = parsed.data;
    if (g.cluster !== this.cluster || g.node !== this.node) return refuse(`for ${g.cluster}/${g.node}`);
    if (g.incarnation !== this.incarnation) return refuse(`for incarnation ${g.incarnation}`);
    const sentAt = this.sentAtBySlot.get(g.seq);
    if (sentAt === undefined) return refuse(`answers slot ${g.seq}, not sent or too old`);
    this.grants++;
    try {
      this.onGrant?.(g, sentAt);
    } catch (error) {
      this.log.warn({ node: this.node, err: String(error) }, 'lease grant listener threw');
    }
  }

  private sendDone(r: RingSender, t: Target, error: Error | null): void {
    if (error === null) {
      this.sent++;
      if (r.failing) {
        r.failing = false;
        this.log.info({ node: this.node, ring: r.ring }, 'heartbeats on this ring are going out again');
      }
      return;
    }
    this.failed++;
    if (!r.failing && r.open) {
      r.failing = true;
      this.log.debug({ node: this.node, ring: r.ring, to: t.name, address: `${t.address}:${t.port}`, err: error.message }, 'heartbeat send failed');
    }
  }
}
