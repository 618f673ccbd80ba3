// Haven config (and optionally a status snapshot) → a Pacemaker 2.1 CIB, as XML text.
//
// Pure: the same input gives the same bytes. The CIB validates against pacemaker-3.9 (the
// newest schema of Debian 12's Pacemaker 2.1.5), so `crm_verify` and `crm_simulate` read it,
// and Pacemaker's scheduler can be asked what it would do with the same snapshot Haven plans
// from. With a status, the <status> section carries node membership, transient attributes
// (fail counts, promotion scores, standby) and a resource history shaped like the one the
// controller writes, from which Pacemaker reconstructs the same copy states.
//
// Mapping decisions are listed in docs/pacemaker.md; the ones worth knowing here:
// - Durations are written in whole seconds ("10s") or milliseconds ("500ms"), which every
//   Pacemaker version reads; Haven's "1d" would not be.
// - Haven's own agent kinds are marked with the meta attribute haven-agent (see agents.ts).
// - A resource-level onFail has no Pacemaker twin (on-fail is per operation): it is written on
//   every operation of the resource that sets none, and kept in the meta attribute
//   haven-on-fail so that it reads back as it was.

import type {
  Colocation,
  Config,
  Location,
  NodeConfig,
  OnFail,
  Order,
  Primitive,
  Resource,
  Rule,
  Group,
} from '../model/config.js';
import { DEFAULTS } from '../model/config.js';
import type { CopyStatus, Failure, NodeStatus, Status } from '../model/status.js';
import { formatScore } from '../model/units.js';
import { agentToCib, type CibAgent } from './agents.js';
import {
  CIB_SCHEMA,
  CRM_FEATURE_SET,
  FENCED_ORIGIN,
  HAVEN_AGENT_META,
  HAVEN_ON_FAIL_META,
  HISTORY_UUID,
  RC,
  monitorsFor,
  attrToCib,
  cibDuration,
  operationDigest,
  roleToCib,
  targetRoleToCib,
  xmlIdPart,
  type Unconverted,
} from './pacemaker.js';
import { el, printXml, type XmlElement } from './xml.js';

export interface CibDocument {
  /** The CIB as XML text, ending in a newline. */
  readonly xml: string;
  /** What the config or status says that a CIB cannot (heartbeat rings, a fence under way, …). */
  readonly unconverted: readonly Unconverted[];
}

/** Writes `config`, and `status` when given, as a Pacemaker CIB. */
export function toCib(config: Config, status?: Status): CibDocument {
  return new CibWriter(config, status).write();
}

/** toCib's XML alone. */
export function toCibXml(config: Config, status?: Status): string {
  return toCib(config, status).xml;
}

/** Everything the writer needs to know about one primitive, wherever it sits. */
interface PrimitiveInfo {
  readonly def: Primitive;
  readonly agent: CibAgent;
  /** The onFail the primitive's operations inherit: its own, else its group's, else its clone's. */
  readonly onFail: OnFail | undefined;
  readonly cloned: boolean;
  readonly promotable: boolean;
}

type PolicyHolder = Pick<
  Primitive,
  'stickiness' | 'migrationThreshold' | 'failureTimeout' | 'onFail' | 'requires' | 'targetRole' | 'managed' | 'priority'
>;

type Pair = readonly [name: string, value: string];

class CibWriter {
  private readonly used = new Set<string>();
  private readonly notes: Unconverted[] = [];
  private readonly primitives = new Map<string, PrimitiveInfo>();
  /** Node name → CIB node id. */
  private readonly nodeIds = new Map<string, string>();

  constructor(
    private readonly config: Config,
    private readonly status: Status | undefined,
  ) {}

