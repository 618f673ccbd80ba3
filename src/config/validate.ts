// Whole-config rules: what the schema cannot see because it needs the whole file at once —
// names that must be unique, references that must resolve, constraints that contradict each
// other or loop, operations that make no sense for their resource. Pure: a parsed Config in,
// every problem found out, each with the path of the node to fix (load.ts places it in the file).

import {
  DEFAULTS,
  type Colocation,
  type Config,
  type Group,
  type Location,
  type Operation,
  type Order,
  type Primitive,
  type Resource,
  type ResourceAction,
} from '../model/config.js';
import { formatDuration, formatScore, INFINITY } from '../model/units.js';
import { findCycles, type Edge } from './cycles.js';
import type { Path, Problem } from './problem.js';
import { ruleMatches, UNAME } from './rules.js';
import { suggestion } from './suggest.js';
import { builtinParamProblems } from '../resources/index.js';

type Kind = Resource['type'];

/** A resource constraints may name: an entry of `resources`. */
interface TopEntry {
  readonly id: string;
  readonly kind: Kind;
  readonly path: Path;
  readonly def: Resource;
}

/** A resource inside another one, which constraints may not name. */
interface InnerEntry {
  readonly id: string;
  readonly kind: 'primitive' | 'group';
  /** The resource directly around it, and the top-level one. */
  readonly parent: { readonly id: string; readonly kind: Kind };
  readonly top: TopEntry;
}

/** Every primitive, wherever it sits. */
interface PrimitiveEntry {
  readonly def: Primitive;
  readonly path: Path;
  readonly top: TopEntry;
}

interface Index {
  readonly tops: Map<string, TopEntry>;
  readonly inner: Map<string, InnerEntry>;
  readonly primitives: PrimitiveEntry[];
  /** Every resource definition (top-level and inside), with its path: for the policy checks. */
  readonly all: { readonly def: Resource; readonly path: Path; readonly top: TopEntry }[];
  readonly nodes: Set<string>;
  readonly fencing: boolean;
}

/**
 * The params of every primitive of a built-in agent kind (process, vip, haproxy) that its agent
 * would refuse at start, each at the primitive's `params` (ocf agents say only when run).
 */
export function validateAgentParams(config: Config): Problem[] {
  const problems: Problem[] = [];
  for (const { def, path } of buildIndex(config).primitives) {
    for (const message of builtinParamProblems(def.agent, def.params ?? {}) ?? []) {
      problems.push({ path: [...path, 'params'], message: `${def.id}: ${message}`, hint: `the ${def.agent} agent's params: docs/agents.md` });
    }
  }
  return problems;
}

/** Every whole-config problem of `config`, in file order within each kind of check. */
export function validateConfig(config: Config): Problem[] {
  const problems: Problem[] = [];
  const index = buildIndex(config);
  checkIds(config, problems);
  checkNodes(config, problems);
  checkHeartbeat(config, problems);
  checkControllers(config, problems);
  checkFenceDevices(config, problems);
  checkFenceTopology(config, problems);
  checkFenceParams(config, problems);
  checkResources(config, index, problems);
  const constraints = config.constraints ?? [];
  constraints.forEach((c, i) => {
    const base: Path = ['constraints', i];
    switch (c.type) {
      case 'location':
        checkLocation(c, base, index, problems);
        break;
      case 'colocation':
        checkColocation(c, base, index, problems);
        break;
      case 'order':
        checkOrder(c, base, index, problems);
        break;
      default: {
        const never: never = c;
        throw new Error(`unknown constraint ${JSON.stringify(never)}`);
      }
    }
  });
  checkOrderCycles(constraints, index, problems);
  checkColocationCycles(constraints, index, problems);
  checkColocationConflicts(constraints, index, problems);
  checkPlacementPossible(config, index, problems);
  return problems;
}

// --- the index ---------------------------------------------------------------------------

function buildIndex(config: Config): Index {
  const tops = new Map<string, TopEntry>();
  const inner = new Map<string, InnerEntry>();
  const primitives: PrimitiveEntry[] = [];
  const all: Index['all'] = [];
  (config.resources ?? []).forEach((r, i) => {
    const path: Path = ['resources', i];
    const top: TopEntry = { id: r.id, kind: r.type, path, def: r };
    if (!tops.has(r.id)) tops.set(r.id, top);
    all.push({ def: r, path, top });
    const addInner = (def: Primitive | Group, p: Path, parent: { id: string; kind: Kind }): void => {
      if (!inner.has(def.id) && !tops.has(def.id)) inner.set(def.id, { id: def.id, kind: def.type, parent, top });
      all.push({ def, path: p, top });
      if (def.type === 'primitive') primitives.push({ def, path: p, top });
      else def.members.forEach((m, j) => addInner(m, [...p, 'members', j], { id: def.id, kind: 'group' }));
    };
    switch (r.type) {
      case 'primitive':
        primitives.push({ def: r, path, top });
        break;
      case 'group':
        r.members.forEach((m, j) => addInner(m, [...path, 'members', j], { id: r.id, kind: 'group' }));
        break;
      case 'clone':
      case 'promotable':
        addInner(r.of, [...path, 'of'], { id: r.id, kind: r.type });
        break;
      default: {
        const never: never = r;
        throw new Error(`unknown resource ${JSON.stringify(never)}`);
      }
    }
  });
  return {
    tops,
    inner,
    primitives,
    all,
    nodes: new Set(config.nodes.map((n) => n.name)),
    fencing: config.cluster.fencing ?? DEFAULTS.fencing,
  };
}

