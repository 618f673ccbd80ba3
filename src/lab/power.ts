// The lab's power switch. `powerOff` is pulling the plug: every process in the host's namespace
// SIGKILLed at once (all of them were started by the lab or its daemons), then the host's links
// set down. `powerOn` boots it again: addresses reset to the lab's own (a VIP the host held
// before does not survive a power cycle, as on a real machine), an empty firewall, the links
// up, and its daemon started when the lab runs daemons (a controller host's etcd member too).
//
// The fence agent (`haven lab fence`, ./fence.ts) calls these on the failover path, so this
// module imports nothing heavy: no config parsing, no YAML.

import { HavenError } from '../errors.js';
import { daemonRoles, startDaemon } from './daemons.js';
import { hostDownCommands, hostUpCommands } from './layout.js';
import { markPower } from './power-marker.js';
import { labDir, requireState, withLock, writeState, type HostState, type LabState } from './state.js';
import { ipBatch, killNamespace, runIn } from './system.js';

export type PowerState = 'on' | 'off';

export interface PowerResult {
  readonly host: string;
  readonly power: PowerState;
  /** False when the host already was in that state (nothing done but making sure). */
  readonly changed: boolean;
  /** `off`: the processes killed. */
  readonly killed: readonly number[];
  /** `on`: the daemon started, if any. */
  readonly pid?: number;
}

function powerHost(state: LabState, name: string): HostState {
  const h = state.hosts.find((x) => x.name === name);
  if (h === undefined) {
    const hosts = state.hosts.filter((x) => x.role !== 'client').map((x) => x.name);
    throw new HavenError('NOT_FOUND', `lab "${state.name}" has no host "${name}"`, { hint: `its hosts: ${hosts.join(', ')}` });
  }
  if (h.role === 'client') throw new HavenError('USAGE', `the client host has no power switch`, { hint: 'power off a host or the controller' });
  return h;
}

/** The power state of a host as recorded (the fence agent's `status`). */
export async function powerStatus(name: string, dir: string, host: string): Promise<PowerState> {
  return powerHost(await requireState(dir, name), host).power;
}

/**
 * Powers a host off. The kill comes first, before the lock is taken: a fence must not wait for
 * an unrelated `haven lab` command, and killing is idempotent. Off again is not an error.
 */
export async function powerOff(name: string, dir: string, host: string): Promise<PowerResult> {
  const h = powerHost(await requireState(dir, name), host);
  const killed = await killNamespace(h.ns);
  return withLock(dir, name, async () => {
    const state = await requireState(dir, name);
    const hs = powerHost(state, host);
    // Anything forked between the first kill and the lock goes too.
    const more = await killNamespace(hs.ns);
    await ipBatch(hs.ns, hostDownCommands(hs));
    const changed = hs.power !== 'off';
    hs.power = 'off';
    state.processes = state.processes.filter((p) => p.host !== host);
    await writeState(state);
    // Only now, with the host off for sure, may its BMC say so (power-marker.ts).
    await markPower(labDir(dir, name), host, 'off');
    return { host, power: 'off', changed, killed: [...killed, ...more] };
  });
}

/** Powers a host on: a clean boot of its network and its daemon. On again is not an error. */
export async function powerOn(name: string, dir: string, host: string): Promise<PowerResult> {
  return withLock(dir, name, async () => {
    const state = await requireState(dir, name);
    const h = powerHost(state, host);
    if (h.power === 'on') return { host, power: 'on', changed: false, killed: [] };
    // Marked on before anything of it runs again (power-marker.ts).
    await markPower(labDir(dir, name), host, 'on');
    await ipBatch(h.ns, hostUpCommands(h));
    await runIn(h.ns, 'nft', ['flush', 'ruleset']);
    h.power = 'on';
    let pid: number | undefined;
    if (state.daemons) {
      // A controller host's etcd member (if any) first, then its controller: pid is the last one's.
      for (const role of daemonRoles(state, h)) {
        const rec = startDaemon(state, h, role);
        state.processes.push(rec);
        pid = rec.pid;
      }
    }
    await writeState(state);
    return { host, power: 'on', changed: true, killed: [], ...(pid === undefined ? {} : { pid }) };
  });
}

/** Off, then on. */
export async function powerCycle(name: string, dir: string, host: string): Promise<PowerResult> {
  const off = await powerOff(name, dir, host);
  const on = await powerOn(name, dir, host);
  return { ...on, killed: off.killed };
}