  write(): CibDocument {
    this.reserveIds();
    const configuration = el('configuration', {}, [
      this.crmConfig(),
      this.defaults('rsc_defaults', 'rsc-options', this.rscDefaults()),
      this.defaults('op_defaults', 'op-options', this.opDefaults()),
      el('nodes', {}, this.config.nodes.map((n, i) => this.node(n, i))),
      el('resources', {}, (this.config.resources ?? []).map((r, i) => this.resource(r, undefined, false, false, `resources[${i}]`))),
      el('constraints', {}, (this.config.constraints ?? []).flatMap((c, i) => this.constraint(c, `constraints[${i}]`))),
    ]);
    const status = this.status === undefined ? el('status') : this.statusSection(this.status);
    const root = el(
      'cib',
      {
        crm_feature_set: CRM_FEATURE_SET,
        'validate-with': CIB_SCHEMA,
        epoch: 1,
        num_updates: 0,
        admin_epoch: 0,
        'have-quorum': this.status === undefined ? undefined : (this.status.quorum ?? true) ? 1 : 0,
        'dc-uuid': this.dcUuid(),
        'execution-date': this.status?.time === undefined ? undefined : Math.floor(this.status.time / 1000),
      },
      [configuration, status],
    );
    return { xml: printXml(root), unconverted: this.notes };
  }

  // --- ids -------------------------------------------------------------------------------

  /** Haven's own ids keep their spelling; generated ids step around them. */
  private reserveIds(): void {
    if ((this.config.rings ?? []).length > 0) {
      this.note('rings', 'heartbeat rings', 'rings are corosync configuration (totem interfaces in corosync.conf), not part of the CIB');
    }
    const walk = (r: Resource | Primitive | Group, path: string): void => {
      this.used.add(r.id);
      if (!/^[A-Za-z_]/.test(r.id)) {
        this.note(`${path}.id`, `resource id "${r.id}"`, 'a CIB id must start with a letter or "_" (it is an XML ID); crm_verify will refuse the CIB until it is renamed');
      }
      if (r.type === 'group') r.members.forEach((m, j) => walk(m, `${path}.members[${j}]`));
      if (r.type === 'clone' || r.type === 'promotable') walk(r.of, `${path}.of`);
    };
    (this.config.resources ?? []).forEach((r, i) => walk(r, `resources[${i}]`));
    (this.config.constraints ?? []).forEach((c) => this.used.add(c.id));
  }

  private id(base: string): string {
    const b = xmlIdPart(base);
    let candidate = b;
    for (let n = 2; this.used.has(candidate); n++) candidate = `${b}-${n}`;
    this.used.add(candidate);
    return candidate;
  }

  private note(path: string, what: string, why: string): void {
    this.notes.push({ path, what, why });
  }

  private nvset(tag: string, id: string, pairs: readonly Pair[]): XmlElement | undefined {
    if (pairs.length === 0) return undefined;
    const setId = this.id(id);
    return el(
      tag,
      { id: setId },
      pairs.map(([name, value]) => el('nvpair', { id: this.id(`${setId}-${name}`), name, value })),
    );
  }

  // --- cluster options -------------------------------------------------------------------

  private crmConfig(): XmlElement {
    const c = this.config.cluster;
    const pairs: Pair[] = [['cluster-name', c.name]];
    if (c.fencing !== undefined) pairs.push(['stonith-enabled', String(c.fencing)]);
    if (c.noQuorumPolicy !== undefined) pairs.push(['no-quorum-policy', c.noQuorumPolicy]);
    if (c.symmetric !== undefined) pairs.push(['symmetric-cluster', String(c.symmetric)]);
    if (c.placementStrategy !== undefined) pairs.push(['placement-strategy', c.placementStrategy]);
    if (c.stopOrphans !== undefined) pairs.push(['stop-orphan-resources', String(c.stopOrphans)]);
    if (c.maintenance !== undefined) pairs.push(['maintenance-mode', String(c.maintenance)]);
    return el('crm_config', {}, [this.nvset('cluster_property_set', 'cib-bootstrap-options', pairs)]);
  }

  private rscDefaults(): Pair[] {
    const d = this.config.cluster.defaults;
    const pairs: Pair[] = [];
    if (d?.stickiness !== undefined) pairs.push(['resource-stickiness', formatScore(d.stickiness)]);
    if (d?.migrationThreshold !== undefined) pairs.push(['migration-threshold', String(d.migrationThreshold)]);
    if (d?.failureTimeout !== undefined) pairs.push(['failure-timeout', cibDuration(d.failureTimeout)]);
    if (d?.requires !== undefined) pairs.push(['requires', d.requires]);
    return pairs;
  }

