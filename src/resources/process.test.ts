// The process agent on real processes: start/monitor/stop and their OCF codes, readiness checks,
// the pid file's start time against recycled PIDs, adoption after an agent restart, process
// groups, SIGKILL after stopTimeout, and watch() seeing a death well under a second.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseProcessParams, procInfo, processAgent } from './process.js';
import type { OperationContext, ParamValue, ResourceOperation } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'hvtest-process-'));
const started: string[] = [];
after(async () => {
  for (const dir of started) await processAgent.run('stop', ctx(dir, { command: 'x' }));
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function newDir(): string {
  const dir = join(root, `copy${n++}`);
  started.push(dir);
  return dir;
}

function ctx(stateDir: string, params: Record<string, ParamValue>, timeoutMs = 10_000): OperationContext {
  return { instance: 'svc', primitive: 'svc', params, timeoutMs, intervalMs: 0, signal: AbortSignal.timeout(timeoutMs), stateDir };
}

function run(op: ResourceOperation, dir: string, params: Record<string, ParamValue>, timeoutMs?: number) {
  return processAgent.run(op, ctx(dir, params, timeoutMs));
}

/** A node program given as `-e CODE`. */
function nodeProgram(code: string, extra: Record<string, ParamValue> = {}): Record<string, ParamValue> {
  return { command: process.execPath, args: `-e '${code}'`, ...extra };
}

const SLEEPER = nodeProgram('setInterval(() => {}, 1000)');

function pidOf(dir: string): number {
  return Number(readFileSync(join(dir, 'process.pid'), 'utf8').split(' ')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('process params', () => {
  it('refuses unknown names with the closest one, a missing command, bad env, bad checks', () => {
    const r = parseProcessParams({ comand: '/bin/true', env: 'A=1 -x', check: 'udp:53', stopTimeout: 'soon', args: "'x" });
    assert.ok(Array.isArray(r));
    const text = r.join('\n');
    assert.match(text, /unknown param "comand" \(did you mean "command"\?\)/);
    assert.match(text, /command: required/);
    assert.match(text, /env: "-x" is not NAME=VALUE/);
    assert.match(text, /check: "udp:53" is not a check/);
    assert.match(text, /stopTimeout: "soon" is not a duration/);
    assert.match(text, /args: unterminated ' quote/);
  });

  it('reads args and env with quotes, checks and durations', () => {
    const r = parseProcessParams({ command: '/bin/x', args: `a 'b c'`, env: `K=1 M='x y'`, check: 'tcp:db:5432', checkTimeout: '1s', stopTimeout: 300 });
    assert.ok(!Array.isArray(r));
    assert.deepEqual(r.args, ['a', 'b c']);
    assert.deepEqual(r.env, { K: '1', M: 'x y' });
    assert.deepEqual(r.check, { kind: 'tcp', host: 'db', port: 5432 });
    assert.equal(r.checkTimeoutMs, 1000);
    assert.equal(r.stopTimeoutMs, 300);
  });

  it('validate() lists the problems and runs nothing', async () => {
    assert.deepEqual(await processAgent.validate({ command: '/bin/true' }), []);
    assert.equal((await processAgent.validate({ check: 'tcp:0' })).length, 2);
  });
});

describe('process agent lifecycle', () => {
  it('probe 7, start 0 with a pid file of pid + start time, start again 0, monitor 0, stop 0, monitor 7, stop 0', async () => {
    const dir = newDir();
    assert.equal((await run('monitor', dir, SLEEPER)).rc, 7);
    const s = await run('start', dir, SLEEPER);
    assert.equal(s.rc, 0, s.output);
    const pid = pidOf(dir);
    const [, startTime] = readFileSync(join(dir, 'process.pid'), 'utf8').trim().split(' ');
    assert.equal(startTime, (await procInfo(pid))?.startTime);
    const again = await run('start', dir, SLEEPER);
    assert.equal(again.rc, 0);
    assert.match(again.output, /already running/);
    assert.equal(pidOf(dir), pid, 'a second start must not spawn a second copy');
    assert.equal((await run('monitor', dir, SLEEPER)).rc, 0);
    const stop = await run('stop', dir, SLEEPER);
    assert.equal(stop.rc, 0, stop.output);
    assert.equal(alive(pid), false);
    assert.equal(existsSync(join(dir, 'process.pid')), false);
    assert.equal((await run('monitor', dir, SLEEPER)).rc, 7);
    assert.equal((await run('stop', dir, SLEEPER)).rc, 0);
  });

  it('passes args with quotes, env, cwd to the program and writes its output to the log', async () => {
    const dir = newDir();
    const params = nodeProgram('console.log(JSON.stringify([process.argv.slice(1), process.env.GREETING, process.cwd()])); setInterval(() => {}, 1000)', {
      args: `-e 'console.log(JSON.stringify([process.argv.slice(1), process.env.GREETING, process.cwd()])); setInterval(() => {}, 1000)' -- "two words" '$HOME'`,
      env: `GREETING='hello there'`,
      cwd: '/tmp',
    });
    assert.equal((await run('start', dir, params)).rc, 0);
    let log = '';
    for (let i = 0; i < 50 && log === ''; i++) {
      await sleep(50);
      log = readFileSync(join(dir, 'output.log'), 'utf8');
    }
    assert.deepEqual(JSON.parse(log.trim()), [['two words', '$HOME'], 'hello there', '/tmp']);
    assert.equal((await run('stop', dir, params)).rc, 0);
  });

  it('start waits for a tcp check; monitor answers 1 while it runs but its check fails', async () => {
    const dir = newDir();
    const port = await freePort();
    const flag = join(root, `flag${n}`);
    writeFileSync(flag, '');
    // Listens only after 400 ms: start must not answer before that.
    const params = nodeProgram(`setTimeout(() => require("net").createServer().listen(${port}, "127.0.0.1"), 400)`, { check: `tcp:${port}` });
    const t0 = performance.now();
    const s = await run('start', dir, params);
    assert.equal(s.rc, 0, s.output);
    assert.ok(performance.now() - t0 >= 350, 'start answered before the check could pass');
    assert.equal((await run('monitor', dir, params)).rc, 0);
    const cmdParams = { ...params, check: `cmd:test -f '${flag}'` };
    assert.equal((await run('monitor', dir, cmdParams)).rc, 0);
    rmSync(flag);
    const m = await run('monitor', dir, cmdParams);
    assert.equal(m.rc, 1);
    assert.match(m.output, /running \(pid \d+\) but check cmd:test -f .* fails: .*exit 1/);
    assert.equal((await run('stop', dir, params)).rc, 0);
  });

  it('an http check wants 2xx/3xx', async () => {
    const dir = newDir();
    const port = await freePort();
    const code = `require("http").createServer((q, s) => { s.statusCode = q.url === "/ok" ? 302 : 503; s.end(); }).listen(${port}, "127.0.0.1")`;
    const ok = nodeProgram(code, { check: `http://127.0.0.1:${port}/ok` });
    assert.equal((await run('start', dir, ok)).rc, 0);
    const bad = await run('monitor', dir, { ...ok, check: `http://127.0.0.1:${port}/bad` });
    assert.equal(bad.rc, 1);
    assert.match(bad.output, /503/);
    assert.equal((await run('stop', dir, ok)).rc, 0);
  });

  it('a start whose check never passes times out with rc 1 and timedOut; stop cleans up', async () => {
    const dir = newDir();
    const port = await freePort();
    const params = { ...SLEEPER, check: `tcp:${port}` };
    const s = await run('start', dir, params, 600);
    assert.equal(s.rc, 1);
    assert.equal(s.timedOut, true);
    assert.match(s.output, /not ready within 600 ms: tcp 127\.0\.0\.1:\d+: ECONNREFUSED/);
    const pid = pidOf(dir);
    assert.equal((await run('stop', dir, params)).rc, 0);
    assert.equal(alive(pid), false);
  });

  it('a program that exits at once fails the start with rc 1 and its last output', async () => {
    const dir = newDir();
    const s = await run('start', dir, nodeProgram('console.error("bad config: port missing"); process.exit(3)'));
    assert.equal(s.rc, 1);
    assert.match(s.output, /exited with code 3 .*bad config: port missing/);
    assert.equal((await run('monitor', dir, SLEEPER)).rc, 7);
  });

  it('a missing program is rc 5 (not installed), a missing cwd or log directory rc 6', async () => {
    const dir = newDir();
    const s = await run('start', dir, { command: '/nonexistent/haven-daemon' });
    assert.equal(s.rc, 5);
    assert.match(s.output, /cannot run \/nonexistent\/haven-daemon: no such program/);
    assert.equal((await run('start', dir, { ...SLEEPER, cwd: '/nonexistent' })).rc, 6);
    const log = await run('start', dir, { ...SLEEPER, logFile: '/nonexistent/out.log' });
    assert.equal(log.rc, 6);
    assert.match(log.output, /logFile: cannot open \/nonexistent\/out\.log: ENOENT/);
  });

  it('stop sends SIGKILL after stopTimeout to a program that ignores SIGTERM, and kills its process group', async () => {
    const dir = newDir();
    const params = nodeProgram(
      'process.on("SIGTERM", () => {}); require("child_process").spawn("sleep", ["60"], { stdio: "ignore" }); setInterval(() => {}, 1000)',
      { stopTimeout: '300ms' },
    );
    assert.equal((await run('start', dir, params)).rc, 0);
    const pid = pidOf(dir);
    await sleep(200);
    const kids = spawnSync('pgrep', ['-g', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number).filter((p) => p !== pid);
    assert.equal(kids.length, 1, 'the program should have a child in its group');
    const t0 = performance.now();
    const s = await run('stop', dir, params);
    const took = performance.now() - t0;
    assert.equal(s.rc, 0, s.output);
    assert.match(s.output, /SIGKILL/);
    assert.ok(took >= 280 && took < 3000, `stop took ${took} ms`);
    await sleep(100);
    assert.equal(alive(pid), false);
    assert.equal(alive(kids[0] as number), false, 'the grandchild in the group must be gone');
  });

  it('never takes a recycled PID for the copy: same pid, other start time is not running and is not killed', async () => {
    const dir = newDir();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'process.pid'), `${process.pid} 1\n`);
    assert.equal((await run('monitor', dir, SLEEPER)).rc, 7);
    writeFileSync(join(dir, 'process.pid'), `${process.pid} 1\n`);
    assert.equal((await run('stop', dir, SLEEPER)).rc, 0);
    assert.ok(alive(process.pid));
  });
});

describe('process agent watch', () => {
  it('sees its own child die within well under a second, and not a stop', async () => {
    const dir = newDir();
    assert.equal((await run('start', dir, SLEEPER)).rc, 0);
    let why: string | undefined;
    const seen = new Promise<number>((resolve) => {
      processAgent.watch?.({ instance: 'svc', primitive: 'svc', params: SLEEPER, stateDir: dir }, (w) => {
        why = w;
        resolve(performance.now());
      });
    });
    await sleep(50);
    const t0 = performance.now();
    process.kill(pidOf(dir), 'SIGKILL');
    const t1 = await seen;
    assert.ok(t1 - t0 < 300, `seen after ${t1 - t0} ms`);
    assert.match(why ?? '', /killed by SIGKILL/);

    assert.equal((await run('start', dir, SLEEPER)).rc, 0);
    let fired = false;
    processAgent.watch?.({ instance: 'svc', primitive: 'svc', params: SLEEPER, stateDir: dir }, () => {
      fired = true;
    });
    assert.equal((await run('stop', dir, SLEEPER)).rc, 0);
    await sleep(300);
    assert.equal(fired, false, 'a stop is not a failure');
  });

  it('adopts a copy started by an earlier agent run: probe 0, watch sees its death, stop works', async () => {
    const dir = newDir();
    // An "earlier agent run": another node process starts the copy and exits.
    const script = `
      import { processAgent } from ${JSON.stringify(new URL('./process.js', import.meta.url).href)};
      const r = await processAgent.run('start', { instance: 'svc', primitive: 'svc', params: ${JSON.stringify(SLEEPER)}, timeoutMs: 5000, intervalMs: 0, signal: AbortSignal.timeout(5000), stateDir: ${JSON.stringify(dir)} });
      process.stdout.write(String(r.rc));
      process.exit(0);`;
    const earlier = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(earlier.stdout, '0', earlier.stderr);
    const pid = pidOf(dir);
    assert.ok(alive(pid), 'the copy must outlive the agent run that started it');
    const probe = await run('monitor', dir, SLEEPER);
    assert.equal(probe.rc, 0);
    assert.match(probe.output, new RegExp(`pid ${pid}`));
    const seen = new Promise<number>((resolve) => {
      processAgent.watch?.({ instance: 'svc', primitive: 'svc', params: SLEEPER, stateDir: dir }, () => resolve(performance.now()));
    });
    await sleep(150);
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const t1 = await seen;
    assert.ok(t1 - t0 < 600, `seen after ${t1 - t0} ms`);
    assert.equal((await run('monitor', dir, SLEEPER)).rc, 7);
    assert.equal((await run('stop', dir, SLEEPER)).rc, 0);
  });

  it('watching a copy that is not running reports it at once', async () => {
    const dir = newDir();
    const why = await new Promise<string>((resolve) => {
      processAgent.watch?.({ instance: 'svc', primitive: 'svc', params: SLEEPER, stateDir: dir }, resolve);
    });
    assert.equal(why, 'not running');
  });
});
