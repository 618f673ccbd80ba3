// The lab's probe: a client that sends a request every few milliseconds to a service address
// and records which host answered each, as a user of the service would have seen it. Requests
// overlap (a slow one never delays the next), each has a short timeout, and every request opens
// a new connection, so a service that moved is found at once.
//
// The convention (docs/lab.md): an HTTP service names the host that answered in the
// `X-Haven-Node` header or, without one, in the first line of its body (scripts/lab-web.mjs
// does both). A `tcp:` target counts a completed connection as an answer, from no named host.
//
// `probeHere` runs in the current network namespace; `runProbe` runs in the lab's client
// namespace, starting `haven lab probe` there when this process is elsewhere.

import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { HavenError, UsageError } from '../errors.js';
import { CLIENT_HOST, inLabRange } from './names.js';
import { analyzeProbe, type ProbeAnswer, type ProbeReport } from './probe-report.js';
import { requireState, type LabState } from './state.js';
import { namespaceInode, processNamespaceInode, sleep } from './system.js';

export type ProbeTarget =
  | { readonly kind: 'http'; readonly host: string; readonly port: number; readonly path: string; readonly text: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly text: string };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** `http://IP:PORT/path` or `tcp:IP:PORT`. */
export function parseTarget(text: string): ProbeTarget {
  const bad = (why: string): never => {
    throw new UsageError(`probe target "${text}": ${why}`, { hint: 'write http://IP:PORT/path or tcp:IP:PORT, with an address inside the lab' });
  };
  const port = (p: string): number => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) bad(`port "${p}" is not 1..65535`);
    return n;
  };
  const tcp = /^tcp:([^:]+):([^:]+)$/.exec(text);
  if (tcp !== null) {
    const host = tcp[1] as string;
    if (!IPV4.test(host)) bad(`"${host}" is not an IPv4 address`);
    return { kind: 'tcp', host, port: port(tcp[2] as string), text };
  }
  if (!text.startsWith('http://')) bad('unknown scheme');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return bad('not a URL');
  }
  if (!IPV4.test(url.hostname)) bad(`"${url.hostname}" is not an IPv4 address`);
  return { kind: 'http', host: url.hostname, port: url.port === '' ? 80 : port(url.port), path: `${url.pathname}${url.search}`, text };
}

export interface ProbeOptions {
  readonly target: string;
  /** Between two requests (default 10 ms). */
  readonly intervalMs?: number;
  /** Each request's own limit (default 200 ms). */
  readonly timeoutMs?: number;
  /** Stop after this long; without it, only the signal stops the probe. */
  readonly durationMs?: number;
  readonly signal?: AbortSignal;
  readonly splitWindowMs?: number;
  /** The target is an active/active service (a load balancer): split brain is not judged. */
  readonly activeActive?: boolean;
  /** Called with each answer as it ends (probeHere only): a caller that watches a service live. */
  readonly onAnswer?: (answer: ProbeAnswer) => void;
}

export interface ProbeResult {
  readonly report: ProbeReport;
  readonly answers: readonly ProbeAnswer[];
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case undefined:
      return (err as Error | null)?.message ?? 'error';
    default:
      return code;
  }
}

type Outcome = { ok: true; host?: string } | { ok: false; error: string };

function httpOnce(t: Extract<ProbeTarget, { kind: 'http' }>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const req = request({ host: t.host, port: t.port, path: t.path, method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      const status = res.statusCode ?? 0;
      const header = res.headers['x-haven-node'];
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 256) body += chunk;
      });
      res.on('end', () => {
        if (status < 200 || status >= 400) return finish({ ok: false, error: `http ${status}` });
        const named = typeof header === 'string' && header !== '' ? header : (body.split('\n')[0] ?? '').trim();
        finish(named === '' ? { ok: true } : { ok: true, host: named });
      });
      res.on('error', (err) => finish({ ok: false, error: reason(err) }));
    });
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), timeoutMs);
    req.on('error', (err) => finish({ ok: false, error: reason(err) }));
    req.end();
  });
}

function tcpOnce(t: Extract<ProbeTarget, { kind: 'tcp' }>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = connect({ host: t.host, port: t.port });
    const finish = (o: Outcome): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), timeoutMs);
    sock.once('connect', () => finish({ ok: true }));
    sock.once('error', (err) => finish({ ok: false, error: reason(err) }));
  });
}