// --- ids and names ---------------------------------------------------------------------------

/** Resources (at any depth) and constraints share one namespace, as in a Pacemaker CIB. */
function checkIds(config: Config, problems: Problem[]): void {
  const seen = new Map<string, { path: Path; what: string }>();
  const note = (id: string, path: Path, what: string): void => {
    const first = seen.get(id);
    if (first === undefined) {
      seen.set(id, { path, what });
      return;
    }
    problems.push({
      path,
      message: `duplicate id "${id}": already used by a ${first.what}`,
      hint: 'resources and constraints share one set of ids',
      related: { path: first.path, label: 'first defined' },
    });
  };
  const walk = (r: Resource | Primitive | Group, path: Path): void => {
    note(r.id, [...path, 'id'], r.type);
    if (r.type === 'group') r.members.forEach((m, j) => walk(m, [...path, 'members', j]));
    if (r.type === 'clone' || r.type === 'promotable') walk(r.of, [...path, 'of']);
  };
  (config.resources ?? []).forEach((r, i) => walk(r, ['resources', i]));
  (config.constraints ?? []).forEach((c, i) => note(c.id, ['constraints', i, 'id'], `${c.type} constraint`));
}

function checkNodes(config: Config, problems: Problem[]): void {
  const rings = config.rings ?? [];
  const ringSeen = new Map<string, number>();
  rings.forEach((r, i) => {
    const first = ringSeen.get(r.name);
    if (first !== undefined) {
      problems.push({ path: ['rings', i, 'name'], message: `duplicate ring "${r.name}"`, related: { path: ['rings', first, 'name'], label: 'first defined' } });
    } else ringSeen.set(r.name, i);
  });

  const nodeSeen = new Map<string, number>();
  /** ring → address → index of the node that has it. */
  const addressSeen = new Map<string, Map<string, number>>();
  config.nodes.forEach((n, i) => {
    const base: Path = ['nodes', i];
    const first = nodeSeen.get(n.name);
    if (first !== undefined) {
      problems.push({ path: [...base, 'name'], message: `duplicate node "${n.name}"`, related: { path: ['nodes', first, 'name'], label: 'first defined' } });
    } else nodeSeen.set(n.name, i);

    const addresses = n.addresses ?? {};
    for (const [ring, address] of Object.entries(addresses)) {
      if (!ringSeen.has(ring)) {
        problems.push({
          path: [...base, 'addresses', ring],
          at: 'key',
          message: `node "${n.name}" has an address on ring "${ring}", which is not declared`,
          hint: ringSeen.size === 0 ? 'declare the heartbeat rings under rings: (name, port)' : suggestion(ring, [...ringSeen.keys()], 'declared rings'),
        });
        continue;
      }
      const byAddress = addressSeen.get(ring) ?? new Map<string, number>();
      addressSeen.set(ring, byAddress);
      const owner = byAddress.get(address);
      if (owner !== undefined && owner !== i) {
        const other = config.nodes[owner]?.name ?? '?';
        problems.push({
          path: [...base, 'addresses', ring],
          message: `node "${n.name}" has the same address "${address}" on ring "${ring}" as node "${other}"`,
          hint: 'each node needs its own address on each ring',
          related: { path: ['nodes', owner, 'addresses', ring], label: `node "${other}"'s address` },
        });
      } else byAddress.set(address, i);
    }
    for (const ring of ringSeen.keys()) {
      if (ring in addresses) continue;
      problems.push({
        path: [...base, 'addresses', ring],
        message: `node "${n.name}" has no address on ring "${ring}"`,
        hint: 'when rings are declared, every node needs an address on every ring',
      });
    }
    for (const attr of Object.keys(n.attributes ?? {})) {
      if (!attr.startsWith('#')) continue;
      problems.push({
        path: [...base, 'attributes', attr],
        at: 'key',
        message: `node "${n.name}": attribute names starting with "#" are reserved`,
        hint: `${UNAME} is the node's name and is always defined`,
      });
    }
  });
}

/** Controllers need an address on every declared ring (heartbeats are sent on each). */
function checkControllers(config: Config, problems: Problem[]): void {
  const rings = (config.rings ?? []).map((r) => r.name);
  const seen = new Map<string, number>();
  (config.controllers ?? []).forEach((c, i) => {
    const base: Path = ['controllers', i];
    const first = seen.get(c.name);
    if (first !== undefined) {
      problems.push({ path: [...base, 'name'], message: `duplicate controller "${c.name}"`, related: { path: ['controllers', first, 'name'], label: 'first defined' } });
    } else seen.set(c.name, i);
    for (const ring of Object.keys(c.addresses)) {
      if (rings.length > 0 && !rings.includes(ring)) {
        problems.push({
          path: [...base, 'addresses', ring],
          at: 'key',
          message: `controller "${c.name}" has an address on ring "${ring}", which is not declared`,
          hint: suggestion(ring, rings, 'declared rings'),
        });
      }
    }
    for (const ring of rings) {
      if (ring in c.addresses) continue;
      problems.push({ path: [...base, 'addresses'], message: `controller "${c.name}" has no address on ring "${ring}"`, hint: 'a controller needs an address on every ring to hear heartbeats there' });
    }
    if (rings.length === 0 && Object.keys(c.addresses).length !== 1) {
      problems.push({ path: [...base, 'addresses'], message: `controller "${c.name}" needs exactly one address when no rings are declared`, hint: 'declare the heartbeat rings under rings: (name, port)' });
    }
  });
}

