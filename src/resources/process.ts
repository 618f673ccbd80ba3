// The `process` resource agent: one long-running program per copy, tracked by a pid file that
// holds its PID and its start time from /proc (so a recycled PID is never taken for it). The
// program runs detached in its own process group, with its output in a log file, and outlives
// the agent: a later agent run finds it again from the pid file. Params: docs/agents.md.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OCF_RC } from '../model/wire.js';
import { describeCheck, parseCheck, runCheck, type Check } from './check.js';
import { killGroup, tail } from './exec.js';
import { durationParam, stringParam, unknownParams, type Params } from './params.js';
import { simpleAgent } from './simple-agent.js';
import type { OperationContext, ResourceAgent, ResourceOutcome } from './types.js';
import { splitWords } from './words.js';

export const PROCESS_PARAMS = ['command', 'args', 'cwd', 'env', 'check', 'checkTimeout', 'stopTimeout', 'logFile'] as const;

/** The process agent's params, parsed. */
export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly check: Check | undefined;
  readonly checkTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly logFile: string | undefined;
}

const DEFAULT_CHECK_TIMEOUT_MS = 2000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Without a check, a start waits this long to catch a program that exits at once. */
const SETTLE_MS = 100;
/** A check of a local port costs well under a millisecond and a start is on the failover path: retry often. */
const CHECK_RETRY_MS = 20;
const WATCH_POLL_MS = 100;
const PID_FILE = 'process.pid';
const DEFAULT_LOG = 'output.log';
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses the params; a string[] lists every problem. */
export function parseProcessParams(params: Params): ProcessSpec | string[] {
  const problems = unknownParams(params, PROCESS_PARAMS, 'process');
  const command = stringParam(params, 'command');
  if (command === undefined) problems.push('command: required (the program to run, e.g. /usr/bin/python3)');
  const args = wordsOf(params, 'args', problems);
  const env = envOf(params, problems);
  const checkText = stringParam(params, 'check');
  const check = checkText === undefined ? undefined : parseCheck(checkText);
  if (typeof check === 'string') problems.push(check);
  const checkTimeoutMs = durationParam(params, 'checkTimeout', DEFAULT_CHECK_TIMEOUT_MS);
  if (typeof checkTimeoutMs === 'string') problems.push(checkTimeoutMs);
  const stopTimeoutMs = durationParam(params, 'stopTimeout', DEFAULT_STOP_TIMEOUT_MS);
  if (typeof stopTimeoutMs === 'string') problems.push(stopTimeoutMs);
  if (problems.length > 0 || command === undefined || typeof check === 'string' || typeof checkTimeoutMs === 'string' || typeof stopTimeoutMs === 'string') return problems;
  return { command, args, cwd: stringParam(params, 'cwd'), env, check, checkTimeoutMs, stopTimeoutMs, logFile: stringParam(params, 'logFile') };
}

function wordsOf(params: Params, name: string, problems: string[]): string[] {
  const text = stringParam(params, name);
  if (text === undefined) return [];
  const r = splitWords(text);
  if (r.ok) return r.words;
  problems.push(`${name}: ${r.error}`);
  return [];
}

function envOf(params: Params, problems: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of wordsOf(params, 'env', problems)) {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    if (eq < 0 || !ENV_NAME_RE.test(name)) {
      problems.push(`env: "${word}" is not NAME=VALUE (write env: "PORT=8080 MODE='fast start'")`);
      continue;
    }
    env[name] = word.slice(eq + 1);
  }
  return env;
}

// ---- /proc and the pid file ----

interface ProcInfo {
  /** One letter: R, S, D, Z (zombie), X (dead), … */
  readonly state: string;
  /** Clock ticks since boot: field 22 of /proc/PID/stat. */
  readonly startTime: string;
}

/** A process's state and start time, or undefined when there is no such process. */
export async function procInfo(pid: number): Promise<ProcInfo | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  return state === undefined || startTime === undefined ? undefined : { state, startTime };
}

interface PidRecord {
  readonly pid: number;
  readonly startTime: string;
}

async function readPidFile(stateDir: string): Promise<PidRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(stateDir, PID_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const [pid, startTime] = text.trim().split(/\s+/);
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 && startTime !== undefined ? { pid: n, startTime } : undefined;
}

