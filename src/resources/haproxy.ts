// The `haproxy` resource agent: Debian's HAProxy, run by Haven with a configuration Haven
// renders (./haproxy-config.ts) and driven through its runtime API (./haproxy-runtime.ts).
//
// HAProxy runs in master-worker mode (`haproxy -W -S master.sock -f haproxy.cfg`), as one
// `process` copy (./process.ts keeps its pid file, its log, its watch and its stop). A start of a
// copy that already runs with another configuration is a reload through the master CLI: the
// master re-executes itself and the new worker takes the listening sockets over from the old
// one (`expose-fd listeners`), which finishes its connections, so no connection is refused or
// cut. `setServers` is how the controller takes a server out the moment it learns that its node
// or copy is down (`maint`), lets it finish its sessions before a planned stop (`drain`), and
// puts it back (`ready`); the states are also kept in the copy's directory (servers.json), so a
// start or reload renders every server in the state Haven last asked for.

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HavenError } from '../errors.js';
import { SERVER_STATES, type ServerSeen, type ServersResult, type ServerState, type ServerWant } from '../model/lb.js';
import { OCF_RC } from '../model/wire.js';
import { runCommand, tail } from './exec.js';
import { backendName, parseHaproxyParams, renderHaproxyConfig, type HaproxySpec, type ServerStates } from './haproxy-config.js';
import { parseServersState, parseShowProc, runtimeCommand, runtimeErrors, showServers, stateCommands, stuckServer } from './haproxy-runtime.js';
import type { Params } from './params.js';
import { processAgent } from './process.js';
import type { OperationContext, ResourceAgent, ResourceOperation, ResourceOutcome } from './types.js';

const CONFIG_FILE = 'haproxy.cfg';
const STATES_FILE = 'servers.json';
const LOG_FILE = 'haproxy.log';
/** Room left under the 108-byte limit of a Unix socket path. */
const MAX_SOCKET_PATH = 100;
const POLL_MS = 10;
const RUNTIME_TIMEOUT_MS = 2_000;

export interface HaproxyPaths {
  readonly config: string;
  readonly states: string;
  /** Where the sockets live: the copy's directory, or a short one under the temp dir when that path is too long. */
  readonly socketDir: string;
  readonly stats: string;
  readonly master: string;
}

export function haproxyPaths(stateDir: string): HaproxyPaths {
  const long = join(stateDir, 'master.sock').length > MAX_SOCKET_PATH;
  const socketDir = long ? join(tmpdir(), `haven-haproxy-${createHash('sha256').update(stateDir).digest('hex').slice(0, 16)}`) : stateDir;
  return { config: join(stateDir, CONFIG_FILE), states: join(stateDir, STATES_FILE), socketDir, stats: join(socketDir, 'stats.sock'), master: join(socketDir, 'master.sock') };
}

// ---- one thing at a time per copy: starts, stops and server changes ----

const busy = new Map<string, Promise<unknown>>();

function serialize<T>(stateDir: string, fn: () => Promise<T>): Promise<T> {
  const before = busy.get(stateDir) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  busy.set(stateDir, settled);
  void settled.then(() => {
    if (busy.get(stateDir) === settled) busy.delete(stateDir);
  });
  return run;
}

// ---- the states Haven asked for ----

