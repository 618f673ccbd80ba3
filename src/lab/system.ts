// The lab's only door to the operating system: running `ip`, `nft`, `iptables` and friends with
// argument arrays (never a shell string), each call with a timeout and an AbortSignal, and
// turning their failures into typed errors that name the command and quote its stderr.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { HavenError } from '../errors.js';

export interface RunOptions {
  /** Kill the command after this long (default 10 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Written to the command's stdin (e.g. an nft ruleset for `nft -f -`). */
  readonly input?: string;
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  readonly allowFailure?: boolean;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** A command the lab needs is not installed, or the kernel lacks a feature the lab uses. */
export class UnsupportedError extends HavenError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('UNSUPPORTED', message, options);
    this.name = 'UnsupportedError';
  }
}

/** A system command (ip, nft, tc, iptables) failed: the message quotes it and its stderr. */
export class SystemCommandError extends HavenError {
  readonly command: readonly string[];
  readonly exit: number | null;
  readonly stderr: string;
  constructor(command: readonly string[], exit: number | null, stderr: string, options?: { hint?: string; cause?: unknown }) {
    const detail = stderr.trim().split('\n').slice(0, 3).join(' / ');
    super('SYSTEM_COMMAND_FAILED', `\`${command.join(' ')}\` failed${exit === null ? '' : ` (exit ${exit})`}${detail === '' ? '' : `: ${detail}`}`, options);
    this.name = 'SystemCommandError';
    this.command = command;
    this.exit = exit;
    this.stderr = stderr;
  }
}

/** Runs one command; throws SystemCommandError on a non-zero exit unless allowFailure. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean; signal?: string | null };
        if (e.code === 'ENOENT') {
          reject(new UnsupportedError(`\`${cmd}\` is not installed`, { hint: 'run `node scripts/setup.mjs` as root to install what the lab needs', cause: err }));
          return;
        }
        if (e.name === 'AbortError') {
          reject(err);
          return;
        }
        if (e.killed === true || e.signal != null) {
          reject(new SystemCommandError(command, null, `${stderr}\nkilled (${e.signal ?? 'timeout'}) after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`, { cause: err }));
          return;
        }
        const exit = typeof e.code === 'number' ? e.code : 1;
        if (opts.allowFailure === true) resolve({ code: exit, stdout, stderr });
        else reject(new SystemCommandError(command, exit, stderr, { cause: err }));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** `ip ARGS` in the root namespace (only ever for `ip netns …`). */
export function ip(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run('ip', args, opts);
}

/** `ip -n NS ARGS`: an ip command inside one of the lab's namespaces. */
export function ipIn(ns: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run('ip', ['-n', ns, ...args], opts);
}

/** CMD ARGS run inside a namespace (`ip netns exec NS CMD ARGS`), waiting for it to end. */
export function runIn(ns: string, cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** The names of every network namespace on this machine (`ip netns list`). */
export async function listNamespaces(opts?: RunOptions): Promise<string[]> {
  const r = await ip(['netns', 'list'], opts);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** The PIDs of every process in a namespace (`ip netns pids NS`); none when it does not exist. */
export async function namespacePids(ns: string, opts?: RunOptions): Promise<number[]> {
  const r = await ip(['netns', 'pids', ns], { ...opts, allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

/**
 * SIGKILLs every process in a namespace, all at once, and again until none is left (a process
 * may fork between the listing and the kill). Only ever called on the lab's own namespaces.
 * Returns the PIDs killed.
 */
export async function killNamespace(ns: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  const killed = new Set<number>();
  for (;;) {
    opts.signal?.throwIfAborted();
    const pids = await namespacePids(ns, opts.signal === undefined ? {} : { signal: opts.signal });
    const alive = pids.filter((p) => !isZombie(p));
    if (alive.length === 0) return [...killed];
    for (const pid of alive) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    if (Date.now() > deadline) {
      throw new SystemCommandError(['kill', '-KILL', ...alive.map(String)], null, `processes still alive in namespace ${ns} after ${opts.timeoutMs ?? 5_000} ms`);
    }
    await sleep(5);
  }
}

/** A zombie has exited and only waits for its parent to reap it; it holds no sockets. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** True when this process runs as root (the lab needs it for namespaces). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