async function writePidFile(stateDir: string, rec: PidRecord): Promise<void> {
  const tmp = join(stateDir, `${PID_FILE}.tmp`);
  await writeFile(tmp, `${rec.pid} ${rec.startTime}\n`);
  await rename(tmp, join(stateDir, PID_FILE));
}

async function removePidFile(stateDir: string): Promise<void> {
  await rm(join(stateDir, PID_FILE), { force: true });
}

/** Whether the recorded process still runs: same PID, same start time, not a zombie. */
async function isRunning(rec: PidRecord): Promise<boolean> {
  const info = await procInfo(rec.pid);
  return info !== undefined && info.startTime === rec.startTime && info.state !== 'Z' && info.state !== 'X';
}

/** The copy's process if it runs; a stale pid file is removed. */
async function findRunning(stateDir: string): Promise<PidRecord | undefined> {
  const rec = await readPidFile(stateDir);
  if (rec === undefined) return undefined;
  if (await isRunning(rec)) return rec;
  await removePidFile(stateDir);
  return undefined;
}

// ---- what this agent run knows beyond the pid file ----

interface Spawned {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Set when the child exits: how it ended. */
  exit: string | undefined;
}

/** Children this agent run spawned, by state directory. */
const spawned = new Map<string, Spawned>();
/** Cancel functions of the watches on each state directory; a stop cancels them first. */
const watches = new Map<string, Set<() => void>>();

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

// ---- operations ----

function logPath(ctx: { stateDir: string }, spec: ProcessSpec): string {
  if (spec.logFile === undefined) return join(ctx.stateDir, DEFAULT_LOG);
  return isAbsolute(spec.logFile) ? spec.logFile : join(ctx.stateDir, spec.logFile);
}

async function logTail(file: string): Promise<string> {
  try {
    const t = tail(await readFile(file, 'utf8'), 5);
    return t === '' ? '' : `; last output: ${t.replace(/\n/g, ' / ')}`;
  } catch {
    return '';
  }
}

type SpawnResult = { ok: true; spawned: Spawned } | { ok: false; outcome: ResourceOutcome };

function spawnDetached(spec: ProcessSpec, log: string): Promise<SpawnResult> {
  let fd: number;
  try {
    fd = openSync(log, 'a');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return Promise.resolve({ ok: false, outcome: { rc: OCF_RC.ERR_CONFIGURED, output: `logFile: cannot open ${log}: ${code}` } });
  }
  return new Promise((resolve) => {
    const child = spawn(spec.command, [...spec.args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...spec.env },
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    });
    closeSync(fd);
    child.once('error', (e: NodeJS.ErrnoException) => {
      const rc = e.code === 'EACCES' ? OCF_RC.ERR_PERM : OCF_RC.ERR_INSTALLED;
      const why = e.code === 'ENOENT' ? 'no such program' : (e.code ?? e.message);
      resolve({ ok: false, outcome: { rc, output: `cannot run ${spec.command}: ${why}` } });
    });
    child.once('spawn', () => {
      const s: Spawned = { pid: child.pid as number, child, exit: undefined };
      child.once('exit', (code, sig) => {
        s.exit = describeExit(code, sig);
      });
      child.unref();
      resolve({ ok: true, spawned: s });
    });
  });
}

