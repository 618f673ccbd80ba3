// Health checks of the `process` agent's `check` param, run after a start (readiness) and on
// every monitor: `tcp:PORT` / `tcp:HOST:PORT` (a TCP connect), `http://…` / `https://…` (a GET
// answered 2xx or 3xx), `cmd:<command line>` (run by /bin/sh -c, exit 0). Each run has a timeout
// and honours an AbortSignal; the answer is a value with a one-line reason, never a throw.

import { connect } from 'node:net';
import { runCommand, tail } from './exec.js';

export type Check =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'http'; readonly url: string }
  | { readonly kind: 'cmd'; readonly command: string };

export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** Parses a `check` param; a string result says what is wrong with it. */
export function parseCheck(text: string): Check | string {
  if (text.startsWith('cmd:')) {
    const command = text.slice(4).trim();
    return command === '' ? 'check: "cmd:" needs a command line after it' : { kind: 'cmd', command };
  }
  if (text.startsWith('http://') || text.startsWith('https://')) {
    try {
      new URL(text);
      return { kind: 'http', url: text };
    } catch {
      return `check: "${text}" is not a valid URL`;
    }
  }
  if (text.startsWith('tcp:')) return parseTcp(text.slice(4));
  return `check: "${text}" is not a check (write tcp:PORT, tcp:HOST:PORT, http://HOST:PORT/PATH or cmd:COMMAND)`;
}

function parseTcp(rest: string): Check | string {
  const at = rest.lastIndexOf(':');
  const hostPart = at < 0 ? '127.0.0.1' : rest.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const portPart = at < 0 ? rest : rest.slice(at + 1);
  const port = /^\d+$/.test(portPart) ? Number(portPart) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `check: "tcp:${rest}" needs a port from 1 to 65535`;
  if (hostPart === '') return `check: "tcp:${rest}" has an empty host`;
  return { kind: 'tcp', host: hostPart, port };
}

/** Runs one check attempt, bounded by `timeoutMs` and `signal`. */
export function runCheck(check: Check, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
  switch (check.kind) {
    case 'tcp':
      return tcpCheck(check.host, check.port, timeoutMs, signal);
    case 'http':
      return httpCheck(check.url, timeoutMs, signal);
    case 'cmd':
      return cmdCheck(check.command, timeoutMs, signal);
    default: {
      const never: never = check;
      return never;
    }
  }
}

/** How a check reads in messages. */
export function describeCheck(check: Check): string {
  switch (check.kind) {
    case 'tcp':
      return `tcp:${check.host}:${check.port}`;
    case 'http':
      return check.url;
    case 'cmd':
      return `cmd:${check.command}`;
    default: {
      const never: never = check;
      return never;
    }
  }
}

function tcpCheck(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean, detail: string): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ ok, detail });
    };
    const onAbort = (): void => done(false, `tcp ${host}:${port}: aborted`);
    const timer = setTimeout(() => done(false, `tcp ${host}:${port}: no answer within ${timeoutMs} ms`), timeoutMs);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done(true, `tcp ${host}:${port}: connected`));
    socket.once('error', (e: NodeJS.ErrnoException) => done(false, `tcp ${host}:${port}: ${e.code ?? e.message}`));
  });
}

async function httpCheck(url: string, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
  try {
    const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
    await res.body?.cancel();
    const ok = res.status >= 200 && res.status < 400;
    return { ok, detail: `GET ${url}: ${res.status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
    return { ok: false, detail: `GET ${url}: ${why}` };
  }
}

async function cmdCheck(command: string, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
  const r = await runCommand('/bin/sh', ['-c', command], { timeoutMs, signal, maxOutput: 4096 });
  if (r.timedOut) return { ok: false, detail: `\`${command}\`: no answer within ${timeoutMs} ms` };
  const out = tail(`${r.stdout}\n${r.stderr}`, 3).replace(/\n/g, ' / ');
  if (r.code === 0) return { ok: true, detail: `\`${command}\`: exit 0` };
  const how = r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit ${r.code}`;
  return { ok: false, detail: `\`${command}\`: ${how}${out === '' ? '' : `: ${out}`}` };
}
