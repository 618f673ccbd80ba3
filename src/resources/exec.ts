// Running a short-lived helper command for a resource agent (an OCF script, `ip`, a `cmd:` check):
// argument arrays only, its own process group so a timeout kills everything it started, output
// captured up to a cap, and the outcome returned as a value (never thrown) so agents map it to an
// OCF exit code themselves.

import { spawn } from 'node:child_process';

export interface CommandOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Bytes of stdout and of stderr kept (default 64 KiB each); the rest is dropped. */
  readonly maxOutput?: number;
}

export interface CommandResult {
  /** The exit code; null when killed by a signal or not started. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed because the timeout passed or the signal aborted. */
  readonly timedOut: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  readonly spawnError?: NodeJS.ErrnoException;
  readonly durationMs: number;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;
/** How long after a helper exits its output may still arrive. */
const EXIT_GRACE_MS = 100;

/** Runs `file args…`, killing its whole process group on timeout or abort. Never throws. */
export function runCommand(file: string, args: readonly string[], opts: CommandOptions): Promise<CommandResult> {
  const started = performance.now();
  const max = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env === undefined ? {} : { env: opts.env }),
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    });
    const out = capture(child.stdout, max);
    const err = capture(child.stderr, max);
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const kill = (): void => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    };
    const timer = setTimeout(kill, Math.max(0, opts.timeoutMs));
    if (opts.signal?.aborted === true) kill();
    opts.signal?.addEventListener('abort', kill, { once: true });
    let done = false;
    const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', kill);
      resolve({
        code: spawnError === undefined ? code : null,
        signal: sig,
        stdout: out(),
        stderr: err(),
        timedOut,
        ...(spawnError === undefined ? {} : { spawnError }),
        durationMs: performance.now() - started,
      });
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
      if (child.pid === undefined) finish(null, null);
    });
    child.once('close', finish);
    // A helper that leaves a daemon behind holding our pipes never closes them: answer on exit,
    // after a short grace for the last output, rather than wait for the daemon to end.
    child.once('exit', (code, sig) => {
      setTimeout(() => {
        if (done) return;
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, sig);
      }, EXIT_GRACE_MS).unref();
    });
  });
}

/** Sends a signal to a process group led by `pid`; a group already gone is fine. */
export function killGroup(pid: number | undefined, sig: NodeJS.Signals): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false;
  }
}

function capture(stream: NodeJS.ReadableStream | null, max: number): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (b: Buffer) => {
    if (size >= max) return;
    const part = b.subarray(0, max - size);
    chunks.push(part);
    size += part.length;
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

/** The last `lines` lines of a text, trimmed, for messages. */
export function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n').trim();
}