/** Probes from the current network namespace until the duration passes or the signal aborts. */
export async function probeHere(opts: ProbeOptions): Promise<ProbeResult> {
  const target = parseTarget(opts.target);
  const intervalMs = opts.intervalMs ?? 10;
  const timeoutMs = opts.timeoutMs ?? 200;
  if (!(intervalMs > 0)) throw new UsageError(`--interval must be more than 0`);
  if (!(timeoutMs > 0)) throw new UsageError(`--timeout must be more than 0`);
  const once = (): Promise<Outcome> => (target.kind === 'http' ? httpOnce(target, timeoutMs) : tcpOnce(target, timeoutMs));
  const answers: ProbeAnswer[] = [];
  const inflight = new Set<Promise<void>>();
  const startedAt = Date.now();
  const t0 = performance.now();
  let seq = 0;
  let slot = 0;
  let missed = 0;
  const stopAt = opts.durationMs === undefined ? Infinity : t0 + opts.durationMs;
  const aborted = new Promise<void>((resolve) => {
    if (opts.signal?.aborted === true) resolve();
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const stopped = (): boolean => opts.signal?.aborted === true;
  for (;;) {
    const due = t0 + slot * intervalMs;
    if (due >= stopAt || stopped()) break;
    const wait = due - performance.now();
    if (wait > 0) await Promise.race([sleep(wait), aborted]);
    if (stopped()) break;
    const now = performance.now();
    if (now >= stopAt) break;
    const mySeq = seq++;
    const sentMs = now - t0;
    const p = once().then((o) => {
      const doneMs = performance.now() - t0;
      const answer: ProbeAnswer = o.ok ? { seq: mySeq, sentMs, doneMs, ok: true, ...(o.host === undefined ? {} : { host: o.host }) } : { seq: mySeq, sentMs, doneMs, ok: false, error: o.error };
      answers.push(answer);
      opts.onAnswer?.(answer);
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    // A late loop does not burst to catch up: the slots it slept through are counted, not sent.
    // (A timer may also fire a little early: the next slot is never this one again.)
    const next = Math.max(slot + 1, Math.floor((now - t0) / intervalMs) + 1);
    missed += next - slot - 1;
    slot = next;
  }
  const endMs = performance.now() - t0;
  await Promise.all(inflight);
  answers.sort((a, b) => a.seq - b.seq);
  const report = analyzeProbe(answers, {
    target: target.text,
    startedAt,
    intervalMs,
    durationMs: endMs,
    missedSlots: missed,
    ...(opts.splitWindowMs === undefined ? {} : { splitWindowMs: opts.splitWindowMs }),
    ...(opts.activeActive === true ? { activeActive: true } : {}),
  });
  return { report, answers };
}

/** Refuses a target outside the lab's own addresses: the lab only ever sends to itself. */
export function checkTargetInLab(state: LabState, target: ProbeTarget): void {
  if (!inLabRange(state.id, target.host)) {
    throw new UsageError(`probe target ${target.host} is not an address of lab "${state.name}"`, { hint: `the lab's addresses are 10.${200 + state.id}.<ring>.<n>` });
  }
}

/** The lab's client namespace, and whether this process already runs in it. */
export function clientNamespace(state: LabState): { ns: string; inside: boolean } {
  const client = state.hosts.find((h) => h.name === CLIENT_HOST);
  if (client === undefined) throw new HavenError('INTERNAL', `lab "${state.name}" has no client host in its state file`);
  const inode = namespaceInode(client.ns);
  if (inode === undefined) throw new HavenError('NOT_FOUND', `the client namespace ${client.ns} of lab "${state.name}" is gone`, { hint: '`haven lab down` then `haven lab up`' });
  return { ns: client.ns, inside: processNamespaceInode('self') === inode };
}

/** The `haven lab probe` arguments that run the same probe (in the client namespace). */
export function probeArgs(name: string, stateDir: string, opts: ProbeOptions, json: boolean): string[] {
  const args = ['lab', 'probe', opts.target, '--name', name, '--state-dir', stateDir];
  if (opts.intervalMs !== undefined) args.push('--interval', `${opts.intervalMs}ms`);
  if (opts.timeoutMs !== undefined) args.push('--timeout', `${opts.timeoutMs}ms`);
  if (opts.durationMs !== undefined) args.push('--duration', `${opts.durationMs}ms`);
  if (opts.splitWindowMs !== undefined) args.push('--split-window', `${opts.splitWindowMs}ms`);
  if (opts.activeActive === true) args.push('--active-active');
  if (json) args.push('--json', '--answers');
  return args;
}

/**
 * Probes a lab's service from its client namespace, as a user would: in this process when it
 * already runs there, else through `ip netns exec <client> haven lab probe … --json` (the
 * signal stops it with SIGINT, and its report comes back).
 */
export async function runProbe(opts: ProbeOptions & { readonly lab: string; readonly stateDir: string; readonly haven?: string }): Promise<ProbeResult> {
  const state = await requireState(opts.stateDir, opts.lab);
  checkTargetInLab(state, parseTarget(opts.target));
  const { ns, inside } = clientNamespace(state);
  if (inside) return probeHere(opts);
  const haven = opts.haven ?? state.haven;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, haven, ...probeArgs(opts.lab, opts.stateDir, opts, true)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const onAbort = (): void => {
    child.kill('SIGINT');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted === true) onAbort();
  const code = await new Promise<number | null>((resolve) => {
    child.on('close', (c) => resolve(c));
    child.on('error', () => resolve(null));
  });
  opts.signal?.removeEventListener('abort', onAbort);
  if (code !== 0) throw new HavenError('SYSTEM_COMMAND_FAILED', `the probe in ${ns} failed (exit ${code ?? 'none'}): ${stderr.trim()}`);
  const parsed = JSON.parse(stdout) as { report: ProbeReport; answers: ProbeAnswer[] };
  return { report: parsed.report, answers: parsed.answers };
}
