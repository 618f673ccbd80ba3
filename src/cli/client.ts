// How the operator commands reach a controller: `--controller URL` (http://host:port or
// unix:/path/to.sock), else $HAVEN_CONTROLLER, else the controller socket of the one lab that
// is up (/run/haven-lab/<name>/controller.sock). Errors come back with the controller's code.

import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { HavenError, type ErrorCode, ERROR_CODES, UsageError } from '../errors.js';

export interface Endpoint {
  readonly describe: string;
  readonly socketPath?: string;
  readonly base?: URL;
}

const LAB_DIR = process.env['HAVEN_LAB_STATE_DIR'] ?? '/run/haven-lab';

export function resolveEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const text = flag ?? env['HAVEN_CONTROLLER'];
  if (text !== undefined && text !== '') return parseEndpoint(text);
  const socks = existsSync(LAB_DIR)
    ? readdirSync(LAB_DIR, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => join(LAB_DIR, d.name, 'controller.sock'))
        .filter((p) => existsSync(p))
    : [];
  if (socks.length === 1) return { describe: `unix:${socks[0]}`, socketPath: socks[0]! };
  throw new UsageError(socks.length === 0 ? 'no controller to talk to' : `${socks.length} labs are up; which controller?`, {
    hint: 'pass --controller http://ADDR:PORT or unix:/path/controller.sock, or set HAVEN_CONTROLLER',
  });
}

export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith('unix:')) return { describe: text, socketPath: text.slice(5) };
  try {
    const base = new URL(text);
    if (base.protocol !== 'http:') throw new Error('not http');
    return { describe: text, base };
  } catch {
    throw new UsageError(`--controller ${text} is neither http://ADDR:PORT nor unix:/path`);
  }
}

/** One request to the controller's API; the JSON answer, or the controller's error as a HavenError. */
export function call<T>(ep: Endpoint, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
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