  private opDefaults(): Pair[] {
    const d = this.config.cluster.defaults;
    const pairs: Pair[] = [];
    if (d?.operationTimeout !== undefined) pairs.push(['timeout', cibDuration(d.operationTimeout)]);
    if (d?.onFail !== undefined) pairs.push(['on-fail', d.onFail]);
    return pairs;
  }

  private defaults(tag: string, id: string, pairs: Pair[]): XmlElement | undefined {
    const set = this.nvset('meta_attributes', id, pairs);
    return set === undefined ? undefined : el(tag, {}, [set]);
  }

  // --- nodes -----------------------------------------------------------------------------

  private node(n: NodeConfig, i: number): XmlElement {
    const nodeId = String(i + 1);
    this.nodeIds.set(n.name, nodeId);
    if (n.addresses !== undefined && Object.keys(n.addresses).length > 0) {
      this.note(`nodes[${i}].addresses`, `heartbeat addresses of node ${n.name}`, 'ring addresses live in corosync.conf (nodelist ringX_addr), not in the CIB');
    }
    const attrs: Pair[] = Object.entries(n.attributes ?? {}).map(([k, v]) => [k, attrToCib(v)]);
    if (n.standby !== undefined) attrs.push(['standby', n.standby ? 'on' : 'off']);
    if (n.maintenance !== undefined) attrs.push(['maintenance', n.maintenance ? 'on' : 'off']);
    const capacity: Pair[] = Object.entries(n.capacity ?? {}).map(([k, v]) => [k, String(v)]);
    return el('node', { id: nodeId, uname: n.name, type: 'member' }, [
      this.nvset('instance_attributes', `nodes-${nodeId}`, attrs),
      this.nvset('utilization', `nodes-${nodeId}-utilization`, capacity),
    ]);
  }

  // --- resources -------------------------------------------------------------------------

  private policyMeta(r: PolicyHolder): Pair[] {
    const pairs: Pair[] = [];
    if (r.targetRole !== undefined) pairs.push(['target-role', targetRoleToCib(r.targetRole)]);
    if (r.managed !== undefined) pairs.push(['is-managed', String(r.managed)]);
    if (r.stickiness !== undefined) pairs.push(['resource-stickiness', formatScore(r.stickiness)]);
    if (r.migrationThreshold !== undefined) pairs.push(['migration-threshold', String(r.migrationThreshold)]);
    if (r.failureTimeout !== undefined) pairs.push(['failure-timeout', cibDuration(r.failureTimeout)]);
    if (r.requires !== undefined) pairs.push(['requires', r.requires]);
    if (r.priority !== undefined) pairs.push(['priority', String(r.priority)]);
    if (r.onFail !== undefined) pairs.push([HAVEN_ON_FAIL_META, r.onFail]);
    return pairs;
  }

  private resource(r: Resource | Primitive | Group, inherited: OnFail | undefined, cloned: boolean, promotable: boolean, path: string): XmlElement {
    switch (r.type) {
      case 'primitive':
        return this.primitive(r, r.onFail ?? inherited, cloned, promotable);
      case 'group':
        return el('group', { id: r.id, description: r.description }, [
          this.nvset('meta_attributes', `${r.id}-meta_attributes`, this.policyMeta(r)),
          ...r.members.map((m, j) => this.resource(m, r.onFail ?? inherited, cloned, promotable, `${path}.members[${j}]`)),
        ]);
      case 'clone': {
        const meta = [...this.cloneMeta(r), ...this.policyMeta(r)];
        return el('clone', { id: r.id, description: r.description }, [
          this.nvset('meta_attributes', `${r.id}-meta_attributes`, meta),
          this.resource(r.of, r.onFail ?? inherited, true, false, `${path}.of`),
        ]);
      }
      case 'promotable': {
        const meta: Pair[] = [['promotable', 'true'], ...this.cloneMeta(r)];
        if (r.promotedMax !== undefined) meta.push(['promoted-max', String(r.promotedMax)]);
        if (r.promotedMaxPerNode !== undefined) meta.push(['promoted-node-max', String(r.promotedMaxPerNode)]);
        meta.push(...this.policyMeta(r));
        return el('clone', { id: r.id, description: r.description }, [
          this.nvset('meta_attributes', `${r.id}-meta_attributes`, meta),
          this.resource(r.of, r.onFail ?? inherited, true, true, `${path}.of`),
        ]);
      }
      default: {
        const never: never = r;
        throw new Error(`unknown resource ${JSON.stringify(never)}`);
      }
    }
  }

