// A client of HAProxy's runtime API (the `stats socket`, and the master CLI of master-worker
// mode): one connection per call, the commands separated by ";", the answer read until HAProxy
// closes the connection. Haven uses it to take a server out of rotation (`maint`), to let its
// sessions finish (`drain`), to put it back (`ready`), and to read what HAProxy believes
// (`show servers state`, `show stat`). Every call has a timeout and takes an AbortSignal.

import { connect } from 'node:net';
import { HavenError } from '../errors.js';
import type { ServerState } from './haproxy-config.js';

export interface RuntimeOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 2_000;
/** Commands are plain words: nothing that would start a second command or a new line. */
const SAFE_ARG = /^[A-Za-z0-9_.:/@*-]+$/;

/** Sends `commands` (joined with ";") and returns HAProxy's whole answer. Throws UNREACHABLE. */
export function runtimeCommand(socket: string, commands: string | readonly string[], opts: RuntimeOptions = {}): Promise<string> {
  const text = typeof commands === 'string' ? commands : commands.join('; ');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const sock = connect({ path: socket });
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err !== undefined) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onAbort = (): void => finish(new HavenError('UNREACHABLE', `HAProxy runtime API ${socket}: aborted`));
    const timer = setTimeout(() => finish(new HavenError('UNREACHABLE', `HAProxy runtime API ${socket}: no answer to "${text}" within ${timeoutMs} ms`)), timeoutMs);
    if (opts.signal?.aborted === true) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('connect', () => {
      // The half-close tells HAProxy this is the last command (the master CLI waits for it).
      sock.end(`${text}\n`);
    });
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.on('end', () => finish(undefined));
    sock.on('close', () => finish(undefined));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? 'no such socket (HAProxy is not running)' : e.code === 'ECONNREFUSED' ? 'refused (HAProxy is not running)' : (e.code ?? e.message);
      finish(new HavenError('UNREACHABLE', `HAProxy runtime API ${socket}: ${why}`));
    });
  });
}

/** One server as `show servers state` and `show stat` describe it. */
export interface ServerStatus {
  readonly backend: string;
  readonly server: string;
  readonly address: string;
  readonly port: number;
  /** What an operator set: maint, drain or ready (HAProxy's admin state). */
  readonly admin: ServerState;
  /** What HAProxy's checks (or Haven's state) make of it: up, down (or stopping, starting). */
  readonly operational: 'up' | 'down' | 'starting' | 'stopping';
  /** Sessions open on it now (`show stat` scur); undefined when not asked for. */
  readonly sessions?: number;
}

// srv_admin_state bits (HAProxy's SRV_ADMF_*): forced, inherited, config, resolver and hostname
// maintenance; forced and inherited drain. The config bit (disabled) stays set after a `ready`,
// so it counts as maintenance only together with the forced one HAProxy sets beside it.
const ADMF_FMAINT = 0x01;
const ADMF_IMAINT = 0x02;
const ADMF_FDRAIN = 0x08;
const ADMF_IDRAIN = 0x10;
const ADMF_RMAINT = 0x20;
const ADMF_HMAINT = 0x40;
const OP_STATES = ['down', 'starting', 'up', 'stopping'] as const;

