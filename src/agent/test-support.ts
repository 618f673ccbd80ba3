// Helpers for the agent's tests: a fake controller (a real local HTTP server that records the
// reports it acknowledges), a logger that keeps its lines, request builders, and the PIDs of
// the processes the tests started so they can be killed afterwards.

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { agentReportSchema, type AgentReport, type OperationRequest } from '../model/wire.js';
import { copyDirName } from './state-file.js';

export interface FakeController {
  readonly url: string;
  /** Reports acknowledged (2xx), in arrival order. */
  readonly reports: AgentReport[];
  /** Every POST received, acknowledged or not. */
  calls(): number;
  /** Answers the next `n` reports with 503 instead of acknowledging them. */
  refuse(n: number): void;
  /** Resolves with the first acknowledged report that `pred` accepts; rejects after `ms`. */
  waitFor(pred: (r: AgentReport) => boolean, ms: number): Promise<AgentReport>;
  close(): Promise<void>;
}

export async function fakeController(port = 0): Promise<FakeController> {
  const reports: AgentReport[] = [];
  const waiters: { pred: (r: AgentReport) => boolean; resolve: (r: AgentReport) => void }[] = [];
  let calls = 0;
  let refusing = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls += 1;
      if (req.method !== 'POST' || req.url !== '/v1/agents/report') {
        res.writeHead(404).end();
        return;
      }
      if (refusing > 0) {
        refusing -= 1;
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"UNREACHABLE"}}');
        return;
      }
      const parsed = agentReportSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      if (!parsed.success) {
        res.writeHead(400).end(parsed.error.message);
        return;
      }
      reports.push(parsed.data);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      for (const w of [...waiters]) {
        if (w.pred(parsed.data)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed.data);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/v1/agents/report`,
    reports,
    calls: () => calls,
    refuse: (n) => {
      refusing = n;
    },
    waitFor: (pred, ms) =>
      new Promise((resolve, reject) => {
        const found = reports.find(pred);
        if (found !== undefined) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`no matching report within ${ms} ms (${reports.length} acknowledged, ${calls} calls)`)), ms);
        waiters.push({
          pred,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A pino logger whose lines are kept as objects. */
export function memoryLogger(node: string): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ base: { node }, level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

export async function tempDir(prefix = 'hvtest-agent-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A `process` copy running `sleep 1000`. */
export function sleepSpec(primitive = 'web'): OperationRequest['resource'] {
  return { primitive, agent: 'process', params: { command: '/bin/sleep', args: '1000' } };
}

export function request(over: Partial<OperationRequest> & Pick<OperationRequest, 'operation'>): OperationRequest {
  return {
    epoch: 1,
    action: `${over.operation} ${over.instance ?? 'web'}@n1`,
    instance: 'web',
    resource: sleepSpec(),
    timeoutMs: 10_000,
    ...over,
  };
}

/** The PID the process agent recorded for a copy, if any. */
export function pidOf(stateDir: string, instance: string): number | undefined {
  try {
    const text = readFileSync(join(stateDir, 'copies', copyDirName(instance), 'process.pid'), 'utf8');
    const pid = Number(/^\s*(\d+)/.exec(text)?.[1]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Kills a process the test started (by PID, never by name). */
export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Polls `cond` every 20 ms until it holds; rejects after `ms`. */
export async function eventually(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