/** Fence devices name configured nodes, and ids are unique. */
function checkFenceDevices(config: Config, problems: Problem[]): void {
  const nodes = config.nodes.map((n) => n.name);
  const seen = new Map<string, number>();
  (config.fenceDevices ?? []).forEach((d, i) => {
    const base: Path = ['fenceDevices', i];
    const first = seen.get(d.id);
    if (first !== undefined) {
      problems.push({ path: [...base, 'id'], message: `duplicate fence device "${d.id}"`, related: { path: ['fenceDevices', first, 'id'], label: 'first defined' } });
    } else seen.set(d.id, i);
    d.nodes.forEach((n, j) => {
      if (!nodes.includes(n)) {
        problems.push({ path: [...base, 'nodes', j], message: `fence device "${d.id}" names node "${n}", which is not configured`, hint: suggestion(n, nodes, 'configured nodes') });
      }
    });
  });
}

/** A lease must outlast a few lost heartbeats, or agents would self-fence on a blip (docs/safety.md). */
function checkQuorum(config: Config, problems: Problem[]): void {
  const q = config.cluster.quorum;
  const c = config.cluster.confirmation;
  if (c?.timeout === 0) problems.push({ path: ['cluster', 'confirmation', 'timeout'], message: 'confirmation timeout must be more than 0' });
  if (q?.lease === undefined) return;
  const interval = config.cluster.heartbeat?.interval || DEFAULTS.heartbeatInterval;
  const ringTimeout = config.cluster.heartbeat?.ringTimeout || DEFAULTS.ringTimeout;
  const least = Math.max(ringTimeout, 4 * interval);
  if (q.lease < least) {
    problems.push({
      path: ['cluster', 'quorum', 'lease'],
      message: `lease ${formatDuration(q.lease)} is shorter than the ring timeout (${formatDuration(ringTimeout)}) or four heartbeat intervals: agents would self-fence on a few lost heartbeats`,
      hint: `make it at least ${formatDuration(least)}; the default ${formatDuration(DEFAULTS.lease)} rides out a controller restart`,
    });
  }
}

/**
 * Params reach the agent as `key=value` lines on stdin: no line breaks, no `=` in a key, and not
 * the keys Haven sets itself for each run. Values are never quoted in a message (they may be secrets).
 */
function checkFenceParams(config: Config, problems: Problem[]): void {
  const reserved = ['action', 'option', 'plug', 'port', 'nodename'];
  (config.fenceDevices ?? []).forEach((d, i) => {
    for (const [k, v] of Object.entries(d.params ?? {})) {
      const at: Path = ['fenceDevices', i, 'params', k];
      if (reserved.includes(k)) problems.push({ path: at, message: `fence device "${d.id}" sets "${k}", which Haven sets for each run`, hint: 'remove it: the action and the node (plug) come from the fence request' });
      else if (/[=\s]/.test(k)) problems.push({ path: at, message: `fence device "${d.id}" has a param name with "=" or a space: "${k}"` });
      else if (/[\r\n]/.test(String(v))) problems.push({ path: at, message: `the value of ${k} of fence device "${d.id}" holds a line break`, hint: 'fence agents read one key=value a line' });
    }
  });
}

/**
 * A topology names configured nodes, each once; its levels name configured devices that fence
 * that node, each device at most once per level.
 */
function checkFenceTopology(config: Config, problems: Problem[]): void {
  const nodes = config.nodes.map((n) => n.name);
  const devices = config.fenceDevices ?? [];
  const ids = devices.map((d) => d.id);
  const seen = new Map<string, number>();
  (config.fenceTopology ?? []).forEach((t, i) => {
    const base: Path = ['fenceTopology', i];
    if (!nodes.includes(t.node)) {
      problems.push({ path: [...base, 'node'], message: `fencing topology for node "${t.node}", which is not configured`, hint: suggestion(t.node, nodes, 'configured nodes') });
    }
    const first = seen.get(t.node);
    if (first !== undefined) {
      problems.push({ path: [...base, 'node'], message: `node "${t.node}" has two fencing topologies`, hint: 'give it one entry with all its levels', related: { path: ['fenceTopology', first, 'node'], label: 'first defined' } });
    } else seen.set(t.node, i);
    t.levels.forEach((level, l) => {
      level.forEach((id, j) => {
        const at: Path = [...base, 'levels', l, j];
        const d = devices.find((x) => x.id === id);
        if (d === undefined) {
          problems.push({ path: at, message: `level ${l + 1} of ${t.node} names fence device "${id}", which is not configured`, hint: suggestion(id, ids, 'fence devices') });
        } else if (nodes.includes(t.node) && !d.nodes.includes(t.node)) {
          problems.push({ path: at, message: `fence device "${id}" does not fence node "${t.node}" (its nodes: ${d.nodes.join(', ')})`, hint: `add ${t.node} to the device's nodes, or take it out of this level` });
        }
        if (level.indexOf(id) !== j) problems.push({ path: at, message: `fence device "${id}" is named twice in level ${l + 1} of ${t.node}` });
      });
    });
  });
}

