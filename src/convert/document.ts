// A parsed Config or Status back into the shape a Haven YAML file has: durations with units
// ("10s"), scores as integers or "INFINITY"/"-INFINITY", times as ISO 8601, copies that are
// only a state written as that state. Parsing the result gives the same Config or Status.
//
// Keys come out in the order a person writes them (type and id first), so converted files
// read like hand-written ones.

import type {
  ClusterPolicy,
  Config,
  Constraint,
  Expression,
  Group,
  NodeConfig,
  Operation,
  Primitive,
  Resource,
  Rule,
} from '../model/config.js';
import type { CopyStatus, Failure, NodeStatus, Status } from '../model/status.js';
import { formatDuration, formatScore, INFINITY } from '../model/units.js';

type Doc = Record<string, unknown>;

/** Keeps the keys whose value is defined, in the order given. */
function doc(entries: ReadonlyArray<readonly [string, unknown]>): Doc {
  const out: Doc = {};
  for (const [k, v] of entries) if (v !== undefined) out[k] = v;
  return out;
}

const dur = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : formatDuration(ms));

/** A score as a file spells it: ±INFINITY as text, anything else as an integer. */
function score(s: number | undefined): number | string | undefined {
  if (s === undefined) return undefined;
  return s >= INFINITY || s <= -INFINITY ? formatScore(s) : s;
}

type PolicyFields = Pick<
  Primitive,
  'description' | 'stickiness' | 'migrationThreshold' | 'failureTimeout' | 'onFail' | 'requires' | 'targetRole' | 'managed' | 'priority'
>;

function policy(r: PolicyFields): Array<readonly [string, unknown]> {
  return [
    ['stickiness', score(r.stickiness)],
    ['migrationThreshold', r.migrationThreshold],
    ['failureTimeout', dur(r.failureTimeout)],
    ['onFail', r.onFail],
    ['requires', r.requires],
    ['targetRole', r.targetRole],
    ['managed', r.managed],
    ['priority', r.priority],
  ];
}

function operation(o: Operation): Doc {
  return doc([
    ['name', o.name],
    ['interval', dur(o.interval)],
    ['timeout', dur(o.timeout)],
    ['role', o.role],
    ['onFail', o.onFail],
  ]);
}

function primitive(p: Primitive): Doc {
  return doc([
    ['type', 'primitive'],
    ['id', p.id],
    ['description', p.description],
    ['agent', p.agent],
    ['params', p.params],
    ['operations', p.operations?.map(operation)],
    ['utilization', p.utilization],
    ...policy(p),
  ]);
}

function group(g: Group): Doc {
  return doc([['type', 'group'], ['id', g.id], ['description', g.description], ...policy(g), ['members', g.members.map(primitive)]]);
}

function resource(r: Resource): Doc {
  switch (r.type) {
    case 'primitive':
      return primitive(r);
    case 'group':
      return group(r);
    case 'clone':
      return doc([
        ['type', 'clone'],
        ['id', r.id],
        ['description', r.description],
        ['maxCopies', r.maxCopies],
        ['maxPerNode', r.maxPerNode],
        ['interleave', r.interleave],
        ...policy(r),
        ['of', r.of.type === 'group' ? group(r.of) : primitive(r.of)],
      ]);
    case 'promotable':
      return doc([
        ['type', 'promotable'],
        ['id', r.id],
        ['description', r.description],
        ['maxCopies', r.maxCopies],
        ['maxPerNode', r.maxPerNode],
        ['promotedMax', r.promotedMax],
        ['promotedMaxPerNode', r.promotedMaxPerNode],
        ['interleave', r.interleave],
        ...policy(r),
        ['of', primitive(r.of)],
      ]);
    default: {
      const never: never = r;
      throw new Error(`unknown resource ${JSON.stringify(never)}`);
    }
  }
}

function expression(e: Expression): Doc {
  return doc([
    ['attribute', e.attribute],
    ['op', e.op],
    ['value', e.value],
  ]);
}

function rule(r: Rule): Doc {
  return doc([
    ['score', score(r.score)],
    ['match', r.match],
    ['expressions', r.expressions.map(expression)],
  ]);
}