async function readStates(path: string): Promise<ServerStates> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as unknown;
    if (typeof data !== 'object' || data === null) return {};
    const out: Record<string, Record<string, ServerState>> = {};
    for (const [service, servers] of Object.entries(data as Record<string, unknown>)) {
      if (typeof servers !== 'object' || servers === null) continue;
      out[service] = {};
      for (const [server, state] of Object.entries(servers as Record<string, unknown>)) {
        if ((SERVER_STATES as readonly unknown[]).includes(state)) (out[service] as Record<string, ServerState>)[server] = state as ServerState;
      }
    }
    return out;
  } catch {
    return {};
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

// ---- the process ----

/**
 * The `process` agent's params that run this HAProxy in master-worker mode. `ready`: with the
 * start's readiness check, once the first frontend listens (the master binds before the worker
 * starts; a connection made meanwhile waits in the backlog, it is not refused); with only
 * transparent frontends, a short settle, then the runtime API. Monitors check the runtime API.
 */
function processParams(spec: HaproxySpec, p: HaproxyPaths, ready = false): Params {
  // A transparent bind may name an address this host does not hold (yet): not one to check.
  const first = spec.services.find((s) => !s.transparent);
  const quote = (s: string): string => `'${s}'`;
  return {
    command: spec.binary,
    args: `-W -S ${quote(p.master)} -f ${quote(p.config)}`,
    logFile: LOG_FILE,
    stopTimeout: 5_000,
    ...(first === undefined || !ready ? {} : { check: `tcp:${first.bindAddress === '*' ? '127.0.0.1' : first.bindAddress}:${first.bindPort}` }),
  };
}

function parse(ctx: OperationContext): { spec: HaproxySpec; paths: HaproxyPaths; proc: Params } | ResourceOutcome {
  const spec = parseHaproxyParams(ctx.params, { needServers: true });
  if (Array.isArray(spec)) return { rc: OCF_RC.ERR_CONFIGURED, output: spec.join('; ') };
  if (/'/.test(ctx.stateDir)) return { rc: OCF_RC.ERR_CONFIGURED, output: `the copy's directory ${ctx.stateDir} holds a quote` };
  const paths = haproxyPaths(ctx.stateDir);
  return { spec, paths, proc: processParams(spec, paths) };
}

function isOutcome(x: unknown): x is ResourceOutcome {
  return typeof (x as ResourceOutcome).rc === 'number';
}

/** Waits until the runtime API answers, or the deadline. */
async function waitRuntime(socket: string, deadline: number, signal: AbortSignal): Promise<string | undefined> {
  let last = '';
  for (;;) {
    try {
      await runtimeCommand(socket, 'show info', { timeoutMs: Math.max(50, Math.min(RUNTIME_TIMEOUT_MS, deadline - Date.now())), signal });
      return undefined;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline || signal.aborted) return last;
    await sleep(POLL_MS);
  }
}

/** `haproxy -c`: a configuration HAProxy would refuse is never written over a working one. */
async function checkConfig(spec: HaproxySpec, text: string, p: HaproxyPaths, ctx: OperationContext): Promise<ResourceOutcome | undefined> {
  const candidate = `${p.config}.new`;
  await writeFile(candidate, text, { mode: 0o600 });
  const r = await runCommand(spec.binary, ['-c', '-q', '-f', candidate], { timeoutMs: Math.min(ctx.timeoutMs, 10_000), signal: ctx.signal });
  if (r.spawnError !== undefined) {
    return { rc: OCF_RC.ERR_INSTALLED, output: `cannot run ${spec.binary}: ${r.spawnError.code ?? r.spawnError.message} (hint: apt-get install haproxy)` };
  }
  if (r.code !== 0) return { rc: OCF_RC.ERR_CONFIGURED, output: `HAProxy refuses the rendered configuration: ${tail(`${r.stdout}\n${r.stderr}`, 5)}` };
  await rename(candidate, p.config);
  return undefined;
}

/** The master CLI's `show proc`; it opens a few ms after the worker answers, so it is retried until the deadline. */
export async function showProc(master: string, deadline: number, signal: AbortSignal): Promise<ReturnType<typeof parseShowProc>> {
  for (;;) {
    const proc = parseShowProc(await runtimeCommand(master, 'show proc', { timeoutMs: RUNTIME_TIMEOUT_MS, signal }).catch(() => ''));
    if (proc !== undefined || Date.now() >= deadline || signal.aborted) return proc;
    await sleep(POLL_MS);
  }
}

async function reload(p: HaproxyPaths, ctx: OperationContext, deadline: number): Promise<ResourceOutcome | undefined> {
  const before = await showProc(p.master, deadline, ctx.signal);
  if (before === undefined) return { rc: OCF_RC.ERR_GENERIC, output: `HAProxy's master CLI ${p.master} does not answer: cannot reload` };
  // The master re-executes itself and may close the connection without a word.
  await runtimeCommand(p.master, 'reload', { timeoutMs: RUNTIME_TIMEOUT_MS, signal: ctx.signal }).catch(() => '');
  for (;;) {
    const now = parseShowProc(await runtimeCommand(p.master, 'show proc', { timeoutMs: RUNTIME_TIMEOUT_MS, signal: ctx.signal }).catch(() => ''));
    if (now !== undefined && now.failed > before.failed) return { rc: OCF_RC.ERR_GENERIC, output: 'HAProxy could not load the new configuration; the old one still serves' };
    if (now !== undefined && now.reloads > before.reloads) break;
    if (Date.now() >= deadline || ctx.signal.aborted) return { rc: OCF_RC.ERR_GENERIC, timedOut: true, output: `HAProxy did not reload within ${ctx.timeoutMs} ms` };
    await sleep(POLL_MS);
  }
  const stuck = await waitRuntime(p.stats, deadline, ctx.signal);
  return stuck === undefined ? undefined : { rc: OCF_RC.ERR_GENERIC, output: `HAProxy reloaded but its runtime API does not answer: ${stuck}` };
}

function describe(spec: HaproxySpec): string {
  return spec.services.map((s) => `${s.name} ${s.bindAddress}:${s.bindPort} → ${(s.servers ?? []).length} servers (${s.balance})`).join(', ');
}

async function start(ctx: OperationContext): Promise<ResourceOutcome> {
  const deadline = Date.now() + ctx.timeoutMs;
  const parsed = parse(ctx);
  if (isOutcome(parsed)) return parsed;
  const { spec, paths: p, proc } = parsed;
  await mkdir(ctx.stateDir, { recursive: true });
  await mkdir(p.socketDir, { recursive: true, mode: 0o700 });
  const text = renderHaproxyConfig(spec, { instance: ctx.instance, statsSocket: p.stats, states: await readStates(p.states) });
  const running = await processAgent.run('monitor', { ...ctx, params: proc });
  if (running.rc === OCF_RC.SUCCESS) {
    const current = await readFile(p.config, 'utf8').catch(() => undefined);
    if (current === text) {
      const stuck = await waitRuntime(p.stats, deadline, ctx.signal);
      return stuck === undefined ? { rc: OCF_RC.SUCCESS, output: `already running: ${describe(spec)}` } : { rc: OCF_RC.ERR_GENERIC, output: `running, but its runtime API does not answer: ${stuck}` };
    }
    const refused = await checkConfig(spec, text, p, ctx);
    if (refused !== undefined) return refused;
    const failed = await reload(p, ctx, deadline);
    return failed ?? { rc: OCF_RC.SUCCESS, output: `reloaded with a new configuration: ${describe(spec)}` };
  }
  // A fresh start: HAProxy itself refuses a bad configuration and its log says why, so the
  // failover path skips the separate `haproxy -c` run.
  await writeAtomic(p.config, text);
  await rm(p.stats, { force: true });
  await rm(p.master, { force: true });
  const out = await processAgent.run('start', { ...ctx, params: processParams(spec, p, true), timeoutMs: Math.max(1, deadline - Date.now()) });
  if (out.rc !== OCF_RC.SUCCESS) return out;
  const stuck = await waitRuntime(p.stats, deadline, ctx.signal);
  if (stuck !== undefined) return { rc: OCF_RC.ERR_GENERIC, timedOut: Date.now() >= deadline, output: `${out.output}; its runtime API does not answer: ${stuck}` };
  return { rc: OCF_RC.SUCCESS, output: `${out.output}: ${describe(spec)}` };
}

async function monitor(ctx: OperationContext): Promise<ResourceOutcome> {
  const parsed = parse(ctx);
  if (isOutcome(parsed)) return parsed;
  const out = await processAgent.run('monitor', { ...ctx, params: parsed.proc });
  if (out.rc !== OCF_RC.SUCCESS) return out;
  try {
    await runtimeCommand(parsed.paths.stats, 'show info', { timeoutMs: Math.min(ctx.timeoutMs, RUNTIME_TIMEOUT_MS), signal: ctx.signal });
    return { rc: OCF_RC.SUCCESS, output: `${out.output}; runtime API answers` };
  } catch (err) {
    return { rc: OCF_RC.ERR_GENERIC, output: `${out.output}, but ${err instanceof Error ? err.message : String(err)}` };
  }
}

async function stop(ctx: OperationContext): Promise<ResourceOutcome> {
  const parsed = parse(ctx);
  if (isOutcome(parsed)) return parsed;
  const out = await processAgent.run('stop', { ...ctx, params: parsed.proc });
  if (out.rc === OCF_RC.SUCCESS) {
    await rm(parsed.paths.stats, { force: true });
    await rm(parsed.paths.master, { force: true });
  }
  return out;
}

async function run(operation: ResourceOperation, ctx: OperationContext): Promise<ResourceOutcome> {
  switch (operation) {
    case 'start':
      return serialize(ctx.stateDir, () => start(ctx));
    case 'stop':
      return serialize(ctx.stateDir, () => stop(ctx));
    case 'monitor':
      return monitor(ctx);
    case 'promote':
    case 'demote':
      return { rc: OCF_RC.ERR_UNIMPLEMENTED, output: `the haproxy agent has no ${operation} (run it as a primitive or a clone)` };
    default: {
      const never: never = operation;
      return never;
    }
  }
}

// ---- which servers take traffic ----

function statesOf(wants: readonly ServerWant[]): ServerStates {
  const out: Record<string, Record<string, ServerState>> = {};
  for (const w of wants) (out[w.service] ??= {})[w.server] = w.state;
  return out;
}

/** Refuses a want naming a service or server the params do not have: one message each. */
function unknownWants(spec: HaproxySpec, wants: readonly ServerWant[]): string[] {
  const problems: string[] = [];
  for (const w of wants) {
    const s = spec.services.find((x) => x.name === w.service);
    if (s === undefined) problems.push(`no service "${w.service}" (services: ${spec.services.map((x) => x.name).join(', ')})`);
    else if (!(s.servers ?? []).some((x) => x.name === w.server)) problems.push(`service ${w.service} has no server "${w.server}"`);
  }
  return problems;
}

async function setServers(ctx: OperationContext, wants: readonly ServerWant[]): Promise<ServersResult> {
  const spec = parseHaproxyParams(ctx.params, { needServers: true });
  if (Array.isArray(spec)) throw new HavenError('CONFIG_INVALID', `the haproxy params are wrong: ${spec.join('; ')}`);
  const problems = unknownWants(spec, wants);
  if (problems.length > 0) throw new HavenError('USAGE', `server states refused: ${problems.join('; ')}`, { hint: 'the controller and the copy disagree on the configuration; restart the copy' });
  return serialize(ctx.stateDir, async () => {
    const p = haproxyPaths(ctx.stateDir);
    await mkdir(ctx.stateDir, { recursive: true });
    await writeAtomic(p.states, `${JSON.stringify(statesOf(wants), null, 1)}\n`);
    const running = await processAgent.run('monitor', { ...ctx, params: processParams(spec, p) });
    if (running.rc !== OCF_RC.SUCCESS) return { applied: false, output: 'HAProxy does not run here: the states are kept for its start', servers: [] };
    const opts = { timeoutMs: Math.min(ctx.timeoutMs, RUNTIME_TIMEOUT_MS), signal: ctx.signal };
    const current = parseServersState(await runtimeCommand(p.stats, 'show servers state', opts));
    const commands: string[] = [];
    const changes: string[] = [];
    const missing: string[] = [];
    for (const w of wants) {
      const be = backendName(w.service);
      const cur = current.find((c) => c.backend === be && c.server === w.server);
      if (cur === undefined) {
        missing.push(`${w.service}/${w.server}`);
        continue;
      }
      if (cur.admin === w.state) continue;
      commands.push(...stateCommands(be, w.server, w.state, w.shutdown === true));
      changes.push(`${w.service}/${w.server} ${cur.admin} → ${w.state}${w.reason === undefined ? '' : ` (${w.reason})`}`);
    }
    // A single writer taken out: forget the stick entry, so the new writer stays the writer
    // when the old one comes back (no flip-flop of the only server that takes writes).
    for (const s of spec.services) {
      if (s.balance !== 'single-writer') continue;
      const out = wants.filter((w) => w.service === s.name && w.state !== 'ready').map((w) => w.server);
      if (out.length === 0) continue;
      const stuck = await stuckServer(p.stats, backendName(s.name), opts);
      if (stuck !== undefined && out.includes(stuck)) commands.push(`clear table ${backendName(s.name)}`);
    }
    if (commands.length > 0) {
      const answer = await runtimeCommand(p.stats, commands, opts);
      const errors = runtimeErrors(answer);
      if (errors.length > 0) throw new HavenError('SYSTEM_COMMAND_FAILED', `HAProxy refused: ${errors.join('; ')}`);
    }
    const seen = await showServers(p.stats, opts);
    const servers: ServerSeen[] = [];
    for (const s of spec.services) {
      for (const x of seen.filter((y) => y.backend === backendName(s.name))) {
        servers.push({ service: s.name, server: x.server, admin: x.admin, operational: x.operational, sessions: x.sessions ?? 0 });
      }
    }
    const said = changes.length === 0 ? 'no change' : changes.join(', ');
    return { applied: true, output: missing.length === 0 ? said : `${said}; not in the running configuration (restart the copy): ${missing.join(', ')}`, servers };
  });
}

export const haproxyAgent: ResourceAgent = {
  kind: 'haproxy',
  validate: (params) => {
    const spec = parseHaproxyParams(params);
    return Promise.resolve(Array.isArray(spec) ? spec : []);
  },
  run,
  watch: (ctx, onExit) => processAgent.watch?.(ctx, onExit) ?? (() => undefined),
  setServers,
};
