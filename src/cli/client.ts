// How the operator commands reach a controller: `--controller URL` (http://host:port or
// unix:/path/to.sock, or several of them comma-separated: the leader among them is found the
// same way), else $HAVEN_CONTROLLER (the same forms), else the controller socket of the one lab that
// is up (/run/haven-lab/<name>/controller.sock). A lab with three controllers has one socket each
// (controller.sock, controller2.sock, controller3.sock): the leader among them is found by asking
// each for /v1/health, before every call. Errors come back with the controller's code.

import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { HavenError, type ErrorCode, ERROR_CODES, UsageError } from '../errors.js';

export interface Endpoint {
  readonly describe: string;
  readonly socketPath?: string;
  readonly base?: URL;
  /** Several controllers (socket paths, or endpoints from a comma list): each call goes to the one that leads. */
  readonly candidates?: readonly (string | Endpoint)[];
}

/** A lab's controller sockets: controller.sock, then controller2.sock, controller3.sock. */
const SOCKET_RE = /^controller(\d*)\.sock$/;

function labSockets(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => SOCKET_RE.test(n))
    .sort((a, b) => Number(SOCKET_RE.exec(a)?.[1] || 1) - Number(SOCKET_RE.exec(b)?.[1] || 1))
    .map((n) => join(dir, n));
}

const LAB_DIR = process.env['HAVEN_LAB_STATE_DIR'] ?? '/run/haven-lab';

export function resolveEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const text = flag ?? env['HAVEN_CONTROLLER'];
  if (text !== undefined && text !== '') return parseEndpoint(text);
  const labs = existsSync(LAB_DIR)
    ? readdirSync(LAB_DIR, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => labSockets(join(LAB_DIR, d.name)))
        .filter((s) => s.length > 0)
    : [];
  const socks = labs[0];
  if (labs.length === 1 && socks !== undefined) {
    if (socks.length === 1) return { describe: `unix:${socks[0]}`, socketPath: socks[0]! };
    return { describe: `the leader of ${socks.map((p) => `unix:${p}`).join(', ')}`, candidates: socks };
  }
  throw new UsageError(labs.length === 0 ? 'no controller to talk to' : `${labs.length} labs are up; which controller?`, {
    hint: 'pass --controller http://ADDR:PORT or unix:/path/controller.sock, or set HAVEN_CONTROLLER',
  });
}

export function parseEndpoint(text: string): Endpoint {
  if (text.includes(',')) {
    const parts = text.split(',').map((t) => t.trim());
    if (parts.some((t) => t === '' || t.includes(','))) throw new UsageError(`--controller ${text}: an empty entry in the list`, { hint: 'http://A:PORT,http://B:PORT,… without spaces or empty entries' });
    const candidates = parts.map((t) => parseEndpoint(t));
    return { describe: `the leader of ${candidates.map((c) => c.describe).join(', ')}`, candidates };
  }
  if (text.startsWith('unix:')) return { describe: text, socketPath: text.slice(5) };
  try {
    const base = new URL(text);
    if (base.protocol !== 'http:') throw new Error('not http');
    return { describe: text, base };
  } catch {
    throw new UsageError(`--controller ${text} is neither http://ADDR:PORT nor unix:/path`);
  }
}

/** One request to the controller's API (the leader, when there are several); the JSON answer, or the controller's error as a HavenError. */
export async function call<T>(ep: Endpoint, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  // A read goes to a follower too when nobody leads (an election, etcd without a majority): it shows the stored state.
  const target = ep.candidates === undefined ? ep : method === 'GET' ? await findLeader(ep.candidates, 1_500, true) : await findLeader(ep.candidates);
  return callOne<T>(target, method, path, body, timeoutMs);
}

/**
 * Whether a controller's /v1/health says it leads: `role: "leader"` or `leader: true` (a follower
 * says otherwise); undefined when it says nothing about leadership (a controller on the embedded
 * store, which always leads).
 */
export function leadsFromHealth(health: unknown): boolean | undefined {
  if (typeof health !== 'object' || health === null) return undefined;
  const h = health as { role?: unknown; leader?: unknown; leading?: unknown };
  if (typeof h.role === 'string') return h.role === 'leader';
  if (typeof h.leading === 'boolean') return h.leading;
  if (typeof h.leader === 'boolean') return h.leader;
  return undefined;
}

/**
 * The socket of the controller that leads: every candidate asked for /v1/health at once; one
 * that says it leads wins, else one that says nothing of leadership. While they all answer as
 * followers (an election is under way) or none answers, asks again for up to waitMs.
 */
export async function findLeader(sockets: readonly (string | Endpoint)[], waitMs = 5_000, anyIfNone = false): Promise<Endpoint> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const answers = await Promise.all(
      sockets.map(async (p) => {
        const ep: Endpoint = typeof p === 'string' ? { describe: `unix:${p}`, socketPath: p } : p;
        try {
          return { ep, leads: leadsFromHealth(await callOne<unknown>(ep, 'GET', '/v1/health', undefined, 1_000)), answered: true };
        } catch {
          return { ep, leads: undefined, answered: false };
        }
      }),
    );
    const leader = answers.find((a) => a.leads === true) ?? answers.find((a) => a.answered && a.leads === undefined);
    if (leader !== undefined) return leader.ep;
    if (Date.now() > deadline) {
      const anyone = answers.find((a) => a.answered);
      if (anyIfNone && anyone !== undefined) return anyone.ep;
      const followers = answers.filter((a) => a.answered).length;
      throw new HavenError('UNREACHABLE', `no controller leads: ${followers} of ${sockets.length} answered, ${followers === 0 ? 'none' : 'all'} as followers`, {
        hint: followers === 0 ? 'are they running? (haven lab status)' : 'the controllers cannot elect a leader: is a majority of etcd up? (haven lab status)',
      });
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function callOne<T>(ep: Endpoint, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      {
        method,
        ...(ep.socketPath ? { socketPath: ep.socketPath, path } : { host: ep.base!.hostname, port: ep.base!.port || 80, path }),
        headers: { 'content-type': 'application/json', ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            reject(new HavenError('UNREACHABLE', `the controller at ${ep.describe} answered ${res.statusCode} with something that is not JSON`));
            return;
          }
          if ((res.statusCode ?? 500) >= 400) {
            const e = json as { code?: string; message?: string; hint?: string };
            const code = (e.code && e.code in ERROR_CODES ? e.code : 'INTERNAL') as ErrorCode;
            reject(new HavenError(code, e.message ?? `HTTP ${res.statusCode}`, e.hint ? { hint: e.hint } : undefined));
            return;
          }
          resolve(json as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new HavenError('UNREACHABLE', `cannot reach the controller at ${ep.describe}: ${err.message}`, { hint: 'is it running? (haven lab status)' })));
    if (payload) req.write(payload);
    req.end();
  });
}
