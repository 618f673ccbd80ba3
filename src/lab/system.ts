// The lab's only door to the operating system: running `ip`, `nft`, `iptables` and friends with
// argument arrays (never a shell string), each call with a timeout and an AbortSignal, and
// turning their failures into typed errors that name the command and quote its stderr.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
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

/** `ip -n NS -batch -`: several ip commands in one namespace, one process (stops at the first failure). */
export function ipBatch(ns: string, lines: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run('ip', ['-n', ns, '-batch', '-'], { ...opts, input: `${lines.join('\n')}\n` });
}

const NETNS_DIR = '/run/netns';

/** The names of every named network namespace on this machine (what `ip netns list` shows). */
export async function listNamespaces(): Promise<string[]> {
  try {
    return (await readdir(NETNS_DIR)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The inode of a named namespace, or undefined when it does not exist. */
export function namespaceInode(ns: string): number | undefined {
  try {
    return statSync(`${NETNS_DIR}/${ns}`).ino;
  } catch {
    return undefined;
  }
}

/** The inode of the network namespace a process is in (undefined when it is gone). */
export function processNamespaceInode(pid: number | 'self'): number | undefined {
  try {
    const link = readlinkSync(`/proc/${pid}/ns/net`);
    const m = /^net:\[(\d+)\]$/.exec(link);
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * The PIDs of every live process in a namespace: what `ip netns pids NS` prints, read straight
 * from /proc (no process started, which matters on the fence path). None when it does not exist.
 */
export function namespacePids(ns: string): number[] {
  const inode = namespaceInode(ns);
  if (inode === undefined) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    if (processNamespaceInode(pid) === inode && !isZombie(pid)) out.push(pid);
  }
  return out;
}

/**
 * SIGKILLs every process in a namespace, all at once, and again until none is left (a process
 * may fork between the listing and the kill). Only ever called on the lab's own namespaces.
 * Returns the PIDs killed.
 */
export async function killNamespace(ns: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number[]> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  const killed = new Set<number>();
  for (;;) {
    opts.signal?.throwIfAborted();
    const pids = namespacePids(ns);
    if (pids.length === 0) return [...killed];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    if (Date.now() > deadline) {
      throw new SystemCommandError(['kill', '-KILL', ...pids.map(String)], null, `processes still alive in namespace ${ns} after ${timeoutMs} ms`);
    }
    await sleep(2);
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined when gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A zombie has exited and only waits for its parent to reap it; it holds no sockets. */
export function isZombie(pid: number): boolean {
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