function constraint(c: Constraint): Doc {
  switch (c.type) {
    case 'location':
      return doc([
        ['type', 'location'],
        ['id', c.id],
        ['resource', c.resource],
        ['role', c.role],
        ['node', c.node],
        ['score', score(c.score)],
        ['rules', c.rules?.map(rule)],
      ]);
    case 'colocation':
      return doc([
        ['type', 'colocation'],
        ['id', c.id],
        ['resource', c.resource],
        ['role', c.role],
        ['with', c.with],
        ['withRole', c.withRole],
        ['score', score(c.score)],
      ]);
    case 'order':
      return doc([
        ['type', 'order'],
        ['id', c.id],
        ['first', c.first],
        ['firstAction', c.firstAction],
        ['then', c.then],
        ['thenAction', c.thenAction],
        ['kind', c.kind],
        ['symmetrical', c.symmetrical],
      ]);
    default: {
      const never: never = c;
      throw new Error(`unknown constraint ${JSON.stringify(never)}`);
    }
  }
}

function cluster(c: ClusterPolicy): Doc {
  const d = c.defaults;
  return doc([
    ['name', c.name],
    ['fencing', c.fencing],
    ['noQuorumPolicy', c.noQuorumPolicy],
    ['symmetric', c.symmetric],
    ['placementStrategy', c.placementStrategy],
    ['stopOrphans', c.stopOrphans],
    ['maintenance', c.maintenance],
    [
      'defaults',
      d === undefined
        ? undefined
        : doc([
            ['stickiness', score(d.stickiness)],
            ['migrationThreshold', d.migrationThreshold],
            ['failureTimeout', dur(d.failureTimeout)],
            ['onFail', d.onFail],
            ['requires', d.requires],
            ['operationTimeout', dur(d.operationTimeout)],
          ]),
    ],
  ]);
}

function node(n: NodeConfig): Doc {
  return doc([
    ['name', n.name],
    ['addresses', n.addresses],
    ['attributes', n.attributes],
    ['capacity', n.capacity],
    ['standby', n.standby],
    ['maintenance', n.maintenance],
  ]);
}

/** A Config as a YAML-ready document that parses back to the same Config. */
export function configToDocument(config: Config): Doc {
  return doc([
    ['cluster', cluster(config.cluster)],
    ['rings', config.rings],
    ['nodes', config.nodes.map(node)],
    ['resources', config.resources?.map(resource)],
    ['constraints', config.constraints?.map(constraint)],
  ]);
}

const iso = (ms: number): string => new Date(ms).toISOString();

function copy(c: CopyStatus): unknown {
  if (Object.keys(c).length === 1) return c.state;
  return doc([
    ['state', c.state],
    ['promotionScore', c.promotionScore],
    ['promoted', c.promoted],
    ['monitors', c.monitors?.map(formatDuration)],
  ]);
}

function nodeStatus(n: NodeStatus): Doc {
  return doc([
    ['state', n.state],
    ['standby', n.standby],
    ['maintenance', n.maintenance],
    ['fencing', n.fencing],
    ['probed', n.probed],
  ]);
}

function failure(f: Failure): Doc {
  return doc([
    ['resource', f.resource],
    ['node', f.node],
    ['operation', f.operation],
    ['count', f.count],
    ['last', iso(f.last)],
  ]);
}

/** A Status as a YAML-ready document that parses back to the same Status. */
export function statusToDocument(status: Status): Doc {
  return doc([
    ['time', status.time === undefined ? undefined : iso(status.time)],
    ['quorum', status.quorum],
    ['nodes', Object.fromEntries(Object.entries(status.nodes).map(([k, v]) => [k, nodeStatus(v)]))],
    [
      'resources',
      status.resources === undefined
        ? undefined
        : Object.fromEntries(Object.entries(status.resources).map(([r, copies]) => [r, Object.fromEntries(Object.entries(copies).map(([n, c]) => [n, copy(c)]))])),
    ],
    ['failures', status.failures?.map(failure)],
  ]);
}
