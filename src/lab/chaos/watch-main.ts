// The chaos suite's ground-truth watcher for the active/passive service: runs in one host's
// namespace (started by the harness with `ip netns exec`, recorded by PID, killed at the end)
// and samples every ~10 ms whether the service's VIP is an address of this host (a bind to
// it succeeds only then) and whether the service answers on 127.0.0.1. It prints a JSON line
// when either changes, with the time of the last sample before the change, and a tick every
// 100 ms; ./timeline.ts folds the lines into intervals.
//
//   node watch-main.js VIP PORT [INTERVAL_MS]
//   → {"at":1732…,"v":1,"a":1,"prev":1732…}     (a change)
//   → {"at":1732…,"v":1,"a":1}                  (a tick)

import { createSocket } from 'node:dgram';
import { request } from 'node:http';

const [vip, portText, intervalText] = process.argv.slice(2);
const port = Number(portText);
const intervalMs = Number(intervalText ?? '10');
if (vip === undefined || !(port > 0) || !(intervalMs > 0)) {
  process.stderr.write('usage: watch-main.js VIP PORT [INTERVAL_MS]\n');
  process.exit(2);
}

/** Whether the address is local: binding a socket to it fails with EADDRNOTAVAIL otherwise. */
function vipHere(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind({ address, port: 0, exclusive: true }, () => {
      sock.close();
      resolve(true);
    });
  });
}

/** Whether the service answers a GET on 127.0.0.1 with a 2xx or 3xx within 300 ms. */
function answers(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(ok);
    };
    const req = request({ host: '127.0.0.1', port: p, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400;
      res.resume();
      res.on('end', () => finish(ok));
      res.on('error', () => finish(false));
    });
    const timer = setTimeout(() => finish(false), 300);
    req.on('error', () => finish(false));
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  process.on('SIGTERM', () => process.exit(0));
  let last: { at: number; v: boolean; a: boolean } | undefined;
  let tickAt = 0;
  for (;;) {
    const at = Date.now();
    const [v, a] = await Promise.all([vipHere(vip as string), answers(port)]);
    if (last === undefined || last.v !== v || last.a !== a) {
      process.stdout.write(`${JSON.stringify({ at, v: v ? 1 : 0, a: a ? 1 : 0, ...(last === undefined ? {} : { prev: last.at }) })}\n`);
      tickAt = at;
    } else if (at - tickAt >= 100) {
      process.stdout.write(`${JSON.stringify({ at, v: v ? 1 : 0, a: a ? 1 : 0 })}\n`);
      tickAt = at;
    }
    last = { at, v, a };
    await sleep(Math.max(0, intervalMs - (Date.now() - at)));
  }
}

void main();
