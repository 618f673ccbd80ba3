#!/usr/bin/env node
// Haven's main job on one machine: the lab. Three hosts as network namespaces on two heartbeat
// rings, an agent on each and a controller; an active/passive web service with its virtual IP;
// a probe sending a request every 10 ms through the VIP; the active host's plug pulled. The
// controller notices (every ring silent), fences the host through the lab's power switch,
// and starts the service and its VIP on another host. The report gives the detection time from
// the controller's event log and the RTO as the probe saw it; then the host is powered back
// on and the lab torn down, leaving nothing behind.
//
// `npm run demo` builds first and installs what the lab needs (see package.json); run as root.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const haven = join(root, 'bin', 'haven.js');
const LAB = process.env.HAVEN_DEMO_LAB ?? 'demo';
const bold = (s) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function step(title, why) {
  process.stdout.write(`\n${bold(`== ${title}`)}\n${why}\n`);
}

function run(args, { show = true, check = true } = {}) {
  if (show) process.stdout.write(`\n$ haven ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [haven, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, HAVEN_LAB: LAB } });
  if (show) process.stdout.write(r.stdout + r.stderr);
  if (check && r.status !== 0) throw new Error(`haven ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

function status() {
  return JSON.parse(run(['status', '--json'], { show: false }));
}

function activeHost(s) {
  const web = s.status.resources?.web ?? {};
  const vip = s.status.resources?.['web-vip'] ?? {};
  const hosts = Object.keys(web).filter((n) => web[n].state === 'started' && vip[n]?.state === 'started');
  return hosts.length === 1 && s.plan === null ? hosts[0] : undefined;
}

async function waitFor(what, fn, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = fn();
      if (v) return v;
    } catch {
      // the controller may not answer yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the lab builds network namespaces: run the demo as root');
  run(['lab', 'down', '--name', LAB], { show: false, check: false }); // a lab left by an interrupted run

  step('1. Build the lab', 'Three hosts and a controller as network namespaces on two rings (two bridges), an agent on every host.\nThe resources file adds an active/passive web service and its virtual IP, as a group.');
  run(['lab', 'up', '--name', LAB, '--hosts', '3', '--rings', '2', '--resources', 'examples/lab-web.yaml']);
  const lab = JSON.parse(run(['lab', 'status', '--name', LAB, '--json'], { show: false }));
  const net = lab.hosts.find((h) => h.name === 'h1').addresses.ring0.split('.').slice(0, 3).join('.');
  const vip = `${net}.100`;

  step('2. Haven starts the service', 'The controller probes every host, places the group (VIP first, then the web service) and starts monitors.');
  const first = await waitFor('the web service to run', () => activeHost(status()));
  run(['status']);

  step('3. Pull the plug', `A probe in the lab's client sends GET http://${vip}:8080/ every 10 ms; after 1.5 s the active host, ${first}, loses power:\nevery process on it killed at once, its links down.`);
  const probe = spawn(process.execPath, [haven, 'lab', 'probe', '--name', LAB, `http://${vip}:8080/`, '--duration', '6', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let probeOut = '';
  probe.stdout.on('data', (b) => (probeOut += b));
  const probeDone = new Promise((resolve) => probe.on('exit', resolve));
  await sleep(1500);
  const offAt = Date.now();
  run(['lab', 'power', 'off', first, '--name', LAB]);
  const second = await waitFor('the service on another host', () => {
    const h = activeHost(status());
    return h && h !== first ? h : undefined;
  });
  await probeDone;
  const report = JSON.parse(probeOut);

  step('4. What the controller decided, and why', 'From its event log (haven events): the verdict, the plan with each reason, the fence, the starts.');
  const events = JSON.parse(`[${run(['events', '--json'], { show: false }).trim().split('\n').join(',')}]`);
  const after = events.filter((e) => e.at >= offAt - 50);
  for (const e of after) process.stdout.write(`  ${new Date(e.at).toISOString().slice(11, 23)} ${e.kind.padEnd(12)} ${e.message}\n`);
  run(['status']);

  const lost = after.find((e) => e.kind === 'observed' && e.node === first && /is lost/.test(e.message));
  const fenced = after.find((e) => e.kind === 'fenced' && e.node === first);
  const started = after.find((e) => e.kind === 'action' && e.message.startsWith(`start web@${second}`));
  step('5. Report', 'Measured on this run: the detection time from the controller\'s log, the RTO from what the probe saw.');
  const line = (k, v) => process.stdout.write(`  ${k.padEnd(34)} ${v}\n`);
  // The plug is pulled when the host stops answering: the start of the probe's gap (the
  // command's own start-up comes before that and is not the cluster's doing).
  const cut = report.rto ? Date.parse(report.rto.start) : offAt;
  line('active host powered off', `${first}, last answer at ${new Date(cut).toISOString().slice(11, 23)}`);
  line('detection (power off → node lost)', lost ? `${lost.at - cut} ms (ring timeout 300 ms)` : 'not seen');
  line('fence', fenced ? fenced.message.replace(/^\S+ fenced by /, '') : 'not seen');
  line('service started on', `${second}${started ? ` (${started.at - cut} ms after power off)` : ''}`);
  line('probe requests / failed', `${report.requests} / ${report.failed}`);
  line('RTO (longest gap the probe saw)', report.rto ? `${Math.round(report.rto.durationMs)} ms${report.rto.open ? " (still open when the probe ended!)" : ""}` : 'no gap');
  line('answered by', Object.entries(report.hosts).map(([h, n]) => `${h} ${n}`).join(', '));
  line('two hosts serving at once', report.splitBrain.length === 0 ? 'never' : `${report.splitBrain.length} time(s)!`);

  step('6. Heal and tear down', `${first} is powered back on: its agent reports what it runs (nothing) and the service stays where it is (stickiness).`);
  run(['lab', 'power', 'on', first, '--name', LAB]);
  await waitFor(`${first} online`, () => status().nodes.find((n) => n.name === first)?.state === 'online' && activeHost(status()) === second);
  run(['status']);
  run(['lab', 'down', '--name', LAB]);
  if (report.splitBrain.length > 0) throw new Error('the probe saw two hosts serving the A/P service at once');
}

main().catch((err) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  spawnSync(process.execPath, [haven, 'lab', 'down', '--name', LAB], { cwd: root, stdio: 'ignore' });
  process.exit(1);
});