  private cloneMeta(r: { maxCopies?: number | undefined; maxPerNode?: number | undefined; interleave?: boolean | undefined }): Pair[] {
    const pairs: Pair[] = [];
    if (r.maxCopies !== undefined) pairs.push(['clone-max', String(r.maxCopies)]);
    if (r.maxPerNode !== undefined) pairs.push(['clone-node-max', String(r.maxPerNode)]);
    if (r.interleave !== undefined) pairs.push(['interleave', String(r.interleave)]);
    return pairs;
  }

  private primitive(p: Primitive, onFail: OnFail | undefined, cloned: boolean, promotable: boolean): XmlElement {
    const agent = agentToCib(p.agent, p.params);
    this.primitives.set(p.id, { def: p, agent, onFail, cloned, promotable });
    const meta = this.policyMeta(p);
    if (agent.kind !== undefined) meta.unshift([HAVEN_AGENT_META, agent.kind]);
    const ops = (p.operations ?? []).map((op) =>
      el('op', {
        id: this.id(`${p.id}-${op.name}-interval-${cibDuration(op.interval ?? 0)}`),
        name: op.name,
        interval: cibDuration(op.interval ?? 0),
        timeout: op.timeout === undefined ? undefined : cibDuration(op.timeout),
        role: op.role === undefined ? undefined : roleToCib(op.role),
        'on-fail': op.onFail ?? onFail,
      }),
    );
    return el('primitive', { id: p.id, class: agent.class, provider: agent.provider, type: agent.type, description: p.description }, [
      this.nvset('instance_attributes', `${p.id}-instance_attributes`, Object.entries(agent.params)),
      this.nvset('meta_attributes', `${p.id}-meta_attributes`, meta),
      ops.length > 0 ? el('operations', {}, ops) : undefined,
      this.nvset('utilization', `${p.id}-utilization`, Object.entries(p.utilization ?? {}).map(([k, v]) => [k, String(v)])),
    ]);
  }

  // --- constraints -----------------------------------------------------------------------

  private constraint(c: Location | Colocation | Order, path: string): XmlElement[] {
    switch (c.type) {
      case 'location':
        return this.location(c, path);
      case 'colocation':
        return [
          el('rsc_colocation', {
            id: c.id,
            score: formatScore(c.score),
            rsc: c.resource,
            'with-rsc': c.with,
            'rsc-role': c.role === undefined ? undefined : roleToCib(c.role),
            'with-rsc-role': c.withRole === undefined ? undefined : roleToCib(c.withRole),
          }),
        ];
      case 'order':
        return [
          el('rsc_order', {
            id: c.id,
            first: c.first,
            'first-action': c.firstAction,
            then: c.then,
            'then-action': c.thenAction,
            kind: c.kind === undefined ? undefined : c.kind[0]?.toUpperCase() + c.kind.slice(1),
            symmetrical: c.symmetrical === undefined ? undefined : String(c.symmetrical),
          }),
        ];
      default: {
        const never: never = c;
        throw new Error(`unknown constraint ${JSON.stringify(never)}`);
      }
    }
  }