/** Parses `show servers state` (format version 1). */
export function parseServersState(text: string): ServerStatus[] {
  const lines = text.split('\n').map((l) => l.trim());
  const header = lines.find((l) => l.startsWith('# be_id'));
  if (lines[0] !== '1' || header === undefined) {
    throw new HavenError('UNREACHABLE', `HAProxy answered "show servers state" with something unexpected: ${text.slice(0, 200)}`);
  }
  const cols = header.slice(2).split(' ');
  const col = (name: string): number => {
    const i = cols.indexOf(name);
    if (i < 0) throw new HavenError('UNREACHABLE', `HAProxy's "show servers state" has no column ${name}`);
    return i;
  };
  const [be, srv, addr, op, adm, port] = [col('be_name'), col('srv_name'), col('srv_addr'), col('srv_op_state'), col('srv_admin_state'), col('srv_port')];
  const out: ServerStatus[] = [];
  for (const l of lines) {
    if (l === '' || l === '1' || l.startsWith('#')) continue;
    const f = l.split(' ');
    const bits = Number(f[adm]);
    const admin: ServerState = bits & (ADMF_FMAINT | ADMF_IMAINT | ADMF_RMAINT | ADMF_HMAINT) ? 'maint' : bits & (ADMF_FDRAIN | ADMF_IDRAIN) ? 'drain' : 'ready';
    out.push({
      backend: f[be] ?? '',
      server: f[srv] ?? '',
      address: f[addr] ?? '',
      port: Number(f[port]),
      admin,
      operational: OP_STATES[Number(f[op])] ?? 'down',
    });
  }
  return out;
}

/** Parses the CSV of `show stat`: rows of servers, by backend and server, with their current sessions. */
export function parseStatSessions(text: string): Map<string, number> {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  const out = new Map<string, number>();
  if (header === undefined) return out;
  const cols = header.slice(2).split(',');
  const [px, sv, scur] = [cols.indexOf('pxname'), cols.indexOf('svname'), cols.indexOf('scur')];
  for (const l of lines) {
    if (l === '' || l.startsWith('#')) continue;
    const f = l.split(',');
    const name = f[sv] ?? '';
    if (name === 'FRONTEND' || name === 'BACKEND') continue;
    out.set(`${f[px] ?? ''}/${name}`, Number(f[scur] ?? 0));
  }
  return out;
}

function arg(value: string): string {
  if (!SAFE_ARG.test(value)) throw new HavenError('USAGE', `"${value}" cannot be sent to HAProxy's runtime API (letters, digits and _.:/@*- only)`);
  return value;
}

/** Every server of every backend, with its sessions. */
export async function showServers(socket: string, opts: RuntimeOptions = {}): Promise<ServerStatus[]> {
  const [state, stat] = await Promise.all([runtimeCommand(socket, 'show servers state', opts), runtimeCommand(socket, 'show stat -1 4 -1', opts)]);
  const sessions = parseStatSessions(stat);
  return parseServersState(state).map((s) => ({ ...s, sessions: sessions.get(`${s.backend}/${s.server}`) ?? 0 }));
}

/** The runtime commands that move one server to `state`; `shutdown`: also close its sessions. */
export function stateCommands(backend: string, server: string, state: ServerState, shutdown = false): string[] {
  const at = `${arg(backend)}/${arg(server)}`;
  const cmds = [`set server ${at} state ${state}`];
  if (state === 'maint' && shutdown) cmds.push(`shutdown sessions server ${at}`);
  return cmds;
}

/** The server a stick table points every connection at (single-writer backends), if any. */
export async function stuckServer(socket: string, table: string, opts: RuntimeOptions = {}): Promise<string | undefined> {
  const text = await runtimeCommand(socket, `show table ${arg(table)}`, opts);
  return /server_key=(\S+)/.exec(text)?.[1];
}

/** Answers from HAProxy that say a command failed (it answers 200-style text either way). */
export function runtimeErrors(answer: string): string[] {
  return answer
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(No such|Unknown command|Require|Permission denied|'set server' |.*expects|.*not found)/i.test(l));
}

/** One line of the master CLI's `show proc`: the master's reload count and failed reloads. */
export function parseShowProc(text: string): { masterPid: number; reloads: number; failed: number; workers: number[] } | undefined {
  const m = /^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]/m.exec(text);
  if (m === null) return undefined;
  const workers = [...text.matchAll(/^(\d+)\s+worker\b/gm)].map((w) => Number(w[1]));
  return { masterPid: Number(m[1]), reloads: Number(m[2]), failed: Number(m[3]), workers };
}
