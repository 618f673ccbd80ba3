// `haven controller --config FILE [--name NAME] [--store embedded|etcd:URL,…] [--leader-lease S]
// [--state-dir DIR] [--socket PATH] [--listen ADDR:PORT]`: runs the controller daemon in the
// foreground until SIGTERM or SIGINT. It hears heartbeats on every ring at its configured
// addresses, serves its API (docs/api.md) on its first address at apiPort and, with --socket, on
// a Unix socket too (the lab's CLI reaches it that way from outside the lab's namespaces). With
// --store etcd:… several controllers share the state in etcd and one of them leads (docs/store.md);
// the others follow and take over. Logs go to stderr as JSON lines (pino).

import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { parseConfig, readText } from '../../config/load.js';
import { controllerApp } from '../../controller/api.js';
import { Controller } from '../../controller/controller.js';
import { HeartbeatReceiver } from '../../membership/receiver.js';
import { ConfigInvalidError, HavenError, UsageError } from '../../errors.js';
import { DEFAULTS, type Config } from '../../model/config.js';
import { EmbeddedStore } from '../../store/embedded.js';
import { EtcdStore } from '../../store/etcd.js';
import type { Store } from '../../store/store.js';
import { action } from '../run.js';

interface ControllerOptions {
  readonly config: string;
  readonly name?: string;
  readonly store: string;
  readonly leaderLease?: string;
  readonly stateDir: string;
  readonly socket?: string;
  readonly listen?: string;
  readonly logLevel: string;
}

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('run the controller daemon: hears heartbeats, plans and executes; until SIGTERM')
    .requiredOption('--config <file>', 'the cluster configuration (YAML)')
    .option('--name <name>', 'this controller in the configuration (default: the first)')
    .option('--store <store>', 'embedded (files in --state-dir), or etcd:URL[,URL…] (the etcd members; several controllers, one leads)', 'embedded')
    .option('--leader-lease <seconds>', `etcd: the leader lease's TTL in whole seconds (default ${DEFAULT_LEADER_LEASE_S})`)
    .option('--state-dir <dir>', 'where the embedded store keeps its record and event log', '/var/lib/haven/controller')
    .option('--socket <path>', 'also serve the API on this Unix socket')
    .option('--listen <addr:port>', 'serve the API here instead of the configured address and apiPort')
    .option('--log-level <level>', 'pino log level', 'info')
    .action(action(async (opts: ControllerOptions) => runController(opts)));
}

async function runController(opts: ControllerOptions): Promise<void> {
  const text = await readText(opts.config);
  const loaded = parseConfig(text, opts.config, { runnable: true });
  if (!loaded.ok) throw new ConfigInvalidError(opts.config, loaded.errors);
  const config = loaded.config;
  const me = pickController(config, opts.name);
  const logger = pino({ level: opts.logLevel, base: { controller: me.name } }, pino.destination(2));
  const listen = listenAddress(config, me.name, opts.listen);
  const store = openStore(opts, config, logger);

  // The receiver answers heartbeats with the controller's lease grants once it exists.
  let controller: Controller | undefined;
  const membership = await HeartbeatReceiver.start({ config, controller: me.name, logger, grant: (node, epoch, lapsed) => controller?.grantLease(node, epoch, lapsed) });
  controller = new Controller({ config, configFile: { path: opts.config, text }, store: store.store, membership, logger, name: me.name, recampaign: store.kind === 'etcd' });
  await controller.start();
  const app = controllerApp(controller);
  const servers: Server[] = [];
  servers.push(await serve(app.fetch, (s) => s.listen(listen.port, listen.host)));
  if (opts.socket) {
    await rm(opts.socket, { force: true });
    servers.push(await serve(app.fetch, (s) => s.listen(opts.socket)));
  }
  logger.info({ listen: `${listen.host}:${listen.port}`, socket: opts.socket, store: store.describe, phase: controller.phase }, 'controller up');

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('controller stopping');
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  if (opts.socket) await rm(opts.socket, { force: true });
  await controller.stop();
}

/** etcd: the leader lease's default TTL (docs/operations.md#three-controllers says why). */
export const DEFAULT_LEADER_LEASE_S = 1;

/** `--store`: the embedded store in --state-dir, or etcd (the cluster's name as its key prefix). */
export function openStore(opts: Pick<ControllerOptions, 'store' | 'leaderLease' | 'stateDir'>, config: Config, logger?: Logger): { kind: 'embedded' | 'etcd'; store: Store; describe: string } {
  const text = opts.store.trim();
  if (text === 'embedded') {
    if (opts.leaderLease !== undefined) throw new UsageError('--leader-lease applies to --store etcd:… only', { hint: 'the embedded store has one controller, which leads at once' });
    return { kind: 'embedded', store: new EmbeddedStore(opts.stateDir), describe: `embedded:${opts.stateDir}` };
  }
  if (!text.startsWith('etcd:')) throw new UsageError(`--store ${opts.store} is neither embedded nor etcd:URL[,URL…]`, { hint: 'e.g. --store etcd:http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379' });
  const endpoints = text.slice(5).split(',').map((e) => e.trim());
  if (endpoints.some((e) => e === '')) throw new UsageError(`--store ${opts.store}: an empty etcd URL`, { hint: 'comma-separated client URLs, no empty ones: etcd:http://A:2379,http://B:2379' });
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) throw new UsageError(`--store: ${e} is not an etcd client URL`, { hint: 'like http://10.0.0.1:2379' });
  }
  let ttl = DEFAULT_LEADER_LEASE_S;
  if (opts.leaderLease !== undefined) {
    ttl = Number(opts.leaderLease.replace(/s$/, ''));
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 60) throw new UsageError(`--leader-lease ${opts.leaderLease} is not a whole number of seconds from 1 to 60`);
  }
  const clean = endpoints.map((e) => e.replace(/\/$/, ''));
  const store = new EtcdStore({ endpoints: clean, cluster: config.cluster.name, leaseTtlSeconds: ttl, ...(logger ? { logger } : {}) });
  return { kind: 'etcd', store, describe: `etcd:${clean.join(',')} (leader lease ${ttl} s)` };
}

function pickController(config: Config, name: string | undefined): { name: string } {
  const list = config.controllers ?? [];
  if (list.length === 0) throw new HavenError('CONFIG_INVALID', 'the configuration has no controllers', { hint: 'add controllers: [{ name, addresses }] (docs/config.md)' });
  const me = name === undefined ? list[0] : list.find((c) => c.name === name);
  if (!me) throw new UsageError(`no controller named ${name} in the configuration`, { hint: `controllers: ${list.map((c) => c.name).join(', ')}` });
  return me;
}

function listenAddress(config: Config, name: string, listen: string | undefined): { host: string; port: number } {
  if (listen !== undefined) {
    const m = /^(.+):(\d+)$/.exec(listen);
    const port = Number(m?.[2]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--listen ${listen} is not ADDR:PORT`);
    return { host: m[1]!, port };
  }
  const me = config.controllers!.find((c) => c.name === name)!;
  const ring = config.rings?.[0]?.name;
  const host = ring !== undefined ? me.addresses[ring] : Object.values(me.addresses)[0];
  return { host: host ?? '127.0.0.1', port: me.apiPort ?? DEFAULTS.apiPort };
}

function serve(fetch: (req: Request) => Response | Promise<Response>, listen: (s: Server) => void): Promise<Server> {
  const server = createAdaptorServer({ fetch }) as Server;
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new HavenError('IO', `cannot serve the API: ${err.message}`)));
    server.once('listening', () => resolve(server));
    listen(server);
  });
}