  private location(c: Location, path: string): XmlElement[] {
    const base = { id: c.id, rsc: c.resource, role: c.role === undefined ? undefined : roleToCib(c.role) };
    if (c.rules !== undefined && c.rules.length > 0) {
      if (c.node !== undefined || c.score !== undefined) {
        this.note(path, `node/score of location ${c.id}`, 'a CIB location takes either node with score or rules; the rules were written');
      }
      return [el('rsc_location', base, c.rules.map((rule, i) => this.rule(rule, `${c.id}-rule${i === 0 ? '' : `-${i}`}`)))];
    }
    if (c.node === undefined) {
      this.note(path, `location ${c.id}`, 'it names neither a node nor rules, so it says nothing a CIB can hold');
      return [];
    }
    if (c.score === undefined) this.note(`${path}.score`, `score of location ${c.id}`, 'a CIB location needs a score; INFINITY was written');
    return [el('rsc_location', { ...base, score: formatScore(c.score ?? Number.POSITIVE_INFINITY), node: c.node })];
  }

  private rule(rule: Rule, idBase: string): XmlElement {
    const ruleId = this.id(idBase);
    return el(
      'rule',
      { id: ruleId, score: formatScore(rule.score), 'boolean-op': rule.match === undefined ? undefined : rule.match === 'all' ? 'and' : 'or' },
      rule.expressions.map((e) =>
        el('expression', {
          id: this.id(`${ruleId}-expr`),
          attribute: e.attribute,
          operation: e.op === 'not-defined' ? 'not_defined' : e.op,
          value: e.value === undefined ? undefined : attrToCib(e.value),
          type: typeof e.value === 'number' ? 'number' : undefined,
        }),
      ),
    );
  }

  // --- status ----------------------------------------------------------------------------

  private dcUuid(): string | undefined {
    if (this.status === undefined) return undefined;
    for (const n of this.config.nodes) if (this.status.nodes[n.name]?.state === 'online') return String(this.config.nodes.indexOf(n) + 1);
    return undefined;
  }

  private statusSection(status: Status): XmlElement {
    const configured = new Set(this.config.nodes.map((n) => n.name));
    for (const name of Object.keys(status.nodes)) {
      if (!configured.has(name)) this.note(`status.nodes.${name}`, `status of node ${name}`, 'the node is not in the configuration, and a CIB keeps status only for its nodes');
    }
    for (const [rsc, copies] of Object.entries(status.resources ?? {})) {
      const base = rsc.replace(/:\d+$/, '');
      if (this.primitives.has(base)) {
        for (const node of Object.keys(copies)) {
          if (!configured.has(node)) this.note(`status.resources.${rsc}.${node}`, `copy of ${rsc} on ${node}`, 'the node is not in the configuration');
        }
        continue;
      }
      this.note(`status.resources.${rsc}`, `copies of ${rsc}`, 'it is not a configured primitive; a CIB history entry needs the resource agent, so orphans are left out');
    }
    (status.failures ?? []).forEach((f, i) => {
      if (!this.primitives.has(f.resource.replace(/:\d+$/, ''))) {
        this.note(`status.failures[${i}]`, `failure of ${f.resource} on ${f.node}`, 'it is not a configured primitive');
      }
    });
    const states: XmlElement[] = [];
    for (const n of this.config.nodes) {
      const ns = status.nodes[n.name];
      if (ns !== undefined) states.push(this.nodeState(n.name, ns, status));
    }
    return el('status', {}, states);
  }

