#!/usr/bin/env node
// Haven's main job, as far as it reaches today: the decision core on the seed's OpenStack
// controller cluster. It checks the configuration, then asks Haven what it would do in a steady
// cluster, when a controller is lost, and when a service fails, and shows the way in from Pacemaker.
// `npm run demo` builds first (see package.json).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const haven = join(root, 'bin', 'haven.js');
const config = 'examples/three-node.yaml';
const bold = (s) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);

function step(title, why) {
  process.stdout.write(`\n${bold(`== ${title}`)}\n${why}\n`);
}

function run(args, { show = true } = {}) {
  if (show) process.stdout.write(`\n$ haven ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [haven, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (show) process.stdout.write(r.stdout + r.stderr);
  if (r.status !== 0) {
    process.stderr.write(`demo: haven ${args.join(' ')} exited ${r.status}\n`);
    process.exit(1);
  }
  return r.stdout;
}

step('The cluster', 'Three OpenStack controllers and two computes, as the seed lays them out: a VIP with HAProxy,\nGalera, RabbitMQ, memcached, the API services as clones, and the compute chain\novs-agent → ceilometer → nova-compute. Haven validates the whole file first.');
run(['check', config]);

step('Steady state', 'Everything runs where it should: Haven plans nothing.');
run(['plan', '--config', config, '--status', 'examples/three-node-status-steady.yaml']);

step('A controller is lost', 'ctl1 stopped answering on every ring. Haven fences it first, then brings the VIP back on\nanother controller; the clones simply lose their copy on ctl1. Every action says why it exists.');
run(['plan', '--config', config, '--status', 'examples/three-node-status-unclean.yaml']);

step('Why there?', 'The scores behind the VIP\'s new place, node by node, and the rule that decided.');
run(['plan', '--config', config, '--status', 'examples/three-node-status-unclean.yaml', '--explain', 'vip']);

step('A service fails', 'A monitor reported a failure. Below the migration threshold Haven restarts it in place, and\nwhat is ordered after it restarts too.');
run(['plan', '--config', config, '--status', 'examples/three-node-status-failed-monitor.yaml']);

step('From Pacemaker', 'An existing Pacemaker cluster comes over with `haven convert from-cib` (and goes back with\n`to-cib`), so Haven\'s plan and crm_simulate\'s can be compared on the same snapshot: docs/pacemaker.md.');
const cib = run(['convert', 'to-cib', '--config', config, '--status', 'examples/three-node-status-failed-monitor.yaml'], { show: false });
process.stdout.write(`\n$ haven convert to-cib --config ${config} --status examples/three-node-status-failed-monitor.yaml | head -4\n`);
process.stdout.write(cib.split('\n').slice(0, 4).join('\n') + '\n  …\n');

writeFileSync(process.stdout.fd, '\nDone. Try your own: haven plan --config FILE --status FILE [--explain RESOURCE] [--json]\n');