/** A ring timeout must outlast a lost heartbeat or two, or every ring would flap (docs/detection.md). */
function checkHeartbeat(config: Config, problems: Problem[]): void {
  checkQuorum(config, problems);
  const hb = config.cluster.heartbeat;
  if (hb === undefined) return;
  const base: Path = ['cluster', 'heartbeat'];
  if (hb.interval === 0) problems.push({ path: [...base, 'interval'], message: 'heartbeat interval must be more than 0' });
  if (hb.ringTimeout === 0) problems.push({ path: [...base, 'ringTimeout'], message: 'ringTimeout must be more than 0' });
  if (hb.interval === 0 || hb.ringTimeout === 0) return;
  const interval = hb.interval ?? DEFAULTS.heartbeatInterval;
  const ringTimeout = hb.ringTimeout ?? DEFAULTS.ringTimeout;
  if (ringTimeout < 2 * interval) {
    problems.push({
      path: [...base, hb.ringTimeout === undefined ? 'interval' : 'ringTimeout'],
      message: `ringTimeout ${formatDuration(ringTimeout)} is shorter than two heartbeat intervals (${formatDuration(interval)} each): one late heartbeat would mark the ring down`,
      hint: `make ringTimeout at least ${formatDuration(2 * interval)}; about 6 intervals (${formatDuration(6 * interval)}) rides out a few lost datagrams`,
    });
  }
}

// --- resources and operations --------------------------------------------------------------

function checkResources(config: Config, index: Index, problems: Problem[]): void {
  const defaults = config.cluster.defaults;
  if (defaults?.operationTimeout === 0) {
    problems.push({ path: ['cluster', 'defaults', 'operationTimeout'], message: 'operationTimeout must be more than 0' });
  }
  if (!index.fencing) {
    if (defaults?.onFail === 'fence') problems.push(fenceWithoutFencing(['cluster', 'defaults', 'onFail'], 'onFail: fence'));
    if (defaults?.requires === 'fencing') problems.push(fenceWithoutFencing(['cluster', 'defaults', 'requires'], 'requires: fencing'));
  }
  for (const { def, path, top } of index.all) {
    const promotable = top.kind === 'promotable';
    if ((def.targetRole === 'promoted' || def.targetRole === 'unpromoted') && !promotable) {
      problems.push({
        path: [...path, 'targetRole'],
        message: `${def.type} "${def.id}" has targetRole ${def.targetRole}, but only promotable clones have roles`,
        hint: 'use started or stopped, or make it a promotable clone',
      });
    }
    if (def.onFail === 'demote' && !promotable) problems.push(demoteNotPromotable([...path, 'onFail'], def.id));
    if (!index.fencing && def.onFail === 'fence') problems.push(fenceWithoutFencing([...path, 'onFail'], 'onFail: fence'));
    if (!index.fencing && def.requires === 'fencing') problems.push(fenceWithoutFencing([...path, 'requires'], 'requires: fencing'));
    if (def.type === 'clone' || def.type === 'promotable') checkCloneCounts(def, path, problems);
  }
  for (const prim of index.primitives) checkOperations(prim, index, problems);
}

function fenceWithoutFencing(path: Path, what: string): Problem {
  return { path, message: `${what} needs fencing, but the cluster has fencing: false`, hint: 'enable cluster.fencing, or choose another policy' };
}

function demoteNotPromotable(path: Path, id: string): Problem {
  return {
    path,
    message: `"${id}" has onFail: demote, but only promoted copies of a promotable clone can be demoted`,
    hint: 'use restart, stop, block, fence or standby',
  };
}

function checkCloneCounts(def: Extract<Resource, { type: 'clone' | 'promotable' }>, path: Path, problems: Problem[]): void {
  const { maxCopies, maxPerNode } = def;
  if (maxCopies !== undefined && maxPerNode !== undefined && maxPerNode > maxCopies) {
    problems.push({
      path: [...path, 'maxPerNode'],
      message: `${def.type} "${def.id}": maxPerNode (${maxPerNode}) is more than maxCopies (${maxCopies})`,
      hint: 'a node cannot hold more copies than the cluster runs',
    });
  }
  if (def.type !== 'promotable') return;
  const promotedMax = def.promotedMax ?? DEFAULTS.promotedMax;
  if (maxCopies !== undefined && promotedMax > maxCopies) {
    problems.push({
      path: [...path, def.promotedMax === undefined ? 'maxCopies' : 'promotedMax'],
      message: `promotable "${def.id}": promotedMax (${promotedMax}) is more than maxCopies (${maxCopies})`,
      hint: 'only running copies can be promoted',
    });
  }
  const perNode = maxPerNode ?? DEFAULTS.maxPerNode;
  if (def.promotedMaxPerNode !== undefined && def.promotedMaxPerNode > perNode) {
    problems.push({
      path: [...path, 'promotedMaxPerNode'],
      message: `promotable "${def.id}": promotedMaxPerNode (${def.promotedMaxPerNode}) is more than maxPerNode (${perNode}${maxPerNode === undefined ? ', the default' : ''})`,
      hint: 'a node cannot promote more copies than it runs',
    });
  }
}

