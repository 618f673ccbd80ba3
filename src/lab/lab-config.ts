// The lab's cluster configuration, <state dir>/<name>/lab.yaml: the cluster, its rings, one
// node per host with its address on every ring, the controller, the fence devices (each host's
// simulated BMC through fence_ipmilan as level 1, the lab's power switch as level 2 of every
// host), and the resources and constraints of an operator's file (`haven lab up --resources
// FILE`, a YAML with `resources:` and `constraints:` lists). It holds the BMC password, so it is
// written 0600.
//
// Nothing here touches the system: `up` calls labConfigText before it creates anything, so a
// bad resources file is refused whole, located in that file, and changes nothing.

import { stringify } from 'yaml';
import { z } from 'zod';
import { locate, parseConfig, parseWithSchema } from '../config/load.js';
import { validateConfig } from '../config/validate.js';
import { ConfigInvalidError, type SourceError } from '../errors.js';
import { configSchema, type Config } from '../model/config.js';
import { BMC_USER } from './bmc.js';
import { ringName } from './names.js';
import type { LabState } from './state.js';

/** The heartbeat timing of a lab: Haven's defaults, written out so the file says what runs. */
export const LAB_HEARTBEAT = { interval: '50ms', ringTimeout: '300ms' } as const;
export const LAB_FENCE_DEVICE = 'lab-power';
/** A BMC that does not answer is given up after this long, and the lab's power switch fences. */
export const LAB_BMC_TIMEOUT = '5s';

const extrasSchema = z.strictObject({
  resources: configSchema.shape.resources,
  constraints: configSchema.shape.constraints,
});

/** What an operator's resources file adds, as written (durations still as text). */
export interface LabExtras {
  readonly resources?: unknown[];
  readonly constraints?: unknown[];
  /** The file they came from (for messages), and its parsed source for locating problems. */
  readonly file?: string;
}

/** The parts of lab.yaml the lab itself decides, as plain data in the file's own form. */
export function labConfigDocument(state: Pick<LabState, 'name' | 'rings' | 'hosts' | 'stateDir' | 'bmc'>, defaultStateDir: string, bmcPassword?: string): Record<string, unknown> {
  const rings = Array.from({ length: state.rings }, (_, r) => ({ name: ringName(r) }));
  const addresses = (h: LabState['hosts'][number]): Record<string, string> => Object.fromEntries(h.links.map((l) => [ringName(l.ring), l.address]));
  const hosts = state.hosts.filter((h) => h.role === 'host');
  const controllers = state.hosts.filter((h) => h.role === 'controller');
  const params: Record<string, string> = { lab: state.name };
  // The fence agent finds the lab by name in the default state directory; a lab elsewhere says where.
  if (state.stateDir !== defaultStateDir) params['state_dir'] = state.stateDir;
  return {
    cluster: { name: state.name, heartbeat: { ...LAB_HEARTBEAT } },
    rings,
    nodes: hosts.map((h) => ({ name: h.name, addresses: addresses(h) })),
    controllers: controllers.map((h) => ({ name: h.name, addresses: addresses(h) })),
    fenceDevices: [...bmcDevices(state, bmcPassword), { id: LAB_FENCE_DEVICE, agent: 'lab', params, nodes: hosts.map((h) => h.name) }],
    ...(state.bmc === undefined ? {} : { fenceTopology: state.bmc.hosts.map((b) => ({ node: b.host, levels: [[bmcDeviceId(b.host)], [LAB_FENCE_DEVICE]] })) }),
  };
}

export function bmcDeviceId(host: string): string {
  return `ipmi-${host}`;
}

/**
 * One fence_ipmilan device per host's BMC: IPMI 1.5 over LAN (lanplus off) with MD5, no wait
 * after the power command (ipmi_sim acts before it answers, and fence_ipmilan checks the status
 * itself before it exits 0), and a timeout short enough that the lab's power switch (level 2)
 * takes over soon when a BMC does not answer.
 */
function bmcDevices(state: Pick<LabState, 'bmc'>, password: string | undefined): Record<string, unknown>[] {
  if (state.bmc === undefined) return [];
  return state.bmc.hosts.map((b) => ({
    id: bmcDeviceId(b.host),
    agent: 'fence_ipmilan',
    nodes: [b.host],
    params: { ip: b.address, ipport: b.port, username: BMC_USER, password: password ?? 'stand-in', lanplus: 0, auth: 'md5', power_wait: 0 },
    timeout: LAB_BMC_TIMEOUT,
  }));
}

/**
 * Reads a resources file: a YAML map with optional `resources:` and `constraints:` lists, in
 * the configuration's own schema. Throws CONFIG_INVALID with every problem located in the file.
 */
export function parseExtras(text: string, file: string): LabExtras & { readonly located: (problems: Parameters<typeof locate>[1]) => SourceError[] } {
  const parsed = parseWithSchema(text, file, extrasSchema);
  if (!parsed.ok) throw new ConfigInvalidError(file, parsed.errors);
  const raw = (parsed.source.toJS() ?? {}) as { resources?: unknown[]; constraints?: unknown[] };
  return {
    file,
    ...(raw.resources === undefined ? {} : { resources: raw.resources }),
    ...(raw.constraints === undefined ? {} : { constraints: raw.constraints }),
    located: (problems) => locate(parsed.source, problems),
  };
}

/**
 * lab.yaml's text and the configuration it parses to. Problems in the operator's resources and
 * constraints are reported in their file (the indexes are the same in both); anything else the
 * full check refuses is reported against lab.yaml itself.
 */
export function labConfigText(
  state: Pick<LabState, 'name' | 'rings' | 'hosts' | 'stateDir' | 'config' | 'bmc'>,
  defaultStateDir: string,
  extras?: ReturnType<typeof parseExtras>,
  bmcPassword?: string,
): { text: string; config: Config } {
  const doc: Record<string, unknown> = labConfigDocument(state, defaultStateDir, bmcPassword);
  if (extras?.resources !== undefined) doc['resources'] = extras.resources;
  if (extras?.constraints !== undefined) doc['constraints'] = extras.constraints;
  const header = `# Written by \`haven lab up\` for lab "${state.name}"; removed by \`haven lab down\`.\n`;
  const text = header + stringify(doc, { lineWidth: 0 });
  const parsed = parseConfig(text, state.config, { runnable: true });
  if (parsed.ok) return { text, config: parsed.config };
  if (extras !== undefined) {
    // Re-run the whole-config rules to split the problems between the two files.
    const schemaOk = configSchema.safeParse(doc);
    if (schemaOk.success) {
      const problems = validateConfig(schemaOk.data);
      const theirs = problems.filter((p) => p.path[0] === 'resources' || p.path[0] === 'constraints');
      if (theirs.length === problems.length && theirs.length > 0) throw new ConfigInvalidError(extras.file ?? state.config, extras.located(theirs));
    }
  }
  throw new ConfigInvalidError(state.config, parsed.errors);
}

