// The agent daemon: one Agent (./agent.ts) served over HTTP at the node's address on the first
// ring, with heartbeats on every ring (../membership/sender.ts) and reports to the controllers.
// `haven agent` (src/cli/commands/agent.ts) is a thin wrapper over startAgentDaemon().
//
// Closing it closes the API and the sockets and leaves every resource running: a restarted agent
// adopts them from its state dir.

import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { pino, type Logger } from 'pino';
import { suggestion } from '../config/suggest.js';
import { HavenError, IoError, NotFoundError, UsageError } from '../errors.js';
import { DEFAULTS, type Config, type NodeConfig } from '../model/config.js';
import { resourceAgentFor as defaultResourceAgentFor } from '../resources/index.js';
import type { ResourceAgent } from '../resources/types.js';
import { Agent, type AgentOptions } from './agent.js';
import { createAgentApi } from './api.js';
import { heardBy } from '../membership/peers.js';
import { HeartbeatReceiver } from '../membership/receiver.js';
import { HeartbeatSender, type HeartbeatLogger } from '../membership/sender.js';
import type { Peers } from '../model/wire.js';
import { selfFencePolicy } from './lease.js';

export const DEFAULT_STATE_ROOT = '/var/lib/haven/agent';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface AgentDaemonOptions {
  /** A validated configuration (src/config/load.ts). */
  readonly config: Config;
  readonly node: string;
  /** Default: /var/lib/haven/agent/<node>. */
  readonly stateDir?: string;
  /** Default: the node's address on the first ring, at cluster.agentPort. Port 0 picks a free one. */
  readonly listen?: ListenAddress;
  readonly log?: Logger;
  readonly resourceAgentFor?: (kind: string) => ResourceAgent;
  /** Send heartbeats (default true). Tests of the API alone may turn them off. */
  readonly heartbeats?: boolean;
  /** Overrides for the agent core (tests: faster backoff, shorter drain). */
  readonly agent?: Pick<AgentOptions, 'reporter' | 'probeTimeoutMs' | 'drainMs' | 'now' | 'selfFence'>;
}

export interface AgentDaemon {
  readonly agent: Agent;
  /** Where the API listens (the real port when 0 was asked for). */
  readonly address: ListenAddress;
  readonly stateDir: string;
  /** Closes the API and the sockets; resources keep running. Idempotent. */
  close(): Promise<void>;
}