  private nodeState(name: string, ns: NodeStatus, status: Status): XmlElement {
    const nodeId = this.nodeIds.get(name) as string;
    if (ns.fencing === true) {
      this.note(`status.nodes.${name}.fencing`, `fence of ${name} under way`, 'the CIB has no record of a fence in progress; the fencer keeps that');
    }
    const membership = ((): Record<string, string> => {
      switch (ns.state) {
        case 'online':
          return { in_ccm: 'true', crmd: 'online', join: 'member', expected: 'member' };
        case 'offline':
          return { in_ccm: 'false', crmd: 'offline', join: 'down', expected: 'down' };
        case 'unclean':
          // Left the membership while expected to stay: Pacemaker must fence it.
          return { in_ccm: 'false', crmd: 'offline', join: 'down', expected: 'member' };
        case 'fenced':
          return { in_ccm: 'false', crmd: 'offline', join: 'down', expected: 'down', 'crm-debug-origin': FENCED_ORIGIN };
        default: {
          const never: never = ns.state;
          throw new Error(`unknown node state ${String(never)}`);
        }
      }
    })();
    const history = new NodeHistory(name, Math.floor((status.time ?? 0) / 1000));
    const transient: Pair[] = [];
    if (ns.standby !== undefined) transient.push(['standby', ns.standby ? 'on' : 'off']);
    if (ns.maintenance !== undefined) transient.push(['maintenance', ns.maintenance ? 'on' : 'off']);
    const failuresHere = (status.failures ?? []).filter((f) => f.node === name);
    const lrmResources: XmlElement[] = [];
    const probeMissing = (ns.state === 'online' || ns.state === 'unclean') && ns.probed !== false;

    for (const info of this.primitives.values()) {
      const keys = Object.keys(status.resources ?? {}).filter(
        (k) => k === info.def.id || (info.cloned && k.startsWith(`${info.def.id}:`) && /^\d+$/.test(k.slice(info.def.id.length + 1))),
      );
      const present = keys.filter((k) => status.resources?.[k]?.[name] !== undefined);
      if (!present.includes(info.def.id) && probeMissing) present.unshift(info.def.id);
      for (const key of present) {
        const copy: CopyStatus = status.resources?.[key]?.[name] ?? { state: 'stopped' };
        const failure = latestFailure(failuresHere.filter((f) => f.resource === key));
        const ops = history.copy(key, info, copy, failure, this.config);
        if (copy.promotionScore !== undefined) transient.push([`master-${key}`, String(copy.promotionScore)]);
        if (ops.length === 0) continue;
        lrmResources.push(el('lrm_resource', { id: key, class: info.agent.class, provider: info.agent.provider, type: info.agent.type }, ops));
      }
    }
    for (const f of failuresHere) {
      const info = this.primitives.get(f.resource.replace(/:\d+$/, ''));
      if (info === undefined) continue;
      const copy = status.resources?.[f.resource]?.[name];
      const op = f.operation ?? 'monitor';
      const interval = op === 'monitor' ? failedMonitorInterval(info, copy?.promoted === true || copy?.state === 'promoted') : 0;
      const key = `${f.resource}#${op}_${interval}`;
      transient.push([`fail-count-${key}`, String(f.count)], [`last-failure-${key}`, String(Math.floor(f.last / 1000))]);
    }

    const children: XmlElement[] = [];
    if (transient.length > 0) {
      children.push(
        el('transient_attributes', { id: nodeId }, [
          el(
            'instance_attributes',
            { id: `status-${nodeId}` },
            transient.map(([k, v]) => el('nvpair', { id: `status-${nodeId}-${xmlIdPart(k).replace(/^_/, '')}`, name: k, value: v })),
          ),
        ]),
      );
    }
    children.push(el('lrm', { id: nodeId }, [el('lrm_resources', {}, lrmResources)]));
    return el('node_state', { id: nodeId, uname: name, ...membership }, children);
  }
}

function latestFailure(failures: readonly Failure[]): Failure | undefined {
  let best: Failure | undefined;
  for (const f of failures) if (best === undefined || f.last > best.last) best = f;
  return best;
}

/** The monitor a failed monitor is recorded against: the first that runs in the copy's role. */
function failedMonitorInterval(info: PrimitiveInfo, promoted: boolean): number {
  const ops = info.def.operations ?? [];
  const op = monitorsFor(ops, info.promotable, promoted ? 'promoted' : 'started')[0] ?? ops.find((o) => o.name === 'monitor' && (o.interval ?? 0) > 0);
  return op?.interval ?? 0;
}

/**
 * The resource history of one node, as the controller records it: per resource the last
 * non-recurring operation (`<rsc>_last_0`), the last failure (`<rsc>_last_failure_0`) and one
 * entry per recurring monitor (`<rsc>_monitor_<ms>`), with call ids in execution order.
 */
class NodeHistory {
  private callId = 0;

  constructor(
    private readonly node: string,
    private readonly time: number,
  ) {}