function checkOperations(prim: PrimitiveEntry, index: Index, problems: Problem[]): void {
  const promotable = prim.top.kind === 'promotable';
  const seen = new Map<string, number>();
  (prim.def.operations ?? []).forEach((op: Operation, j) => {
    const base: Path = [...prim.path, 'operations', j];
    const label = `"${prim.def.id}" operation ${op.name}`;
    if (op.name === 'monitor') {
      if (op.interval === undefined) {
        problems.push({ path: [...base, 'interval'], message: `${label} needs an interval`, hint: 'a monitor repeats: give it an interval such as 10s' });
      } else if (op.interval <= 0) {
        problems.push({ path: [...base, 'interval'], message: `${label}: interval must be more than 0`, hint: 'a monitor repeats: give it an interval such as 10s' });
      }
      if ((op.role === 'promoted' || op.role === 'unpromoted') && !promotable) {
        problems.push({
          path: [...base, 'role'],
          message: `${label} has role ${op.role}, but "${prim.def.id}" is not in a promotable clone`,
          hint: 'remove role, or make the resource a promotable clone',
        });
      }
    } else {
      if (op.interval !== undefined) {
        problems.push({ path: [...base, 'interval'], message: `${label} has an interval, but only monitors repeat`, hint: `remove interval; ${op.name} runs once` });
      }
      if (op.role !== undefined) {
        problems.push({ path: [...base, 'role'], message: `${label} has a role, but only monitors take one`, hint: 'remove role' });
      }
    }
    if ((op.name === 'promote' || op.name === 'demote') && !promotable) {
      problems.push({
        path: [...base, 'name'],
        message: `${label}: "${prim.def.id}" is not in a promotable clone, so it is never ${op.name}d`,
        hint: 'remove the operation, or make the resource a promotable clone',
      });
    }
    if (op.timeout !== undefined && op.timeout <= 0) {
      problems.push({ path: [...base, 'timeout'], message: `${label}: timeout must be more than 0` });
    }
    if (op.onFail === 'demote') {
      const demotable = promotable && (op.name === 'promote' || (op.name === 'monitor' && op.role === 'promoted'));
      if (!demotable) {
        problems.push({
          path: [...base, 'onFail'],
          message: `${label} has onFail: demote, which applies only to promote and to monitors with role promoted in a promotable clone`,
          hint: 'use restart, stop, block, fence or standby',
        });
      }
    }
    if (op.onFail === 'fence' && !index.fencing) problems.push(fenceWithoutFencing([...base, 'onFail'], 'onFail: fence'));
    // An operation is known by its name and interval (Pacemaker's operation key), whatever its role.
    // A monitor without a valid interval is reported above; comparing it would only repeat that.
    if (op.name === 'monitor' && (op.interval ?? 0) <= 0) return;
    const key = `${op.name}/${op.interval ?? 0}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        path: base,
        message: `"${prim.def.id}" defines operation ${op.name}${op.interval ? ` every ${formatDuration(op.interval)}` : ''} twice`,
        hint:
          op.name === 'monitor'
            ? 'give each monitor its own interval (also monitors for different roles)'
            : 'define each operation once',
        related: { path: [...prim.path, 'operations', first], label: 'first defined' },
      });
    } else seen.set(key, j);
  });
}

// --- constraints -------------------------------------------------------------------------

/** The top-level resource a constraint names, or a problem saying why it cannot be named. */
function resolveRef(id: string, path: Path, owner: string, index: Index, problems: Problem[]): TopEntry | undefined {
  const top = index.tops.get(id);
  if (top !== undefined) return top;
  const inner = index.inner.get(id);
  if (inner !== undefined) {
    const where = inner.parent.kind === 'group' ? `a member of group "${inner.parent.id}"` : `inside ${inner.parent.kind} "${inner.parent.id}"`;
    problems.push({
      path,
      message: `${owner} names "${id}", which is ${where}`,
      hint: `constraints may name only top-level resources (a primitive, group, clone or promotable); name "${inner.top.id}" instead`,
    });
    return undefined;
  }
  problems.push({
    path,
    message: `${owner} names resource "${id}", which is not configured`,
    hint: suggestion(id, [...index.tops.keys()], 'resources'),
  });
  return undefined;
}

function checkRole(role: string | undefined, top: TopEntry | undefined, path: Path, owner: string, problems: Problem[]): void {
  if (top === undefined || (role !== 'promoted' && role !== 'unpromoted')) return;
  if (top.kind === 'promotable') return;
  problems.push({
    path,
    message: `${owner} uses role ${role}, but "${top.id}" is a ${top.kind}, not a promotable clone`,
    hint: 'roles promoted and unpromoted apply to promotable clones only; use started or remove the role',
  });
}

function checkLocation(c: Location, base: Path, index: Index, problems: Problem[]): void {
  const owner = `location "${c.id}"`;
  const top = resolveRef(c.resource, [...base, 'resource'], owner, index, problems);
  checkRole(c.role, top, [...base, 'role'], owner, problems);
  const hasNode = c.node !== undefined;
  const hasScore = c.score !== undefined;
  if (c.rules !== undefined) {
    if (hasNode || hasScore) {
      problems.push({
        path: [...base, hasNode ? 'node' : 'score'],
        message: `${owner} has both rules and ${hasNode ? 'node' : 'score'}`,
        hint: 'a location takes either node with score, or rules (each rule has its own score); split it in two',
      });
    }
  } else if (!hasNode && !hasScore) {
    problems.push({ path: base, message: `${owner} needs either node and score, or rules`, hint: 'e.g. node: n1 with score: 100, or rules: [{score: -INFINITY, expressions: [...]}]' });
  } else if (!hasScore) {
    problems.push({
      path: [...base, 'score'],
      message: `${owner} names node "${c.node ?? ''}" but gives no score`,
      hint: 'add score: INFINITY (must run there), a number (prefer it) or -INFINITY (never there)',
    });
  } else if (!hasNode) {
    problems.push({ path: [...base, 'node'], message: `${owner} has a score but no node`, hint: 'add node: <name>, or use rules to match nodes by attribute' });
  }
  if (c.node !== undefined && !index.nodes.has(c.node)) {
    problems.push({ path: [...base, 'node'], message: `${owner} names node "${c.node}", which is not configured`, hint: suggestion(c.node, [...index.nodes], 'nodes') });
  }
  (c.rules ?? []).forEach((rule, r) => {
    rule.expressions.forEach((e, k) => {
      const p: Path = [...base, 'rules', r, 'expressions', k];
      if (e.op === 'defined' || e.op === 'not-defined') {
        if (e.value !== undefined) problems.push({ path: [...p, 'value'], message: `${owner}: op ${e.op} takes no value`, hint: 'remove value' });
      } else if (e.value === undefined) {
        problems.push({ path: [...p, 'value'], message: `${owner}: op ${e.op} needs a value to compare "${e.attribute}" with` });
      } else if (e.attribute === UNAME && (e.op === 'eq' || e.op === 'ne') && !index.nodes.has(String(e.value))) {
        problems.push({
          path: [...p, 'value'],
          message: `${owner} compares ${UNAME} with "${String(e.value)}", which is not a configured node`,
          hint: suggestion(String(e.value), [...index.nodes], 'nodes'),
        });
      }
    });
  });
}

function checkColocation(c: Colocation, base: Path, index: Index, problems: Problem[]): void {
  const owner = `colocation "${c.id}"`;
  const a = resolveRef(c.resource, [...base, 'resource'], owner, index, problems);
  const b = resolveRef(c.with, [...base, 'with'], owner, index, problems);
  checkRole(c.role, a, [...base, 'role'], owner, problems);
  checkRole(c.withRole, b, [...base, 'withRole'], owner, problems);
  if (c.resource === c.with) {
    problems.push({ path: [...base, 'with'], message: `${owner} places "${c.resource}" with itself`, hint: 'a colocation relates two different resources' });
  }
}

function checkOrder(c: Order, base: Path, index: Index, problems: Problem[]): void {
  const owner = `order "${c.id}"`;
  const a = resolveRef(c.first, [...base, 'first'], owner, index, problems);
  const b = resolveRef(c.then, [...base, 'then'], owner, index, problems);
  const checkAction = (action: ResourceAction | undefined, top: TopEntry | undefined, field: string): void => {
    if (top === undefined || (action !== 'promote' && action !== 'demote') || top.kind === 'promotable') return;
    problems.push({
      path: [...base, field],
      message: `${owner}: "${top.id}" is a ${top.kind}, so it is never ${action}d`,
      hint: 'promote and demote apply to promotable clones only; use start or stop',
    });
  };
  checkAction(c.firstAction, a, 'firstAction');
  if (c.thenAction !== undefined) checkAction(c.thenAction, b, 'thenAction');
  else if (b !== undefined && b.kind !== 'promotable' && (c.firstAction === 'promote' || c.firstAction === 'demote')) {
    // As in Pacemaker, thenAction defaults to firstAction: "promote db, then web" orders web's promote.
    problems.push({
      path: [...base, 'thenAction'],
      message: `${owner}: thenAction defaults to firstAction (${c.firstAction}), but "${b.id}" is a ${b.kind}, so it is never ${c.firstAction}d`,
      hint: `add thenAction: ${c.firstAction === 'promote' ? 'start' : 'stop'}`,
    });
  }
  if (c.first === c.then) {
    problems.push({ path: [...base, 'then'], message: `${owner} orders "${c.first}" after itself`, hint: 'an order relates two different resources' });
  }
  const fa = c.firstAction ?? 'start';
  const ta = c.thenAction ?? fa;
  if (c.symmetrical === true && c.kind !== 'serialize' && isForward(fa) !== isForward(ta)) {
    problems.push({
      path: [...base, 'symmetrical'],
      message: `${owner}: "${fa} ${c.first}, then ${ta} ${c.then}" cannot be symmetrical: its inverse (${INVERSE[ta]} ${c.then}, then ${INVERSE[fa]} ${c.first}) would loop with any move of the two`,
      hint: 'remove symmetrical (an order between a start and a stop is one-way)',
    });
  }
  if (c.kind === 'serialize' && c.symmetrical === true) {
    problems.push({ path: [...base, 'symmetrical'], message: `${owner}: a serialize order has no direction, so it cannot be symmetrical`, hint: 'remove symmetrical' });
  }
}

const INVERSE: Record<ResourceAction, ResourceAction> = { start: 'stop', stop: 'start', promote: 'demote', demote: 'promote' };

/** start and promote bring a resource up; stop and demote take it down. */
function isForward(a: ResourceAction): boolean {
  return a === 'start' || a === 'promote';
}

/**
 * Loops among mandatory and optional orders, on (resource, action) pairs: `a start → b start`
 * and, for symmetrical orders, the reverse stops; a promotable starts before it is promoted and
 * is demoted before it stops. Group members are ordered too, but no constraint may name a member,
 * so a member's order can never close a loop with a constraint.
 */
function checkOrderCycles(constraints: Config['constraints'] & {}, index: Index, problems: Problem[]): void {
  const edges: Edge<number>[] = [];
  const vertices = new Set<string>();
  const v = (id: string, action: ResourceAction): string => {
    const key = `${action} ${id}`;
    vertices.add(key);
    return key;
  };
  constraints.forEach((c, i) => {
    if (c.type !== 'order' || c.kind === 'serialize' || c.first === c.then) return;
    if (!index.tops.has(c.first) || !index.tops.has(c.then)) return;
    const fa = c.firstAction ?? 'start';
    const ta = c.thenAction ?? fa;
    edges.push({ from: v(c.first, fa), to: v(c.then, ta), tag: i });
    if (c.symmetrical ?? isForward(fa) === isForward(ta)) edges.push({ from: v(c.then, INVERSE[ta]), to: v(c.first, INVERSE[fa]), tag: i });
  });
  for (const top of index.tops.values()) {
    const has = (a: ResourceAction): boolean => vertices.has(`${a} ${top.id}`);
    // A move or restart stops a copy before starting one (and demotes before promoting): an
    // order between a start and a stop that leads back against that loops on the first move.
    if (has('stop') && has('start')) edges.push({ from: v(top.id, 'stop'), to: v(top.id, 'start'), tag: undefined });
    if (top.kind !== 'promotable') continue;
    if (has('start') || has('promote')) edges.push({ from: v(top.id, 'start'), to: v(top.id, 'promote'), tag: undefined });
    if (has('demote') || has('stop')) edges.push({ from: v(top.id, 'demote'), to: v(top.id, 'stop'), tag: undefined });
    if (has('demote') && has('promote')) edges.push({ from: v(top.id, 'demote'), to: v(top.id, 'promote'), tag: undefined });
  }
  const cycles = findCycles([...vertices], edges);
  // A loop of symmetrical orders shows up twice, once among starts and once among stops: report
  // each set of constraints once, preferring the start (or promote) side.
  const stopish = (c: (typeof cycles)[number]): number => c.vertices.filter((x) => x.startsWith('stop ') || x.startsWith('demote ')).length;
  cycles.sort((a, b) => stopish(a) - stopish(b));
  const reported = new Set<string>();
  for (const cycle of cycles) {
    const tags = [...new Set(cycle.tags.filter((t): t is number => t !== undefined))].sort((a, b) => a - b);
    const key = tags.join(',');
    if (tags.length === 0 || reported.has(key)) continue;
    reported.add(key);
    const allStarts = cycle.vertices.every((x) => x.startsWith('start '));
    const text = cycle.vertices.map((x) => (allStarts ? x.slice('start '.length) : x)).join(' → ');
    const ids = tags.map((t) => `"${constraints[t]?.id ?? '?'}"`).join(', ');
    problems.push({
      path: ['constraints', tags[tags.length - 1] as number],
      message: `order cycle: ${text}`,
      hint: `orders ${ids} form a loop, so none of these can ever happen; remove or reverse one of them`,
    });
  }
}

/** The scheduler places the resource a colocation names after the one it is placed `with`: no loops. */
function checkColocationCycles(constraints: Config['constraints'] & {}, index: Index, problems: Problem[]): void {
  const edges: Edge<number>[] = [];
  const vertices = new Set<string>();
  constraints.forEach((c, i) => {
    if (c.type !== 'colocation' || c.resource === c.with) return;
    if (!index.tops.has(c.resource) || !index.tops.has(c.with)) return;
    vertices.add(c.resource);
    vertices.add(c.with);
    edges.push({ from: c.resource, to: c.with, tag: i });
  });
  for (const cycle of findCycles([...vertices], edges)) {
    const tags = [...new Set(cycle.tags.filter((t): t is number => t !== undefined))].sort((a, b) => a - b);
    const ids = tags.map((t) => `"${constraints[t]?.id ?? '?'}"`).join(', ');
    problems.push({
      path: ['constraints', tags[tags.length - 1] as number],
      message: `colocation cycle: ${cycle.vertices.join(' → ')} (each placed with the next)`,
      hint: `colocations ${ids} form a loop, so no resource of it can be placed first; remove one, or reverse it`,
    });
  }
}

/** A pair that must be together (+INFINITY) and must be apart (-INFINITY) at once. */
function checkColocationConflicts(constraints: Config['constraints'] & {}, index: Index, problems: Problem[]): void {
  const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
  const must = new Map<string, number>();
  const mustNot = new Map<string, number>();
  constraints.forEach((c, i) => {
    if (c.type !== 'colocation' || c.resource === c.with) return;
    if (!index.tops.has(c.resource) || !index.tops.has(c.with)) return;
    // Roles make a pair different: "promoted db with vip" and "unpromoted db apart from vip" agree.
    const key = `${pairKey(c.resource, c.with)}\u0000${c.role ?? ''}\u0000${c.withRole ?? ''}`;
    const mine = c.score >= INFINITY ? must : c.score <= -INFINITY ? mustNot : undefined;
    const other = c.score >= INFINITY ? mustNot : c.score <= -INFINITY ? must : undefined;
    if (mine === undefined || other === undefined) return;
    const clash = other.get(key);
    if (clash !== undefined) {
      const o = constraints[clash] as Colocation;
      problems.push({
        path: ['constraints', i, 'score'],
        message: `colocation "${c.id}" (${formatScore(c.score)}) contradicts colocation "${o.id}" (${formatScore(o.score)}): "${c.resource}" and "${c.with}" cannot be both together and apart`,
        hint: 'remove one of the two',
        related: { path: ['constraints', clash], label: `"${o.id}"` },
      });
    }
    if (!mine.has(key)) mine.set(key, i);
  });
}

/**
 * Resources that can run nowhere although they should run: every node banned by -INFINITY
 * locations (by node or by a rule matching the node's attributes), nothing allowing them in an
 * opt-in cluster, or required on two nodes at once.
 */
function checkPlacementPossible(config: Config, index: Index, problems: Problem[]): void {
  const constraints = config.constraints ?? [];
  const nodes = config.nodes;
  const symmetric = config.cluster.symmetric ?? DEFAULTS.symmetric;
  for (const top of index.tops.values()) {
    const locations: { c: Location; i: number }[] = [];
    constraints.forEach((c, i) => {
      if (c.type === 'location' && c.resource === top.id && (c.role === undefined || c.role === 'started')) locations.push({ c, i });
    });

    // +INFINITY to two nodes, or +INFINITY and -INFINITY to one node.
    if (top.kind === 'primitive' || top.kind === 'group') {
      let required: { node: string; i: number; id: string } | undefined;
      for (const { c, i } of locations) {
        if (c.node === undefined || c.score === undefined || c.score < INFINITY) continue;
        if (required === undefined) required = { node: c.node, i, id: c.id };
        else if (required.node !== c.node) {
          problems.push({
            path: ['constraints', i, 'node'],
            message: `location "${c.id}" requires ${top.kind} "${top.id}" on node "${c.node}", but location "${required.id}" requires it on "${required.node}"`,
            hint: `a ${top.kind} runs on one node; lower one score below INFINITY to make it a preference`,
            related: { path: ['constraints', required.i], label: `"${required.id}"` },
          });
        }
      }
    }
    const banned = new Map<string, string>();
    const allowed = new Set<string>();
    for (const { c } of locations) {
      if (c.node !== undefined && c.score !== undefined) {
        if (c.score <= -INFINITY) banned.set(c.node, banned.get(c.node) ?? `"${c.id}"`);
        else allowed.add(c.node);
      }
      for (const rule of c.rules ?? []) {
        for (const n of nodes) {
          if (!ruleMatches(rule, n.name, n.attributes)) continue;
          if (rule.score <= -INFINITY) banned.set(n.name, banned.get(n.name) ?? `"${c.id}" (rule)`);
          else allowed.add(n.name);
        }
      }
    }
    for (const { c, i } of locations) {
      if (c.node === undefined || c.score === undefined || c.score < INFINITY) continue;
      const by = banned.get(c.node);
      if (by !== undefined) {
        problems.push({
          path: ['constraints', i, 'node'],
          message: `location "${c.id}" requires "${top.id}" on node "${c.node}", which ${by} bans`,
          hint: '-INFINITY wins over INFINITY, so the requirement can never be met; remove one of them',
        });
      }
    }
    if ((top.def.targetRole ?? 'started') === 'stopped') continue;
    const eligible = nodes.filter((n) => !banned.has(n.name) && (symmetric || allowed.has(n.name)));
    if (eligible.length > 0 || nodes.length === 0) continue;
    const bans = [...new Set(banned.values())];
    const why = symmetric
      ? `every node is banned (by ${bans.join(', ')})`
      : `the cluster is opt-in (symmetric: false) and no location allows it on a node${bans.length > 0 ? ` that ${bans.join(', ')} leaves` : ''}`;
    problems.push({
      path: [...top.path, 'id'],
      message: `${top.kind} "${top.id}" can run on no node: ${why}`,
      hint: 'fix the locations, or set targetRole: stopped if it should stay stopped',
    });
  }
}