async function start(ctx: OperationContext, spec: ProcessSpec): Promise<ResourceOutcome> {
  await mkdir(ctx.stateDir, { recursive: true });
  const deadline = Date.now() + ctx.timeoutMs;
  const running = await findRunning(ctx.stateDir);
  if (running !== undefined) return waitReady(ctx, spec, running.pid, deadline, 'already running');
  if (spec.cwd !== undefined && !(await isDirectory(spec.cwd))) {
    return { rc: OCF_RC.ERR_CONFIGURED, output: `cwd: ${spec.cwd} is not a directory` };
  }
  const log = logPath(ctx, spec);
  const r = await spawnDetached(spec, log);
  if (!r.ok) return r.outcome;
  const { pid } = r.spawned;
  spawned.set(ctx.stateDir, r.spawned);
  const info = await procInfo(pid);
  if (info === undefined || r.spawned.exit !== undefined) {
    return { rc: OCF_RC.ERR_GENERIC, output: `${spec.command} (pid ${pid}) ${r.spawned.exit ?? 'exited'} at once${await logTail(log)}` };
  }
  await writePidFile(ctx.stateDir, { pid, startTime: info.startTime });
  return waitReady(ctx, spec, pid, deadline, 'started');
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Waits until the check passes (or, without one, a short settle) while the process lives. */
async function waitReady(ctx: OperationContext, spec: ProcessSpec, pid: number, deadline: number, what: string): Promise<ResourceOutcome> {
  let last = '';
  for (;;) {
    const gone = await exitedDuringStart(ctx.stateDir, pid);
    if (gone !== undefined) {
      await removePidFile(ctx.stateDir);
      return { rc: OCF_RC.ERR_GENERIC, output: `${spec.command} (pid ${pid}) ${gone} during start${await logTail(logPath(ctx, spec))}` };
    }
    const left = deadline - Date.now();
    if (ctx.signal.aborted || left <= 0) {
      return { rc: OCF_RC.ERR_GENERIC, timedOut: true, output: `${spec.command} (pid ${pid}) runs but was not ready within ${ctx.timeoutMs} ms${last === '' ? '' : `: ${last}`}` };
    }
    if (spec.check === undefined) {
      if (what === 'already running') return { rc: OCF_RC.SUCCESS, output: `already running (pid ${pid})` };
      await pause(Math.min(SETTLE_MS, left), ctx.signal, ctx.stateDir);
      if ((await exitedDuringStart(ctx.stateDir, pid)) === undefined) return { rc: OCF_RC.SUCCESS, output: `${what} (pid ${pid})` };
      continue;
    }
    const r = await runCheck(spec.check, Math.min(spec.checkTimeoutMs, left), ctx.signal);
    if (r.ok) return { rc: OCF_RC.SUCCESS, output: `${what} (pid ${pid}); ${r.detail}` };
    last = r.detail;
    await pause(Math.min(CHECK_RETRY_MS, Math.max(0, deadline - Date.now())), ctx.signal, ctx.stateDir);
  }
}

/** How the process ended, if it did. */
async function exitedDuringStart(stateDir: string, pid: number): Promise<string | undefined> {
  const s = spawned.get(stateDir);
  if (s !== undefined && s.pid === pid && s.exit !== undefined) return s.exit;
  const rec = await readPidFile(stateDir);
  if (rec === undefined || rec.pid !== pid) return 'is gone';
  if (await isRunning(rec)) return undefined;
  // Gone from /proc before Node reported its exit: wait a moment for the exit code.
  if (s !== undefined && s.pid === pid && s.child !== undefined) {
    const child = s.child;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 200);
      child.once('exit', () => {
        clearTimeout(t);
        setImmediate(resolve);
      });
    });
    if (s.exit !== undefined) return s.exit;
  }
  return 'exited';
}

/** Sleeps, waking early on abort or when this run's child for the copy exits. */
async function pause(ms: number, signal: AbortSignal, stateDir: string): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  const child = spawned.get(stateDir)?.child;
  const ac = new AbortController();
  const wake = (): void => ac.abort();
  child?.once('exit', wake);
  try {
    await sleep(ms, undefined, { signal: AbortSignal.any([signal, ac.signal]) });
  } catch {
    // woken early
  } finally {
    child?.off('exit', wake);
  }
}

async function monitor(ctx: OperationContext, spec: ProcessSpec): Promise<ResourceOutcome> {
  const running = await findRunning(ctx.stateDir);
  if (running === undefined) return { rc: OCF_RC.NOT_RUNNING, output: 'not running' };
  if (spec.check === undefined) return { rc: OCF_RC.SUCCESS, output: `running (pid ${running.pid})` };
  const r = await runCheck(spec.check, Math.min(spec.checkTimeoutMs, ctx.timeoutMs), ctx.signal);
  if (r.ok) return { rc: OCF_RC.SUCCESS, output: `running (pid ${running.pid}); ${r.detail}` };
  return { rc: OCF_RC.ERR_GENERIC, output: `running (pid ${running.pid}) but check ${describeCheck(spec.check)} fails: ${r.detail}` };
}

