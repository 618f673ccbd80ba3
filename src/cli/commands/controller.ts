// `haven controller --config FILE [--name NAME] [--state-dir DIR] [--socket PATH] [--listen ADDR:PORT]`:
// runs the controller daemon in the foreground until SIGTERM or SIGINT. It hears heartbeats on
// every ring at its configured addresses, serves its API (docs/api.md) on its first address at
// apiPort and, with --socket, on a Unix socket too (the lab's CLI reaches it that way from outside
// the lab's namespaces). Logs go to stderr as JSON lines (pino).

import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Command } from 'commander';
import { pino } from 'pino';
import { loadConfigFile } from '../../config/load.js';
import { controllerApp } from '../../controller/api.js';
import { Controller } from '../../controller/controller.js';
import { HeartbeatReceiver } from '../../membership/receiver.js';
import { ConfigInvalidError, HavenError, UsageError } from '../../errors.js';
import { DEFAULTS, type Config } from '../../model/config.js';
import { EmbeddedStore } from '../../store/embedded.js';
import { action } from '../run.js';

interface ControllerOptions {
  readonly config: string;
  readonly name?: string;
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
    .option('--state-dir <dir>', 'where the embedded store keeps its record and event log', '/var/lib/haven/controller')
    .option('--socket <path>', 'also serve the API on this Unix socket')
    .option('--listen <addr:port>', 'serve the API here instead of the configured address and apiPort')
    .option('--log-level <level>', 'pino log level', 'info')
    .action(action(async (opts: ControllerOptions) => runController(opts)));
}

async function runController(opts: ControllerOptions): Promise<void> {
  const loaded = await loadConfigFile(opts.config);
  if (!loaded.ok) throw new ConfigInvalidError(opts.config, loaded.errors);
  const config = loaded.config;
  const me = pickController(config, opts.name);
  const logger = pino({ level: opts.logLevel, base: { controller: me.name } }, pino.destination(2));
  const listen = listenAddress(config, me.name, opts.listen);

  // The receiver answers heartbeats with the controller's lease grants once it exists.
  let controller: Controller | undefined;
  const membership = await HeartbeatReceiver.start({ config, controller: me.name, logger, grant: (node, epoch, lapsed) => controller?.grantLease(node, epoch, lapsed) });
  controller = new Controller({ config, store: new EmbeddedStore(opts.stateDir), membership, logger });
  await controller.start();
  const app = controllerApp(controller);
  const servers: Server[] = [];
  servers.push(await serve(app.fetch, (s) => s.listen(listen.port, listen.host)));
  if (opts.socket) {
    await rm(opts.socket, { force: true });
    servers.push(await serve(app.fetch, (s) => s.listen(opts.socket)));
  }
  logger.info({ listen: `${listen.host}:${listen.port}`, socket: opts.socket, epoch: controller.epoch }, 'controller up');

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