  copy(key: string, info: PrimitiveInfo, copy: CopyStatus, failure: Failure | undefined, config: Config): XmlElement[] {
    const startDigest = operationDigest(info.agent.params);
    const defaultTimeout = config.cluster.defaults?.operationTimeout ?? DEFAULTS.operationTimeout;
    const monitorDigest = (interval: number): string => {
      const op = (info.def.operations ?? []).find((o) => o.name === 'monitor' && o.interval === interval);
      return operationDigest(info.agent.params, op?.timeout ?? defaultTimeout);
    };
    const out: XmlElement[] = [];
    const record = (
      id: string,
      operation: string,
      interval: number,
      rc: number,
      target: number,
      opts: { at?: number; call?: number; digest?: string | null } = {},
    ): number => {
      const call = opts.call ?? ++this.callId;
      const transitionKey = `${call}:0:${target}:${HISTORY_UUID}`;
      out.push(
        el('lrm_rsc_op', {
          id: `${key}_${id}`,
          operation_key: `${key}_${operation}_${interval}`,
          operation,
          'crm-debug-origin': 'haven',
          crm_feature_set: CRM_FEATURE_SET,
          'transition-key': transitionKey,
          'transition-magic': `0:${rc};${transitionKey}`,
          'exit-reason': '',
          on_node: this.node,
          'call-id': call,
          'rc-code': rc,
          'op-status': 0,
          interval,
          'last-rc-change': opts.at ?? this.time,
          'exec-time': 0,
          'queue-time': 0,
          'op-digest': opts.digest === null ? undefined : (opts.digest ?? (interval > 0 ? monitorDigest(interval) : startDigest)),
        }),
      );
      return call;
    };
    const failedAt = failure === undefined ? this.time : Math.floor(failure.last / 1000);
    const promotedNow = copy.state === 'promoted';
    const monitors = (state: 'started' | 'promoted'): number[] =>
      copy.monitors ?? monitorsFor(info.def.operations, info.promotable, state).map((o) => o.interval as number);

    /** A past failure, recorded before what happened since. */
    const pastFailure = (): void => {
      if (failure === undefined) return;
      const op = failure.operation ?? 'monitor';
      const interval = op === 'monitor' ? failedMonitorInterval(info, promotedNow) : 0;
      record('last_failure_0', op, interval, RC.error, 0, { at: failedAt, digest: null });
    };

    switch (copy.state) {
      case 'unknown':
        break;
      case 'stopped':
        if (failure !== undefined) {
          pastFailure();
          record('last_0', 'stop', 0, RC.ok, RC.ok);
        } else {
          record('last_0', 'monitor', 0, RC.notRunning, RC.notRunning);
        }
        break;
      case 'started':
      case 'promoted': {
        pastFailure();
        const promoted = copy.state === 'promoted';
        record('last_0', promoted ? 'promote' : 'start', 0, RC.ok, RC.ok);
        const rc = promoted ? RC.runningPromoted : RC.ok;
        for (const interval of monitors(copy.state)) record(`monitor_${interval}`, 'monitor', interval, rc, rc);
        break;
      }
      case 'failed': {
        const op = failure?.operation ?? 'monitor';
        const wasPromoted = copy.promoted === true || op === 'demote';
        if (op === 'monitor') {
          record('last_0', wasPromoted ? 'promote' : 'start', 0, RC.ok, RC.ok);
          const interval = failedMonitorInterval(info, wasPromoted);
          const target = wasPromoted ? RC.runningPromoted : RC.ok;
          const rc = wasPromoted ? RC.failedPromoted : RC.error;
          const call = record(interval > 0 ? `monitor_${interval}` : 'last_failure_0', 'monitor', interval, rc, target, { at: failedAt });
          if (interval > 0) record('last_failure_0', 'monitor', interval, rc, target, { at: failedAt, call, digest: null });
        } else {
          const call = record('last_0', op, 0, RC.error, RC.ok, { at: failedAt });
          record('last_failure_0', op, 0, RC.error, RC.ok, { at: failedAt, call, digest: null });
        }
        break;
      }
      default: {
        const never: never = copy.state;
        throw new Error(`unknown copy state ${String(never)}`);
      }
    }
    return out;
  }
}