async function stop(ctx: OperationContext, spec: ProcessSpec): Promise<ResourceOutcome> {
  for (const cancel of watches.get(ctx.stateDir) ?? []) cancel();
  const running = await findRunning(ctx.stateDir);
  if (running === undefined) {
    spawned.delete(ctx.stateDir);
    return { rc: OCF_RC.SUCCESS, output: 'not running' };
  }
  const began = Date.now();
  const killReserve = Math.min(2000, ctx.timeoutMs / 4);
  const termWait = Math.max(0, Math.min(spec.stopTimeoutMs, ctx.timeoutMs - killReserve));
  signalCopy(running.pid, 'SIGTERM');
  if (await waitGone(running, termWait, ctx.signal)) return stopped(ctx, running, `stopped (pid ${running.pid} ended ${Date.now() - began} ms after SIGTERM)`);
  signalCopy(running.pid, 'SIGKILL');
  if (await waitGone(running, Math.max(killReserve, 500), undefined)) {
    return stopped(ctx, running, `stopped (pid ${running.pid} ignored SIGTERM for ${termWait} ms; killed with SIGKILL)`);
  }
  return { rc: OCF_RC.ERR_GENERIC, output: `pid ${running.pid} is still alive after SIGKILL (stuck in the kernel?)` };
}

async function stopped(ctx: OperationContext, rec: PidRecord, output: string): Promise<ResourceOutcome> {
  // Whatever the program left in its group goes too; the group id is the recorded pid.
  killGroup(rec.pid, 'SIGKILL');
  await removePidFile(ctx.stateDir);
  spawned.delete(ctx.stateDir);
  return { rc: OCF_RC.SUCCESS, output };
}

/** Signals the process group; falls back to the process alone if it left its group. */
function signalCopy(pid: number, sig: NodeJS.Signals): void {
  if (killGroup(pid, sig)) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True once the recorded process is gone; false if it still runs after `ms` (or on abort). */
async function waitGone(rec: PidRecord, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (!(await isRunning(rec))) return true;
    if (Date.now() >= end || signal?.aborted === true) return false;
    await sleep(20);
  }
}

// ---- watch ----

function watch(ctx: { stateDir: string }, onExit: (why: string) => void): () => void {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const own = spawned.get(ctx.stateDir);
  const set = watches.get(ctx.stateDir) ?? new Set<() => void>();
  watches.set(ctx.stateDir, set);
  const cancel = (): void => {
    if (done) return;
    done = true;
    if (timer !== undefined) clearInterval(timer);
    own?.child.off('exit', onChildExit);
    set.delete(cancel);
    if (set.size === 0 && watches.get(ctx.stateDir) === set) watches.delete(ctx.stateDir);
  };
  const fire = (why: string): void => {
    if (done) return;
    cancel();
    onExit(why);
  };
  function onChildExit(code: number | null, sig: NodeJS.Signals | null): void {
    fire(`pid ${own?.pid ?? '?'} ${describeExit(code, sig)}`);
  }
  set.add(cancel);
  if (own !== undefined) {
    if (own.exit !== undefined) queueMicrotask(() => fire(`pid ${own.pid} ${own.exit ?? 'exited'}`));
    else own.child.once('exit', onChildExit);
  }
  void pollFrom(ctx.stateDir, fire, () => done).then((t) => {
    timer = t;
    if (done && t !== undefined) clearInterval(t);
  });
  return cancel;
}

/**
 * Polls the recorded process every WATCH_POLL_MS; covers copies adopted from an earlier run.
 * The timer keeps the event loop alive on purpose: a watch is cancelled by its owner or a stop.
 */
async function pollFrom(stateDir: string, fire: (why: string) => void, isDone: () => boolean): Promise<NodeJS.Timeout | undefined> {
  const rec = await readPidFile(stateDir);
  if (isDone()) return undefined;
  if (rec === undefined || !(await isRunning(rec))) {
    fire('not running');
    return undefined;
  }
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void isRunning(rec).then((alive) => {
      busy = false;
      if (!alive) fire(`pid ${rec.pid} is gone`);
    });
  }, WATCH_POLL_MS);
  return timer;
}

// ---- the agent ----

export const processAgent: ResourceAgent = simpleAgent({ kind: 'process', parse: parseProcessParams, start, stop, monitor, watch, noPromoteWhy: ' (it is not promotable)' });
