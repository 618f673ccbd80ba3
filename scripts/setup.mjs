#!/usr/bin/env node
// Installs what Haven's commands need, idempotently: npm packages, then Debian packages.
// Run by `npm test`, `npm run demo` and the benches before they build; safe to run again.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Debian packages and the command (or absolute path of an executable) each provides. */
const DEBIAN = [
  ['pacemaker-cli-utils', 'crm_verify'], // validates the CIBs `haven convert` writes; crm_simulate for the bench
  ['resource-agents', '/usr/lib/ocf/resource.d/heartbeat/IPaddr2'], // the OCF agents src/resources/ocf.ts runs (Dummy, IPaddr2, …)
  ['pacemaker-resource-agents', '/usr/lib/ocf/resource.d/pacemaker/Stateful'], // ocf:pacemaker:Stateful, a promotable OCF agent for tests
  ['iputils-arping', 'arping'], // gratuitous ARP after the vip agent adds an address
  ['iproute2', 'ip'], // the lab's namespaces, bridges and veths; the vip agent's ip addr
  ['nftables', 'nft'], // the lab's faults: cut rings and partitions on its bridges
  ['keepalived', 'keepalived'], // bench/failover's anchor: VRRP fail-over of a VIP, without fencing
  ['etcd-server', '/usr/bin/etcd'], // the etcd store: consensus for three controllers (tests start their own members)
  ['etcd-client', 'etcdctl'], // inspecting the etcd store by hand (docs/store.md)
  ['haproxy', 'haproxy'], // the haproxy resource agent: the load balancer of active/active services
  ['fence-agents', '/usr/sbin/fence_ipmilan'], // fence devices: Debian's fence agents (fence_ipmilan fences the lab's hosts)
  ['openipmi', '/usr/bin/ipmi_sim'], // the lab's simulated BMCs (ipmi_sim), one per host
  ['ipmitool', 'ipmitool'], // what fence_ipmilan runs to talk IPMI to a BMC
  ['python3', '/usr/bin/python3'], // the lab's delay line (src/lab/delay-queue.py, NFQUEUE)
  ['iptables', 'iptables-restore'], // feeds the delay line: NFQUEUE rules on the switch's bridged frames
];

function log(msg) {
  process.stderr.write(`setup: ${msg}\n`);
}

function npmInstall() {
  const modules = join(root, 'node_modules');
  const lock = join(root, 'package-lock.json');
  const marker = join(modules, '.package-lock.json');
  const fresh = existsSync(marker) && existsSync(lock) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
  if (fresh) return;
  log('installing npm packages');
  execFileSync('npm', [existsSync(lock) ? 'ci' : 'install', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function aptInstall() {
  const missing = DEBIAN.filter(([, cmd]) => !have(cmd)).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`not root: cannot install ${missing.join(', ')}; the tests that need them will be skipped`);
    return;
  }
  log(`installing Debian packages: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (update.status !== 0) log('apt-get update failed; trying the install anyway');
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed (exit ${r.status})`);
}

npmInstall();
aptInstall();