/** pino on stderr, one JSON line per event, with the node on every line. */
export function createAgentLogger(node: string, level: string = process.env['HAVEN_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ base: { node }, level }, pino.destination({ fd: 2, sync: true }));
}

/** The configured node, or NOT_FOUND with the closest name. */
export function findNode(config: Config, node: string): NodeConfig {
  const found = config.nodes.find((n) => n.name === node);
  if (found === undefined) {
    throw new NotFoundError(`node "${node}" is not in the configuration`, { hint: suggestion(node, config.nodes.map((n) => n.name), 'configured nodes') });
  }
  return found;
}

/** The address of a node or controller on the first ring (the only one when no rings are declared). */
export function firstRingAddress(config: Config, addresses: Readonly<Record<string, string>> | undefined): string | undefined {
  const ring = config.rings?.[0]?.name;
  if (ring !== undefined) return addresses?.[ring];
  return Object.values(addresses ?? {})[0];
}

/** Where the agent of `node` serves its API: its address on the first ring, at cluster.agentPort. */
export function agentListenAddress(config: Config, node: string): ListenAddress {
  const n = findNode(config, node);
  const host = firstRingAddress(config, n.addresses);
  if (host === undefined) {
    throw new UsageError(`node "${node}" has no address${config.rings?.[0] === undefined ? '' : ` on ring "${config.rings[0].name}"`} to serve the agent's API on`, {
      hint: 'add nodes[].addresses to the configuration, or pass --listen ADDR:PORT',
    });
  }
  return { host, port: config.cluster.agentPort ?? DEFAULTS.agentPort };
}

/** Each controller's report URL, at its address on the first ring and its apiPort. */
export function reportEndpoints(config: Config): string[] {
  return (config.controllers ?? []).flatMap((c) => {
    const host = firstRingAddress(config, c.addresses);
    return host === undefined ? [] : [`http://${hostForUrl(host)}:${c.apiPort ?? DEFAULTS.apiPort}/v1/agents/report`];
  });
}

/** `ADDR:PORT`, `[v6]:PORT`. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[3]);
  const host = m?.[1] ?? m?.[2];
  if (host === undefined || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`--listen "${text}" is not ADDR:PORT`, { hint: 'for example 10.0.0.11:7410, or [fd00::11]:7410 for IPv6' });
  }
  return { host, port };
}

/** The heartbeat sender names the node in its fields; our logger does already (no duplicate key). */
function withoutNode(log: Logger): HeartbeatLogger {
  const strip = (fields: Record<string, unknown>): Record<string, unknown> => {
    const { node: _node, ...rest } = fields;
    return rest;
  };
  return {
    debug: (fields, msg) => log.debug(strip(fields), msg),
    info: (fields, msg) => log.info(strip(fields), msg),
    warn: (fields, msg) => log.warn(strip(fields), msg),
  };
}

function hostForUrl(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/**
 * Starts the agent of `node`: reads its state dir, serves the API, sends heartbeats. Throws
 * NOT_FOUND (unknown node), USAGE (no address to listen on), CONFIG_INVALID (no controllers for
 * heartbeats), IO (state dir, or the address cannot be bound); nothing stays open then.
 */
export async function startAgentDaemon(opts: AgentDaemonOptions): Promise<AgentDaemon> {
  const { config, node } = opts;
  findNode(config, node);
  const listen = opts.listen ?? agentListenAddress(config, node);
  const stateDir = opts.stateDir ?? join(DEFAULT_STATE_ROOT, node);
  const log = opts.log ?? createAgentLogger(node);
  const endpoints = reportEndpoints(config);
  if (endpoints.length === 0) {
    if (opts.heartbeats !== false) {
      throw new HavenError('CONFIG_INVALID', 'the configuration names no controllers: the agent has no one to send heartbeats and reports to', {
        hint: 'add a controllers: entry with an address on every ring',
      });
    }
    log.warn({}, 'no controller is configured: events will queue in the state dir until one is');
  }

  const beating = opts.heartbeats !== false;
  // Peers hear each other only where there are rings to bind (distributed confirmation).
  const confirming = beating && (config.cluster.confirmation?.enabled ?? DEFAULTS.confirmation) && (config.rings?.length ?? 0) > 0;
  const agent = new Agent({
    node,
    stateDir,
    resourceAgentFor: opts.resourceAgentFor ?? defaultResourceAgentFor,
    reportEndpoints: endpoints,
    log,
    ...(beating ? { selfFence: selfFencePolicy(config) } : {}),
    ...opts.agent,
  });
  await agent.start();

  let server: ServerType | undefined;
  let heartbeats: HeartbeatSender | undefined;
  let peers: HeartbeatReceiver | undefined;
  try {
    // It listens to the peers whose heartbeats come here (membership/peers.ts), not to every node.
    if (confirming) peers = await HeartbeatReceiver.start({ config, node, logger: withoutNode(log), nodes: heardBy(config, node) });
    const p = peers;
    const app = createAgentApi(agent, p === undefined ? {} : { peers: () => peersView(config, node, p) });
    const started = await listenOn(listen, app.fetch);
    server = started.server;
    log.info({ listen: `${hostForUrl(listen.host)}:${started.port}`, stateDir, controllers: endpoints, peers: confirming }, 'agent API listening');
    if (beating) {
      heartbeats = await HeartbeatSender.start({
        config,
        node,
        epoch: () => agent.epoch,
        lapsed: () => agent.leaseInfo()?.lapsed === true,
        incarnation: agent.incarnation,
        peers: confirming,
        onGrant: (grant, sentAt) => agent.leaseGranted(grant, sentAt),
        logger: withoutNode(log),
      });
    }
    const address: ListenAddress = { host: listen.host, port: started.port };
    let closing: Promise<void> | undefined;
    const s = server;
    const hb = heartbeats;
    return {
      agent,
      address,
      stateDir,
      close: () => {
        closing ??= closeAll(log, agent, s, hb, p);
        return closing;
      },
    };
  } catch (err) {
    await closeAll(log, agent, server, heartbeats, peers);
    throw err;
  }
}

/** What this node hears of each peer, per ring (GET /v1/peers). */
export function peersView(config: Config, node: string, receiver: HeartbeatReceiver, now: number = performance.now()): Peers {
  return {
    node,
    peers: heardBy(config, node).map((name) => {
      const r = receiver.report(name);
      return {
        node: name,
        incarnation: r?.incarnation ?? null,
        rings: (r?.rings ?? []).map((x) => ({ ring: x.ring, link: x.link, silentMs: x.lastHeard === null ? null : Math.max(0, Math.round(now - x.lastHeard)), seq: x.seq })),
      };
    }),
  };
}

async function closeAll(log: Logger, agent: Agent, server: ServerType | undefined, heartbeats: HeartbeatSender | undefined, peers?: HeartbeatReceiver): Promise<void> {
  log.info({}, 'agent closing: resources keep running');
  const closed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
  if (server !== undefined && 'closeIdleConnections' in server) server.closeIdleConnections();
  await agent.close(); // drains accepted operations, whose answers still go out
  await heartbeats?.stop();
  await peers?.stop();
  if (server !== undefined && 'closeAllConnections' in server) server.closeAllConnections();
  await closed;
}

function listenOn(listen: ListenAddress, fetch: (req: Request) => Response | Promise<Response>): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: listen.host, port: listen.port }, (info: AddressInfo) => {
      server.off('error', onError);
      resolve({ server, port: info.port });
    });
    function onError(err: NodeJS.ErrnoException): void {
      const code = err.code ?? '';
      const hint =
        code === 'EADDRINUSE'
          ? 'another agent (or program) listens there; stop it, or pass --listen'
          : code === 'EADDRNOTAVAIL'
            ? "the address is not on this host: check the node's address on the first ring, or pass --listen"
            : undefined;
      reject(new IoError(`cannot serve the agent API on ${hostForUrl(listen.host)}:${listen.port}: ${err.message}`, { cause: err, ...(hint === undefined ? {} : { hint }) }));
    }
    server.once('error', onError);
  });
}
