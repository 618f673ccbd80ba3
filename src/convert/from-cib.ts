// A Pacemaker CIB (XML text) → a Haven config, the status its <status> section describes, and
// the list of everything Haven could not take over, each with where it is and why.
//
// Pure. Nothing is dropped silently: what Haven cannot represent (fencing devices, bundles,
// date rules, ACLs, …) goes to `unconverted`; what it can represent with the same meaning is
// converted (resource templates are copied into their primitives, resource sets in
// constraints are expanded into pairs). Values Pacemaker itself maintains (dc-version,
// cluster-infrastructure, last-lrm-refresh, have-watchdog, `#`-attributes of the attribute
// manager) are not configuration and are skipped.
//
// Status: node membership from node_state, copy states from the resource history (the last
// operation per resource and node by call id, as Pacemaker reads it), fail counts from the
// transient attributes fail-count-<rsc>#<op>_<interval-ms>, promotion scores from master-<rsc>.

import {
  ACTIONS,
  DEFAULTS,
  NO_QUORUM_POLICIES,
  ON_FAIL,
  REQUIRES,
  type ClusterPolicy,
  type Config,
  type Constraint,
  type Expression,
  type Group,
  type Location,
  type NodeConfig,
  type OnFail,
  type Operation,
  type Order,
  type Primitive,
  type Resource,
  type ResourceAction,
  type Role,
  type Rule,
} from '../model/config.js';
import type { CopyStatus, Failure, NodeStatus, Status } from '../model/status.js';
import { parseScore } from '../model/units.js';
import { agentFromCib } from './agents.js';
import { CibInvalidError } from './errors.js';
import {
  FENCED_ORIGIN,
  HAVEN_AGENT_META,
  HAVEN_ON_FAIL_META,
  RC,
  attrFromCib,
  monitorsFor,
  cibTrue,
  parseCibDuration,
  roleFromCib,
  targetRoleFromCib,
  type Unconverted,
} from './pacemaker.js';
import { childNamed, childrenNamed, parseXml, type XmlElement } from './xml.js';

export interface FromCibResult {
  readonly config: Config;
  /** Present when the CIB has a <status> section with at least one node_state. */
  readonly status?: Status;
  readonly unconverted: readonly Unconverted[];
}

/** Reads a CIB. Throws CibInvalidError when the text is not XML or not a <cib>. */
export function fromCib(xml: string): FromCibResult {
  return new CibReader(parseXml(xml)).read();
}

const HAVEN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Cluster properties Pacemaker maintains itself: facts about the running cluster, not configuration. */
const RUNTIME_PROPERTIES = new Set(['dc-version', 'cluster-infrastructure', 'last-lrm-refresh', 'have-watchdog']);
const HAVEN_OPERATIONS = new Set(['start', 'stop', 'monitor', 'promote', 'demote']);
const NO_EQUIVALENT = 'Haven has no equivalent setting';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Drops keys whose value is undefined, so optional fields stay absent (exactOptionalPropertyTypes). */
function compact<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

function pathOf(parent: string, e: XmlElement): string {
  const id = e.attrs['id'];
  return `${parent}/${e.name}${id === undefined ? '' : `[@id='${id}']`}`;
}

/** What the reader learned about a converted primitive, for constraints and status. */
interface PrimitiveFacts {
  readonly def: Primitive;
  readonly cloned: boolean;
  readonly promotable: boolean;
}

/** How a CIB resource id may be named by a Haven constraint. */
type Reference = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly why: string };

type Policy = Pick<
  Primitive,
  'stickiness' | 'migrationThreshold' | 'failureTimeout' | 'onFail' | 'requires' | 'targetRole' | 'managed' | 'priority'
>;

/** One lrm_rsc_op, as needed to replay a resource's history. */
interface HistoryOp {
  readonly operation: string;
  readonly interval: number;
  readonly rc: number;
  readonly status: number;
  readonly call: number;
  readonly target: number | undefined;
  readonly at: number;
}

class CibReader {
  private readonly notes: Unconverted[] = [];
  private readonly byId = new Map<string, XmlElement>();
  private readonly primitives = new Map<string, PrimitiveFacts>();
  /** Top-level resources Haven constraints may name. */
  private readonly tops = new Set<string>();
  /** Ids inside a clone → the clone; group members → why a constraint cannot name them. */
  private readonly inner = new Map<string, Reference>();
  /** CIB resources that were not converted → why. */
  private readonly dropped = new Map<string, string>();
  private readonly templates = new Map<string, XmlElement>();
  private readonly nodeNames = new Set<string>();
  private fencing: boolean = DEFAULTS.fencing;

  constructor(private readonly root: XmlElement) {}

  read(): FromCibResult {
    if (this.root.name !== 'cib') {
      throw new CibInvalidError(`the root element is <${this.root.name}>, not <cib>: this is not a Pacemaker CIB`, {
        hint: 'save one with: cibadmin --query > cib.xml',
      });
    }
    const configuration = childNamed(this.root, 'configuration');
    if (configuration === undefined) {
      throw new CibInvalidError('the CIB has no <configuration> section', { hint: 'save the whole CIB with: cibadmin --query > cib.xml' });
    }
    this.indexIds(configuration);
    const base = '/cib/configuration';
    const cluster = this.cluster(configuration, base);
    const nodes = this.nodes(childNamed(configuration, 'nodes'), `${base}/nodes`);
    const statusEl = childNamed(this.root, 'status');
    const nodeStates = childrenNamed(statusEl, 'node_state');
    // Nodes seen only in the status (a <nodes> section can lag behind membership).
    for (const ns of nodeStates) {
      const name = ns.attrs['uname'];
      if (name !== undefined && !this.nodeNames.has(name) && HAVEN_ID.test(name)) {
        nodes.push({ name });
        this.nodeNames.add(name);
      }
    }
    const resources = this.resources(childNamed(configuration, 'resources'), `${base}/resources`);
    const constraints = this.constraints(childNamed(configuration, 'constraints'), `${base}/constraints`);
    for (const e of configuration.children) {
      const path = `${base}/${e.name}`;
      switch (e.name) {
        case 'crm_config':
        case 'rsc_defaults':
        case 'op_defaults':
        case 'nodes':
        case 'resources':
        case 'constraints':
          break;
        case 'fencing-topology':
          if (e.children.length > 0) this.note(path, 'fencing topology', 'fencing devices and levels come in a later version of Haven; keep fencing on the Pacemaker side until then');
          break;
        case 'acls':
          if (e.children.length > 0) this.note(path, 'access control lists', 'Haven authorises operators at its API, not per CIB element');
          break;
        case 'tags':
          if (e.children.length > 0) this.note(path, `tags ${e.children.map((t) => t.attrs['id'] ?? '?').join(', ')}`, 'Haven has no resource tags; constraints naming a tag are listed separately');
          break;
        case 'alerts':
          if (e.children.length > 0) this.note(path, `alert agents ${e.children.map((t) => t.attrs['id'] ?? '?').join(', ')}`, "Haven reports events through its event log and API, not alert scripts");
          break;
        default:
          this.note(path, `<${e.name}> section`, 'not a section Haven knows');
      }
    }

    if (nodes.length === 0) this.note(`${base}/nodes`, 'cluster nodes', 'the CIB lists none; add them under nodes: before Haven accepts the config');
    this.note('corosync.conf', 'heartbeat rings and node addresses', 'Pacemaker keeps them in corosync.conf, outside the CIB; add rings: and nodes[].addresses by hand');

    const config = compact<Config>({
      cluster,
      rings: undefined,
      nodes,
      resources: resources.length > 0 ? resources : undefined,
      constraints: constraints.length > 0 ? constraints : undefined,
    });
    const status = nodeStates.length > 0 && statusEl !== undefined ? this.status(statusEl, nodes) : undefined;
    return status === undefined ? { config, unconverted: this.notes } : { config, status, unconverted: this.notes };
  }

  private note(path: string, what: string, why: string): void {
    this.notes.push({ path, what, why });
  }

  private indexIds(e: XmlElement): void {
    const id = e.attrs['id'];
    if (id !== undefined && e.attrs['id-ref'] === undefined && !this.byId.has(id)) this.byId.set(id, e);
    for (const c of e.children) this.indexIds(c);
  }

  /** Follows an id-ref to the element it names. */
  private deref(e: XmlElement): XmlElement {
    const ref = e.attrs['id-ref'];
    return ref === undefined ? e : (this.byId.get(ref) ?? e);
  }

  /**
   * The name/value pairs of every nvset `tag` under `parent`, merged as Pacemaker does: sets
   * by descending score, the first value of a name wins. Sets with rules apply only sometimes,
   * which Haven cannot say: they are listed, not merged.
   */
  private nvsets(parent: XmlElement, tag: string, path: string): Map<string, string> {
    const sets = childrenNamed(parent, tag)
      .map((s) => this.deref(s))
      .map((s, i) => ({ s, i, score: parseScore(s.attrs['score'] ?? '0') ?? 0 }))
      .sort((a, b) => b.score - a.score || a.i - b.i);
    const out = new Map<string, string>();
    for (const { s } of sets) {
      const setPath = pathOf(path, s);
      const pairs = childrenNamed(s, 'nvpair').map((p) => this.deref(p));
      if (childNamed(s, 'rule') !== undefined) {
        const names = pairs.map((p) => p.attrs['name'] ?? '?').join(', ');
        this.note(setPath, `${tag} ${names} under a rule`, 'values that apply only when a rule holds (a node, a date) have no Haven equivalent');
        continue;
      }
      for (const p of pairs) {
        const name = p.attrs['name'];
        if (name === undefined || out.has(name)) continue;
        out.set(name, p.attrs['value'] ?? '');
      }
    }
    return out;
  }

  // --- cluster options and defaults ------------------------------------------------------

  private cluster(configuration: XmlElement, base: string): ClusterPolicy {
    const crm = childNamed(configuration, 'crm_config');
    const props = crm === undefined ? new Map<string, string>() : this.nvsets(crm, 'cluster_property_set', `${base}/crm_config`);
    const path = `${base}/crm_config`;
    let name = 'pacemaker';
    const c: Writable<Partial<ClusterPolicy>> = {};
    for (const [k, v] of props) {
      const at = `${path}//nvpair[@name='${k}']`;
      switch (k) {
        case 'cluster-name':
          if (HAVEN_ID.test(v)) name = v;
          else this.note(at, `cluster-name "${v}"`, 'not a Haven name (letters, digits, "_", "." and "-"); "pacemaker" was used');
          break;
        case 'stonith-enabled':
          c.fencing = cibTrue(v);
          break;
        case 'no-quorum-policy':
          if ((NO_QUORUM_POLICIES as readonly string[]).includes(v)) c.noQuorumPolicy = v as ClusterPolicy['noQuorumPolicy'] & string;
          else this.note(at, `no-quorum-policy=${v}`, `Haven knows ${NO_QUORUM_POLICIES.join(', ')}`);
          break;
        case 'symmetric-cluster':
          c.symmetric = cibTrue(v);
          break;
        case 'placement-strategy':
          if (v === 'default' || v === 'utilization' || v === 'balanced') c.placementStrategy = v;
          else this.note(at, `placement-strategy=${v}`, 'Haven knows default, utilization and balanced');
          break;
        case 'stop-orphan-resources':
          c.stopOrphans = cibTrue(v);
          break;
        case 'maintenance-mode':
          c.maintenance = cibTrue(v);
          break;
        default:
          if (!RUNTIME_PROPERTIES.has(k)) this.note(at, `cluster property ${k}=${v}`, NO_EQUIVALENT);
      }
    }
    this.fencing = c.fencing ?? DEFAULTS.fencing;
    const defaults = this.defaults(configuration, base);
    return compact<ClusterPolicy>({ name, ...c, defaults });
  }

  private defaults(configuration: XmlElement, base: string): ClusterPolicy['defaults'] {
    const d: Record<string, unknown> = {};
    const rsc = childNamed(configuration, 'rsc_defaults');
    if (rsc !== undefined) {
      const path = `${base}/rsc_defaults`;
      for (const [k, v] of this.nvsets(rsc, 'meta_attributes', path)) {
        const at = `${path}//nvpair[@name='${k}']`;
        switch (k) {
          case 'resource-stickiness':
            this.setScore(d, 'stickiness', v, at, k);
            break;
          case 'migration-threshold':
            this.setThreshold(d, v, at);
            break;
          case 'failure-timeout':
            this.setDuration(d, 'failureTimeout', v, at, k);
            break;
          case 'requires':
            this.setRequires(d, v, at);
            break;
          default:
            this.note(at, `resource default ${k}=${v}`, 'Haven defaults cover stickiness, migrationThreshold, failureTimeout, onFail, requires and operationTimeout');
        }
      }
    }
    const op = childNamed(configuration, 'op_defaults');
    if (op !== undefined) {
      const path = `${base}/op_defaults`;
      for (const [k, v] of this.nvsets(op, 'meta_attributes', path)) {
        const at = `${path}//nvpair[@name='${k}']`;
        if (k === 'timeout') this.setDuration(d, 'operationTimeout', v, at, k);
        else if (k === 'on-fail') this.setOnFail(d, v, at);
        else this.note(at, `operation default ${k}=${v}`, 'Haven defaults cover the operation timeout and onFail');
      }
    }
    return Object.keys(d).length > 0 ? (d as ClusterPolicy['defaults']) : undefined;
  }

  /** Stickiness: a score, and never negative in Haven (a resource that prefers to leave would flap). */
  private setScore(target: Record<string, unknown>, key: string, v: string, at: string, name: string): void {
    const s = parseScore(v);
    if (s === undefined) this.note(at, `${name}=${v}`, 'not a score');
    else if (s < 0) this.note(at, `${name}=${v}`, 'Haven refuses negative stickiness: a resource that prefers to leave where it runs would move back and forth');
    else target[key] = s;
  }

  private setDuration(target: Record<string, unknown>, key: string, v: string, at: string, name: string): void {
    const ms = parseCibDuration(v);
    if (ms === undefined) this.note(at, `${name}=${v}`, 'not a duration Haven can read');
    else target[key] = ms;
  }

  private setThreshold(target: Record<string, unknown>, v: string, at: string): void {
    const s = parseScore(v);
    // 0 disables the threshold in Pacemaker, which is what INFINITY means.
    if (s === undefined || s < 0) this.note(at, `migration-threshold=${v}`, 'not a count of failures');
    else target['migrationThreshold'] = s === 0 || s >= 1_000_000 ? 'INFINITY' : s;
  }

  private setRequires(target: Record<string, unknown>, v: string, at: string): void {
    if (v === 'fencing' && !this.fencing) {
      // Pacemaker reads requires=fencing as quorum while fencing is disabled.
      this.note(at, 'requires=fencing', 'fencing is disabled in this cluster, so Pacemaker treats it as quorum; quorum was written');
      target['requires'] = 'quorum';
    } else if ((REQUIRES as readonly string[]).includes(v)) target['requires'] = v;
    else this.note(at, `requires=${v}`, `Haven knows ${REQUIRES.join(', ')}`);
  }

  private setOnFail(target: Record<string, unknown>, v: string, at: string): void {
    if (v === 'fence' && !this.fencing) {
      this.note(at, 'on-fail=fence', 'fencing is disabled in this cluster, so Pacemaker reads it as stop; stop was written');
      target['onFail'] = 'stop';
    } else if ((ON_FAIL as readonly string[]).includes(v)) target['onFail'] = v;
    else this.note(at, `on-fail=${v}`, `Haven knows ${ON_FAIL.join(', ')}`);
  }

  // --- nodes -----------------------------------------------------------------------------

  private nodes(nodesEl: XmlElement | undefined, base: string): NodeConfig[] {
    const out: NodeConfig[] = [];
    for (const n of childrenNamed(nodesEl, 'node')) {
      const path = pathOf(base, n);
      const name = n.attrs['uname'] ?? '';
      const type = n.attrs['type'] ?? 'member';
      if (type !== 'member' && type !== 'normal') {
        this.note(path, `${type} node ${name}`, type === 'remote' ? 'Pacemaker Remote nodes come to Haven as hosts running the Haven agent' : 'Haven has no quorum-only ping nodes');
        continue;
      }
      if (!HAVEN_ID.test(name)) {
        this.note(path, `node ${name}`, 'not a Haven node name (letters, digits, "_", "." and "-")');
        continue;
      }
      const attributes: Record<string, string | number | boolean> = {};
      let standby: boolean | undefined;
      let maintenance: boolean | undefined;
      for (const [k, v] of this.nvsets(n, 'instance_attributes', path)) {
        if (k === 'standby') standby = cibTrue(v);
        else if (k === 'maintenance') maintenance = cibTrue(v);
        else if (k.startsWith('#')) this.note(`${path}//nvpair[@name='${k}']`, `node attribute ${k}`, 'names starting with "#" are reserved in Haven');
        else attributes[k] = attrFromCib(v);
      }
      const capacity = this.numbers(n, 'utilization', path, `capacity of node ${name}`);
      this.nodeNames.add(name);
      out.push(
        compact<NodeConfig>({
          name,
          addresses: undefined,
          attributes: Object.keys(attributes).length > 0 ? attributes : undefined,
          capacity,
          standby,
          maintenance,
        }),
      );
    }
    return out;
  }

  private numbers(parent: XmlElement, tag: string, path: string, what: string): Record<string, number> | undefined {
    const out: Record<string, number> = {};
    for (const [k, v] of this.nvsets(parent, tag, path)) {
      const x = Number(v);
      if (v.trim() === '' || !Number.isFinite(x) || x < 0) this.note(`${path}/${tag}//nvpair[@name='${k}']`, `${what}: ${k}=${v}`, 'Haven counts utilization and capacity in non-negative numbers');
      else out[k] = x;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  // --- resources -------------------------------------------------------------------------

  private resources(resourcesEl: XmlElement | undefined, base: string): Resource[] {
    const out: Resource[] = [];
    for (const t of childrenNamed(resourcesEl, 'template')) if (t.attrs['id'] !== undefined) this.templates.set(t.attrs['id'], t);
    for (const e of resourcesEl?.children ?? []) {
      const path = pathOf(base, e);
      const id = e.attrs['id'] ?? '?';
      let r: Resource | undefined;
      switch (e.name) {
        case 'primitive':
          r = this.primitive(e, path, { cloned: false, promotable: false });
          break;
        case 'group':
          r = this.group(e, path, { cloned: false, promotable: false });
          break;
        case 'clone':
        case 'master':
          r = this.clone(e, path);
          break;
        case 'template': {
          const users = (resourcesEl?.children ?? []).flatMap((x) => [x, ...x.children]).filter((x) => x.name === 'primitive' && x.attrs['template'] === id);
          this.note(path, `resource template ${id}`, users.length > 0 ? `Haven has no templates; its settings were copied into ${users.map((u) => u.attrs['id']).join(', ')}` : 'Haven has no templates, and no primitive uses this one');
          this.dropped.set(id, 'it is a resource template');
          continue;
        }
        case 'bundle':
          this.note(path, `bundle ${id}`, 'Haven runs container bundles as ordinary resources: declare the container and its service as resources by hand');
          this.dropped.set(id, 'it is a bundle');
          continue;
        default:
          this.note(path, `<${e.name}> ${id}`, 'not a resource kind Haven knows');
          continue;
      }
      if (r !== undefined) {
        out.push(r);
        this.tops.add(r.id);
      }
    }
    return out;
  }

  private checkId(id: string | undefined, path: string, what: string): id is string {
    if (id !== undefined && HAVEN_ID.test(id)) return true;
    this.note(path, `${what} ${id ?? '(no id)'}`, 'not a Haven id: it must start with a letter or digit and hold only letters, digits, "_", "." and "-"');
    if (id !== undefined) this.dropped.set(id, 'its id is not a Haven id');
    return false;
  }

  /** Resource meta attributes Haven maps, consumed from `meta`; the rest are listed. */
  private policy(meta: Map<string, string>, path: string, ctx: { promotable: boolean; what: string }): Partial<Policy> {
    const p: Record<string, unknown> = {};
    for (const [k, v] of meta) {
      const at = `${path}/meta_attributes//nvpair[@name='${k}']`;
      switch (k) {
        case 'resource-stickiness':
        case 'resource_stickiness':
          this.setScore(p, 'stickiness', v, at, k);
          break;
        case 'migration-threshold':
          this.setThreshold(p, v, at);
          break;
        case 'failure-timeout':
          this.setDuration(p, 'failureTimeout', v, at, k);
          break;
        case 'requires':
          this.setRequires(p, v, at);
          break;
        case 'target-role': {
          const role = targetRoleFromCib(v);
          if (role === undefined) this.note(at, `target-role=${v}`, 'Haven knows Stopped, Started, Unpromoted and Promoted');
          else if ((role === 'promoted' || role === 'unpromoted') && !ctx.promotable) {
            // Pacemaker reads a role on a resource without roles as Started.
            this.note(at, `target-role=${v} on ${ctx.what}`, 'only promotable clones have roles; started was written');
            p['targetRole'] = 'started';
          } else p['targetRole'] = role;
          break;
        }
        case 'is-managed':
          p['managed'] = cibTrue(v);
          break;
        case 'priority': {
          const n = Number(v);
          if (Number.isInteger(n)) p['priority'] = n;
          else this.note(at, `priority=${v}`, 'not an integer');
          break;
        }
        case HAVEN_ON_FAIL_META:
          if (v === 'demote' && !ctx.promotable) this.note(at, `${k}=${v}`, 'only promotable clones can be demoted');
          else this.setOnFail(p, v, at);
          break;
        case HAVEN_AGENT_META:
          break;
        case 'notify':
        case 'globally-unique':
        case 'ordered':
          // false is Pacemaker's default and Haven's only behaviour.
          if (cibTrue(v)) this.note(at, `${k}=${v} on ${ctx.what}`, metaWhy(k));
          break;
        default:
          this.note(at, `meta attribute ${k}=${v} of ${ctx.what}`, metaWhy(k));
      }
    }
    return p as Partial<Policy>;
  }

  private primitive(e: XmlElement, path: string, ctx: { cloned: boolean; promotable: boolean; parentOnFail?: OnFail | undefined }): Primitive | undefined {
    const id = e.attrs['id'];
    if (!this.checkId(id, path, 'primitive')) return undefined;
    // A primitive made from a template: the template's settings, overridden by its own.
    const template = e.attrs['template'] === undefined ? undefined : this.templates.get(e.attrs['template']);
    if (e.attrs['template'] !== undefined && template === undefined) {
      this.note(path, `primitive ${id}`, `its template ${e.attrs['template']} is not in the CIB`);
      this.dropped.set(id, 'its template is missing');
      return undefined;
    }
    const src = template ?? e;
    const cls = src.attrs['class'] ?? '';
    const type = src.attrs['type'] ?? '';
    const provider = src.attrs['provider'];
    const tplPath = template === undefined ? path : pathOf('/cib/configuration/resources', template);
    const params = template === undefined ? new Map<string, string>() : this.nvsets(template, 'instance_attributes', tplPath);
    for (const [k, v] of this.nvsets(e, 'instance_attributes', path)) params.set(k, v);
    const meta = template === undefined ? new Map<string, string>() : this.nvsets(template, 'meta_attributes', tplPath);
    for (const [k, v] of this.nvsets(e, 'meta_attributes', path)) meta.set(k, v);

    const agent = agentFromCib(cls, provider, type, Object.fromEntries(params), meta.get(HAVEN_AGENT_META));
    const label = `${cls}${provider === undefined ? '' : `:${provider}`}:${type}`;
    if (!agent.ok) {
      this.note(path, `${cls === 'stonith' ? 'fencing device' : 'primitive'} ${id} (${label})`, agent.why);
      this.dropped.set(id, cls === 'stonith' ? 'it is a fencing device' : `its agent ${label} was not converted`);
      return undefined;
    }
    const policy = this.policy(meta, path, { promotable: ctx.promotable, what: `primitive ${id}` });
    const onFail = policy.onFail ?? ctx.parentOnFail;
    const ops = [
      ...(template === undefined ? [] : this.operations(template, tplPath, id, ctx.promotable, onFail)),
      ...this.operations(e, path, id, ctx.promotable, onFail),
    ];
    // An operation of the primitive replaces the template's with the same name and interval.
    const byKey = new Map<string, Operation>();
    for (const op of ops) byKey.set(`${op.name}/${op.interval ?? 0}`, op);
    const operations = [...byKey.values()];
    const utilization =
      this.numbers(e, 'utilization', path, `utilization of ${id}`) ?? (template === undefined ? undefined : this.numbers(template, 'utilization', tplPath, `utilization of ${id}`));
    const paramsOut: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(agent.params)) paramsOut[k] = attrFromCib(v);
    const prim = compact<Primitive>({
      type: 'primitive',
      id,
      agent: agent.agent,
      description: e.attrs['description'] ?? template?.attrs['description'],
      params: Object.keys(paramsOut).length > 0 ? paramsOut : undefined,
      operations: operations.length > 0 ? operations : undefined,
      utilization,
      ...policy,
    });
    this.primitives.set(id, { def: prim, cloned: ctx.cloned, promotable: ctx.promotable });
    return prim;
  }

  private operations(e: XmlElement, path: string, rsc: string, promotable: boolean, inheritedOnFail: OnFail | undefined): Operation[] {
    const opsEl = childNamed(e, 'operations');
    if (opsEl === undefined) return [];
    const opsPath = `${path}/operations`;
    const out: Operation[] = [];
    const skipped: string[] = [];
    for (const raw of childrenNamed(this.deref(opsEl), 'op')) {
      const o = this.deref(raw);
      const at = pathOf(opsPath, o);
      const name = o.attrs['name'] ?? '';
      const intervalText = o.attrs['interval'] ?? '0';
      if (!HAVEN_OPERATIONS.has(name)) {
        skipped.push(intervalText === '0' || intervalText === '0s' ? name : `${name}/${intervalText}`);
        continue;
      }
      const opMeta = this.nvsets(o, 'meta_attributes', at);
      const opParams = this.nvsets(o, 'instance_attributes', at);
      for (const k of opParams.keys()) this.note(`${at}/instance_attributes//nvpair[@name='${k}']`, `operation parameter ${k} of ${rsc} ${name}`, 'Haven passes the same parameters to every operation of a resource');
      const attr = (k: string): string | undefined => o.attrs[k] ?? opMeta.get(k);
      for (const k of opMeta.keys()) {
        if (!['timeout', 'on-fail', 'role', 'interval'].includes(k)) this.note(`${at}/meta_attributes//nvpair[@name='${k}']`, `operation option ${k} of ${rsc} ${name}`, NO_EQUIVALENT);
      }
      if (attr('enabled') !== undefined && !cibTrue(attr('enabled'))) {
        this.note(at, `disabled operation ${name} of ${rsc}`, 'Haven has no disabled operations; remove it or enable it');
        continue;
      }
      for (const k of ['start-delay', 'interval-origin', 'record-pending']) {
        if (o.attrs[k] !== undefined) this.note(`${at}/@${k}`, `${k}=${o.attrs[k]} on ${rsc} ${name}`, NO_EQUIVALENT);
      }
      const interval = parseCibDuration(intervalText);
      if (interval === undefined) {
        this.note(at, `operation ${name} of ${rsc} with interval ${intervalText}`, 'not a duration Haven can read');
        continue;
      }
      if (name === 'monitor' && interval === 0) {
        this.note(at, `probe settings of ${rsc} (monitor with interval 0)`, "Haven's probes use the operation timeout; only repeating monitors are configured");
        continue;
      }
      if (name !== 'monitor' && interval !== 0) this.note(`${at}/@interval`, `interval ${intervalText} of ${rsc} ${name}`, 'only monitors repeat; it was left out');
      if ((name === 'promote' || name === 'demote') && !promotable) {
        this.note(at, `${name} operation of ${rsc}`, 'the resource is not in a promotable clone, so it is never run');
        continue;
      }
      const timeoutText = attr('timeout');
      const timeout = timeoutText === undefined ? undefined : parseCibDuration(timeoutText);
      if (timeoutText !== undefined && timeout === undefined) this.note(`${at}/@timeout`, `timeout ${timeoutText} of ${rsc} ${name}`, 'not a duration Haven can read');
      let role: Operation['role'];
      const roleText = attr('role');
      if (roleText !== undefined) {
        const r = roleFromCib(roleText);
        if (name !== 'monitor') this.note(`${at}/@role`, `role ${roleText} of ${rsc} ${name}`, 'only monitors take a role');
        else if (r === undefined) {
          this.note(at, `monitor of ${rsc} for role ${roleText}`, 'Haven monitors only running copies');
          continue;
        } else if (r !== 'started' && !promotable) this.note(`${at}/@role`, `role ${roleText} of ${rsc} monitor`, 'the resource is not in a promotable clone; the monitor runs in every role');
        else role = r;
      }
      let onFail: OnFail | undefined;
      const onFailText = attr('on-fail');
      if (onFailText !== undefined) {
        const holder: Record<string, unknown> = {};
        const demotable = promotable && (name === 'promote' || (name === 'monitor' && role === 'promoted'));
        if (onFailText === 'demote' && !demotable) this.note(`${at}/@on-fail`, `on-fail=demote on ${rsc} ${name}`, 'demote applies only to promote and to monitors of promoted copies');
        else this.setOnFail(holder, onFailText, `${at}/@on-fail`);
        onFail = holder['onFail'] as OnFail | undefined;
        // Written from a resource-level onFail: it belongs to the resource, not the operation.
        if (onFail !== undefined && onFail === inheritedOnFail) onFail = undefined;
      }
      out.push(compact<Operation>({ name: name as Operation['name'], interval: name === 'monitor' ? interval : undefined, timeout, role, onFail }));
    }
    if (skipped.length > 0) {
      this.note(opsPath, `operations ${skipped.join(', ')} of ${rsc}`, 'Haven configures start, stop, monitor, promote and demote; the agent defaults apply to the rest');
    }
    return out;
  }

  private group(e: XmlElement, path: string, ctx: { cloned: boolean; promotable: boolean; parentOnFail?: OnFail | undefined }): Group | undefined {
    const id = e.attrs['id'];
    if (!this.checkId(id, path, 'group')) return undefined;
    const meta = this.nvsets(e, 'meta_attributes', path);
    for (const k of ['ordered', 'collocated']) {
      if (meta.has(k)) {
        if (cibTrue(meta.get(k))) meta.delete(k); // the default, and Haven's only way
        else {
          this.note(`${path}/meta_attributes//nvpair[@name='${k}']`, `${k}=false on group ${id}`, 'Haven groups are always ordered and collocated');
          meta.delete(k);
        }
      }
    }
    this.noteInstanceAttributes(e, path, `group ${id}`);
    const policy = this.policy(meta, path, { promotable: ctx.promotable, what: `group ${id}` });
    const members: Primitive[] = [];
    for (const m of e.children) {
      if (m.name !== 'primitive') continue;
      const p = this.primitive(m, pathOf(path, m), { ...ctx, parentOnFail: policy.onFail ?? ctx.parentOnFail });
      if (p !== undefined) {
        members.push(p);
        this.inner.set(p.id, { ok: false, why: `${p.id} is a member of group ${id}; Haven constraints name the group` });
      }
    }
    if (members.length === 0) {
      this.note(path, `group ${id}`, 'none of its members was converted');
      this.dropped.set(id, 'none of its members was converted');
      return undefined;
    }
    return compact<Group>({ type: 'group', id, description: e.attrs['description'], members, ...policy });
  }

  private noteInstanceAttributes(e: XmlElement, path: string, what: string): void {
    for (const [k] of this.nvsets(e, 'instance_attributes', path)) {
      this.note(`${path}/instance_attributes//nvpair[@name='${k}']`, `parameter ${k} of ${what}`, 'only primitives take parameters in Haven');
    }
  }

  private clone(e: XmlElement, path: string): Resource | undefined {
    const id = e.attrs['id'];
    if (!this.checkId(id, path, e.name)) return undefined;
    const meta = this.nvsets(e, 'meta_attributes', path);
    const take = (...names: string[]): string | undefined => {
      let v: string | undefined;
      for (const n of names) {
        if (v === undefined) v = meta.get(n);
        meta.delete(n);
      }
      return v;
    };
    const count = (v: string | undefined, name: string): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (Number.isInteger(n) && n >= 1) return n;
      this.note(`${path}/meta_attributes//nvpair[@name='${name}']`, `${name}=${v} on ${id}`, 'Haven counts copies from 1');
      return undefined;
    };
    const promotable = e.name === 'master' || cibTrue(take('promotable'));
    const maxCopies = count(take('clone-max'), 'clone-max');
    const maxPerNode = count(take('clone-node-max'), 'clone-node-max');
    const interleaveText = take('interleave');
    const promotedMax = count(take('promoted-max', 'master-max'), 'promoted-max');
    const promotedMaxPerNode = count(take('promoted-node-max', 'master-node-max'), 'promoted-node-max');
    if (!promotable && (promotedMax !== undefined || promotedMaxPerNode !== undefined)) {
      this.note(path, `promoted-max on clone ${id}`, 'the clone is not promotable');
    }
    this.noteInstanceAttributes(e, path, `${e.name} ${id}`);
    const policy = this.policy(meta, path, { promotable, what: `${promotable ? 'promotable clone' : 'clone'} ${id}` });
    const childEl = e.children.find((c) => c.name === 'primitive' || c.name === 'group');
    if (childEl === undefined) {
      this.note(path, `${e.name} ${id}`, 'it holds no primitive or group');
      this.dropped.set(id, 'it holds nothing');
      return undefined;
    }
    const childPath = pathOf(path, childEl);
    const ctx = { cloned: true, promotable, parentOnFail: policy.onFail };
    if (promotable && childEl.name === 'group') {
      this.note(path, `promotable clone ${id} of group ${childEl.attrs['id'] ?? '?'}`, 'Haven promotes single primitives only');
      this.dropped.set(id, 'it is a promotable group');
      return undefined;
    }
    const child = childEl.name === 'primitive' ? this.primitive(childEl, childPath, ctx) : this.group(childEl, childPath, ctx);
    if (child === undefined) {
      this.dropped.set(id, `what it clones (${childEl.attrs['id'] ?? '?'}) was not converted`);
      return undefined;
    }
    // Pacemaker reads a constraint naming what a clone holds as naming the clone.
    this.inner.set(child.id, { ok: true, id });
    if (child.type === 'group') for (const m of child.members) this.inner.set(m.id, { ok: true, id });
    const common = {
      id,
      description: e.attrs['description'],
      maxCopies,
      maxPerNode,
      interleave: interleaveText === undefined ? undefined : cibTrue(interleaveText),
      ...policy,
    };
    if (promotable) {
      return compact<Extract<Resource, { type: 'promotable' }>>({ type: 'promotable', of: child as Primitive, promotedMax, promotedMaxPerNode, ...common });
    }
    return compact<Extract<Resource, { type: 'clone' }>>({ type: 'clone', of: child, ...common });
  }

  // --- constraints -----------------------------------------------------------------------

  private ref(id: string | undefined): Reference {
    if (id === undefined) return { ok: false, why: 'it names no resource' };
    if (this.tops.has(id)) return { ok: true, id };
    const inner = this.inner.get(id);
    if (inner !== undefined) return inner;
    const dropped = this.dropped.get(id);
    if (dropped !== undefined) return { ok: false, why: `it names ${id}, which was not converted (${dropped})` };
    const e = this.byId.get(id);
    if (e?.name === 'tag') return { ok: false, why: `it names tag ${id}; Haven has no tags` };
    return { ok: false, why: `it names ${id}, which is not a resource in this CIB` };
  }

  private constraints(constraintsEl: XmlElement | undefined, base: string): Constraint[] {
    const out: Constraint[] = [];
    for (const e of constraintsEl?.children ?? []) {
      const path = pathOf(base, e);
      const id = e.attrs['id'];
      if (!this.checkId(id, path, e.name)) continue;
      if (childNamed(e, 'lifetime') !== undefined) {
        this.note(path, `${e.name} ${id}`, 'it has a lifetime (it expires); Haven constraints are permanent');
        continue;
      }
      switch (e.name) {
        case 'rsc_location':
          out.push(...this.location(e, id, path));
          break;
        case 'rsc_colocation':
          out.push(...this.colocation(e, id, path));
          break;
        case 'rsc_order':
          out.push(...this.order(e, id, path));
          break;
        case 'rsc_ticket':
          this.note(path, `ticket constraint ${id} (ticket ${e.attrs['ticket'] ?? '?'})`, 'multi-site tickets (booth) belong to DR sites in Haven, configured separately');
          break;
        default:
          this.note(path, `<${e.name}> ${id}`, 'not a constraint kind Haven knows');
      }
    }
    // A CIB may hold the same pair twice under different ids; Haven ids are unique.
    const seen = new Set([...this.tops, ...this.inner.keys()]);
    return out.filter((c) => {
      if (seen.has(c.id)) {
        this.note(`${base}/*[@id='${c.id}']`, `constraint ${c.id}`, 'its id is already used by a resource or another constraint');
        return false;
      }
      seen.add(c.id);
      return true;
    });
  }

  private location(e: XmlElement, id: string, path: string): Location[] {
    if (e.attrs['rsc-pattern'] !== undefined) {
      this.note(path, `location ${id} for rsc-pattern ${e.attrs['rsc-pattern']}`, 'Haven locations name one resource; write one per resource');
      return [];
    }
    if (e.attrs['resource-discovery'] !== undefined && e.attrs['resource-discovery'] !== 'always') {
      this.note(`${path}/@resource-discovery`, `resource-discovery=${e.attrs['resource-discovery']} on ${id}`, 'Haven probes every node');
    }
    // A location with a resource set applies to each resource in it.
    const targets: { rsc: string | undefined; role: string | undefined; id: string }[] = [];
    const sets = childrenNamed(e, 'resource_set').map((s) => this.deref(s));
    if (sets.length > 0) {
      for (const s of sets) {
        for (const r of childrenNamed(s, 'resource_ref')) targets.push({ rsc: r.attrs['id'], role: s.attrs['role'], id: `${id}-${r.attrs['id'] ?? ''}` });
      }
    } else targets.push({ rsc: e.attrs['rsc'], role: e.attrs['role'], id });

    const out: Location[] = [];
    for (const t of targets) {
      const ref = this.ref(t.rsc);
      if (!ref.ok) {
        this.note(path, `location ${t.id}`, ref.why);
        continue;
      }
      let role: Role | undefined;
      if (t.role !== undefined) {
        role = roleFromCib(t.role);
        if (role === undefined) {
          this.note(path, `location ${t.id} for role ${t.role}`, 'Haven locations apply to running copies only');
          continue;
        }
      }
      const ruleEls = childrenNamed(e, 'rule').map((r) => this.deref(r));
      if (ruleEls.length === 0) {
        const score = parseScore(e.attrs['score'] ?? '');
        const node = e.attrs['node'];
        if (score === undefined || node === undefined) {
          this.note(path, `location ${t.id}`, e.attrs['score-attribute'] !== undefined ? 'score-attribute has no Haven equivalent' : 'it needs a node and a score, or rules');
          continue;
        }
        if (!this.nodeNames.has(node)) {
          this.note(path, `location ${t.id}`, `it names node ${node}, which is not a cluster node`);
          continue;
        }
        out.push(compact<Location>({ type: 'location', id: t.id, resource: ref.id, node, score, rules: undefined, role }));
        continue;
      }
      const rules: Rule[] = [];
      for (const r of ruleEls) {
        const rule = this.rule(r, pathOf(path, r), t.id);
        if (rule === undefined) continue;
        if (rule.role !== undefined) {
          if (role === undefined || role === rule.role) role = rule.role;
          else {
            this.note(pathOf(path, r), `rule of ${t.id} for role ${rule.role}`, 'a Haven location applies to one role');
            continue;
          }
        }
        rules.push(rule.rule);
      }
      if (rules.length === 0) {
        this.note(path, `location ${t.id}`, 'none of its rules could be converted');
        continue;
      }
      out.push(compact<Location>({ type: 'location', id: t.id, resource: ref.id, node: undefined, score: undefined, rules, role }));
    }
    return out;
  }

  private rule(r: XmlElement, path: string, owner: string): { rule: Rule; role?: Role } | undefined {
    if (r.attrs['score-attribute'] !== undefined) {
      this.note(path, `rule of ${owner} scored by attribute ${r.attrs['score-attribute']}`, 'Haven rules have a fixed score');
      return undefined;
    }
    const score = parseScore(r.attrs['score'] ?? '0');
    if (score === undefined) {
      this.note(path, `rule of ${owner} with score ${r.attrs['score'] ?? ''}`, 'not a score');
      return undefined;
    }
    const expressions: Expression[] = [];
    for (const x of r.children) {
      switch (x.name) {
        case 'expression': {
          const e = this.expression(this.deref(x));
          if (typeof e === 'string') {
            this.note(pathOf(path, x), `rule of ${owner}`, e);
            return undefined;
          }
          expressions.push(e);
          break;
        }
        case 'date_expression':
          this.note(path, `rule of ${owner} with a date expression`, 'Haven rules match node attributes only, not dates or times');
          return undefined;
        case 'rule':
          this.note(path, `rule of ${owner} with a nested rule`, 'Haven rules are one level of expressions');
          return undefined;
        default:
          this.note(path, `rule of ${owner} with <${x.name}>`, 'Haven rules match node attributes only');
          return undefined;
      }
    }
    if (expressions.length === 0) {
      this.note(path, `rule of ${owner}`, 'it has no expressions');
      return undefined;
    }
    const op = r.attrs['boolean-op'];
    const rule = compact<Rule>({ score, match: op === undefined ? undefined : op === 'or' ? 'any' : 'all', expressions });
    const roleText = r.attrs['role'];
    if (roleText === undefined) return { rule };
    const role = roleFromCib(roleText);
    if (role === undefined) {
      this.note(path, `rule of ${owner} for role ${roleText}`, 'Haven locations apply to running copies only');
      return undefined;
    }
    return { rule, role };
  }

  /** A Haven expression, or why there is none. */
  private expression(x: XmlElement): Expression | string {
    const attribute = x.attrs['attribute'] ?? '';
    const operation = x.attrs['operation'] ?? '';
    if (attribute.startsWith('#') && attribute !== '#uname') return `it tests ${attribute}; Haven rules know node attributes and #uname`;
    if ((x.attrs['value-source'] ?? 'literal') !== 'literal') return `it compares with a resource ${x.attrs['value-source']} value; Haven compares with literal values`;
    const type = x.attrs['type'];
    if (type === 'version') return 'it compares versions; Haven compares numbers and text';
    const op = operation === 'not_defined' ? 'not-defined' : operation;
    if (!['eq', 'ne', 'lt', 'gt', 'lte', 'gte', 'defined', 'not-defined'].includes(op)) return `operation ${operation} is not one Haven knows`;
    const raw = x.attrs['value'];
    let value: string | number | boolean | undefined;
    if (raw !== undefined && op !== 'defined' && op !== 'not-defined') {
      if ((type === 'number' || type === 'integer') && Number.isFinite(Number(raw)) && raw.trim() !== '') value = Number(raw);
      else value = attrFromCib(raw);
    }
    if (value === undefined && op !== 'defined' && op !== 'not-defined') return `operation ${operation} has no value`;
    return compact<Expression>({ attribute, op: op as Expression['op'], value });
  }

  private colocation(e: XmlElement, id: string, path: string): Constraint[] {
    const nodeAttr = e.attrs['node-attribute'];
    if (nodeAttr !== undefined && nodeAttr !== '#uname') {
      this.note(path, `colocation ${id} by node attribute ${nodeAttr}`, 'Haven colocates on the same node only');
      return [];
    }
    if (e.attrs['influence'] !== undefined) this.note(`${path}/@influence`, `influence=${e.attrs['influence']} on ${id}`, NO_EQUIVALENT);
    const score = parseScore(e.attrs['score'] ?? '0');
    if (score === undefined) {
      this.note(path, `colocation ${id}`, `score ${e.attrs['score'] ?? ''} is not a score`);
      return [];
    }
    const sets = childrenNamed(e, 'resource_set').map((s) => this.deref(s));
    const pairs: { rsc?: string | undefined; with?: string | undefined; role?: string | undefined; withRole?: string | undefined; score: number; id: string }[] = [];
    if (sets.length === 0) {
      pairs.push({ rsc: e.attrs['rsc'], with: e.attrs['with-rsc'], role: e.attrs['rsc-role'], withRole: e.attrs['with-rsc-role'], score, id });
    } else if (sets.length === 1) {
      // One sequential set (A B C): each member is placed with the one before it.
      const s = sets[0] as XmlElement;
      const members = childrenNamed(s, 'resource_ref').map((r) => r.attrs['id'] ?? '');
      if (s.attrs['sequential'] !== undefined && !cibTrue(s.attrs['sequential'])) {
        this.note(path, `colocation ${id}`, 'a single set that is not sequential colocates nothing');
        return [];
      }
      const setScore = s.attrs['score'] === undefined ? score : parseScore(s.attrs['score']);
      if (setScore === undefined) {
        this.note(path, `colocation ${id}`, 'its set score is not a score');
        return [];
      }
      for (let i = 1; i < members.length; i++) {
        pairs.push({ rsc: members[i], with: members[i - 1], role: s.attrs['role'], withRole: s.attrs['role'], score: setScore, id: `${id}-${i}` });
      }
    } else {
      this.note(path, `colocation ${id} between ${sets.length} resource sets`, 'Haven colocations relate two resources; write the pairs by hand');
      return [];
    }
    const out: Constraint[] = [];
    for (const p of pairs) {
      const a = this.ref(p.rsc);
      const b = this.ref(p.with);
      if (!a.ok || !b.ok) {
        this.note(path, `colocation ${p.id}`, (a.ok ? undefined : a.why) ?? (b.ok ? '' : b.why));
        continue;
      }
      if (a.id === b.id) {
        this.note(path, `colocation ${p.id}`, `it places ${a.id} with itself`);
        continue;
      }
      const role = p.role === undefined ? undefined : roleFromCib(p.role);
      const withRole = p.withRole === undefined ? undefined : roleFromCib(p.withRole);
      if ((p.role !== undefined && role === undefined) || (p.withRole !== undefined && withRole === undefined)) {
        this.note(path, `colocation ${p.id}`, 'it relates a Stopped role; Haven colocates running copies');
        continue;
      }
      out.push(compact<Constraint>({ type: 'colocation', id: p.id, resource: a.id, with: b.id, score: p.score, role, withRole }));
    }
    return out;
  }

  private order(e: XmlElement, id: string, path: string): Constraint[] {
    let kind: Order['kind'];
    const kindText = e.attrs['kind'];
    if (kindText !== undefined) {
      const k = kindText.toLowerCase();
      if (k !== 'mandatory' && k !== 'optional' && k !== 'serialize') {
        this.note(path, `order ${id} of kind ${kindText}`, 'Haven knows Mandatory, Optional and Serialize');
        return [];
      }
      kind = k;
    } else if (e.attrs['score'] !== undefined) {
      // The old spelling: score 0 is optional, anything else mandatory.
      kind = parseScore(e.attrs['score']) === 0 ? 'optional' : 'mandatory';
    }
    const symText = e.attrs['symmetrical'];
    const symmetrical = symText === undefined ? undefined : cibTrue(symText);
    if (e.attrs['require-all'] !== undefined && !cibTrue(e.attrs['require-all'])) {
      this.note(path, `order ${id} with require-all=false`, 'Haven orders need every resource before');
      return [];
    }
    const action = (text: string | undefined): ResourceAction | undefined | null => {
      if (text === undefined) return undefined;
      return (ACTIONS as readonly string[]).includes(text) ? (text as ResourceAction) : null;
    };
    const pairs: { first: string | undefined; then: string | undefined; fa: string | undefined; ta: string | undefined; id: string }[] = [];
    const sets = childrenNamed(e, 'resource_set').map((s) => this.deref(s));
    if (sets.length === 0) {
      pairs.push({ first: e.attrs['first'], then: e.attrs['then'], fa: e.attrs['first-action'], ta: e.attrs['then-action'], id });
    } else {
      for (const s of sets) {
        const bad = ['require-all', 'kind', 'score', 'role'].find((k) => s.attrs[k] !== undefined && !(k === 'require-all' && cibTrue(s.attrs[k])));
        if (bad !== undefined) {
          this.note(pathOf(path, s), `order ${id}: set option ${bad}=${s.attrs[bad] ?? ''}`, 'Haven orders pairs of resources; this set option has no pairwise meaning');
          return [];
        }
      }
      // Within a sequential set each member follows the previous one; between sets, the end of
      // one set (its last member, or all of a non-sequential set) precedes the start of the next.
      const expanded: { rsc: string; action: string | undefined }[][] = sets.map((s) =>
        childrenNamed(s, 'resource_ref').map((r) => ({ rsc: r.attrs['id'] ?? '', action: s.attrs['action'] })),
      );
      const sequential = sets.map((s) => s.attrs['sequential'] === undefined || cibTrue(s.attrs['sequential']));
      let n = 0;
      expanded.forEach((members, i) => {
        if (sequential[i]) {
          for (let j = 1; j < members.length; j++) {
            const a = members[j - 1] as { rsc: string; action: string | undefined };
            const b = members[j] as { rsc: string; action: string | undefined };
            pairs.push({ first: a.rsc, then: b.rsc, fa: a.action, ta: b.action, id: `${id}-${++n}` });
          }
        }
        const next = expanded[i + 1];
        if (next === undefined || members.length === 0 || next.length === 0) return;
        const tails = sequential[i] ? [members[members.length - 1] as { rsc: string; action: string | undefined }] : members;
        const heads = sequential[i + 1] ? [next[0] as { rsc: string; action: string | undefined }] : next;
        for (const a of tails) for (const b of heads) pairs.push({ first: a.rsc, then: b.rsc, fa: a.action, ta: b.action, id: `${id}-${++n}` });
      });
      if (pairs.length === 0) {
        this.note(path, `order ${id}`, 'its sets order nothing');
        return [];
      }
    }
    const out: Constraint[] = [];
    for (const p of pairs) {
      const a = this.ref(p.first);
      const b = this.ref(p.then);
      if (!a.ok || !b.ok) {
        this.note(path, `order ${p.id}`, (a.ok ? undefined : a.why) ?? (b.ok ? '' : b.why));
        continue;
      }
      if (a.id === b.id) {
        this.note(path, `order ${p.id}`, `it orders ${a.id} after itself`);
        continue;
      }
      const firstAction = action(p.fa);
      const thenAction = action(p.ta);
      if (firstAction === null || thenAction === null) {
        this.note(path, `order ${p.id}`, `action ${firstAction === null ? p.fa : p.ta} is not start, stop, promote or demote`);
        continue;
      }
      out.push(compact<Order>({ type: 'order', id: p.id, first: a.id, firstAction, then: b.id, thenAction, kind, symmetrical }));
    }
    return out;
  }

  // --- status ----------------------------------------------------------------------------

  private status(statusEl: XmlElement, nodes: readonly NodeConfig[]): Status {
    const base = '/cib/status';
    const nodeStatus: Record<string, NodeStatus> = {};
    const resources: Record<string, Record<string, CopyStatus>> = {};
    const failures: Failure[] = [];
    const unknownResources = new Map<string, Set<string>>();
    /** Transient attribute name → nodes that have it. */
    const otherAttributes = new Map<string, Set<string>>();
    const time = this.root.attrs['execution-date'] === undefined ? undefined : Number(this.root.attrs['execution-date']) * 1000;
    const configured = new Set(nodes.map((n) => n.name));
    const idToName = new Map<string, string>();
    for (const n of childrenNamed(childNamed(childNamed(this.root, 'configuration'), 'nodes'), 'node')) {
      if (n.attrs['id'] !== undefined && n.attrs['uname'] !== undefined) idToName.set(n.attrs['id'], n.attrs['uname']);
    }

    for (const ns of childrenNamed(statusEl, 'node_state')) {
      const name = ns.attrs['uname'] ?? idToName.get(ns.attrs['id'] ?? '');
      const path = pathOf(base, ns);
      if (name === undefined || !configured.has(name)) {
        this.note(path, `status of node ${name ?? ns.attrs['id'] ?? '?'}`, 'the node was not converted');
        continue;
      }
      const st: Writable<NodeStatus> = { state: this.nodeState(ns, path, name) };
      const here = this.history(ns, name, path, unknownResources);
      // Transient attributes: operator overrides, promotion scores, fail counts.
      const transient = new Map<string, string>();
      for (const ta of childrenNamed(ns, 'transient_attributes')) for (const [k, v] of this.nvsets(ta, 'instance_attributes', pathOf(path, ta))) transient.set(k, v);
      const others: string[] = [];
      for (const [k, v] of transient) {
        const fail = /^fail-count-(.+?)(?:#([a-z_-]+)_(\d+))?$/.exec(k);
        const promo = /^(?:master|promotion)-(.+)$/.exec(k);
        if (k === 'standby') st.standby = cibTrue(v);
        else if (k === 'maintenance') st.maintenance = cibTrue(v);
        else if (k === 'shutdown' || k === 'terminate') {
          if (v !== '0' && v !== '' && k === 'shutdown') this.note(path, `shutdown of ${name} under way`, 'Haven status has no record of a node shutting down');
          else if (v !== '0' && v !== '' && cibTrue(v)) this.note(path, `termination of ${name} requested`, 'Haven status has no record of a requested termination');
        } else if (k.startsWith('#') || k.startsWith('last-failure-') || k === 'probe_complete') {
          // The attribute manager's own facts; last-failure is read with its fail count.
        } else if (fail !== null) {
          const f = this.failure(fail, v, transient.get(`last-failure-${k.slice('fail-count-'.length)}`), name, time, path, unknownResources);
          if (f !== undefined) failures.push(f);
        } else if (promo !== null) {
          const key = this.copyKey(promo[1] as string);
          const score = Number(v);
          if (key === undefined) this.addUnknown(unknownResources, promo[1] as string, name);
          else if (!Number.isInteger(score)) this.note(path, `promotion score ${k}=${v} on ${name}`, 'not an integer');
          else {
            const copy = here.get(key) ?? { state: 'stopped' };
            here.set(key, { ...copy, promotionScore: score });
          }
        } else others.push(k);
      }
      for (const k of others) this.addUnknown(otherAttributes, k, name);
      // What a running node has not reported yet: unknown.
      if (st.state === 'online' || st.state === 'unclean') {
        const missing = [...this.primitives.keys()].filter((p) => !here.has(p));
        if (missing.length > 0 && missing.length === this.primitives.size) st.probed = false;
        else for (const p of missing) here.set(p, { state: 'unknown' });
      }
      for (const [key, copy] of here) {
        if (copy.state === 'stopped' && Object.keys(copy).length === 1) continue;
        (resources[key] ??= {})[name] = copy;
      }
      nodeStatus[name] = st;
    }
    for (const n of nodes) {
      if (nodeStatus[n.name] !== undefined) continue;
      nodeStatus[n.name] = { state: 'offline' };
      this.note(`${base}`, `status of node ${n.name}`, 'the CIB has no node_state for it (never seen); it was written as offline, while Pacemaker with startup-fencing would fence it first');
    }
    if (otherAttributes.size > 0) {
      const list = [...otherAttributes].map(([k, where]) => `${k} (${[...where].join(', ')})`).join(', ');
      this.note(`${base}/node_state/transient_attributes`, `node attributes ${list}`, 'Haven status has no per-node attributes; the agents that set them set them again');
    }
    for (const [rsc, where] of unknownResources) {
      this.note(`${base}//lrm_resource[@id='${rsc}']`, `history of ${rsc} on ${[...where].join(', ')}`, `${rsc} is not a converted resource; Haven would stop it as an orphan, so its state is left out`);
    }
    const haveQuorum = this.root.attrs['have-quorum'];
    const sortedResources = Object.fromEntries(Object.entries(resources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return compact<Status>({
      time,
      quorum: haveQuorum === undefined ? undefined : cibTrue(haveQuorum),
      nodes: nodeStatus,
      resources: Object.keys(sortedResources).length > 0 ? sortedResources : undefined,
      failures: failures.length > 0 ? failures : undefined,
    });
  }

  private nodeState(ns: XmlElement, path: string, name: string): NodeStatus['state'] {
    const yes = (v: string | undefined): boolean => v !== undefined && (cibTrue(v) || /^[1-9]\d*$/.test(v));
    const inCcm = yes(ns.attrs['in_ccm']);
    const crmd = ns.attrs['crmd'];
    const controller = crmd === 'online' || (crmd !== undefined && /^[1-9]\d*$/.test(crmd));
    const join = ns.attrs['join'];
    const expected = ns.attrs['expected'];
    if (inCcm && controller && join === 'member') return 'online';
    if (!inCcm && ns.attrs['crm-debug-origin'] === FENCED_ORIGIN) return 'fenced';
    if (expected === 'member' && (!inCcm || !controller)) return 'unclean';
    if (inCcm && controller) {
      this.note(path, `node ${name} joining (join=${join ?? '?'})`, 'Haven has no joining state; it was written as offline');
    }
    return 'offline';
  }

  /** A status key for a CIB resource id in the history: the primitive, or `<primitive>:N`. */
  private copyKey(rscId: string): string | undefined {
    if (this.primitives.has(rscId)) return rscId;
    const m = /^(.+):(\d+)$/.exec(rscId);
    if (m === null) return undefined;
    const facts = this.primitives.get(m[1] as string);
    if (facts === undefined || !facts.cloned) return undefined;
    return m[1] as string;
  }

  private addUnknown(map: Map<string, Set<string>>, rsc: string, node: string): void {
    const set = map.get(rsc) ?? new Set<string>();
    set.add(node);
    map.set(rsc, set);
  }

  /** Copy states on one node, replayed from its resource history. */
  private history(ns: XmlElement, node: string, path: string, unknown: Map<string, Set<string>>): Map<string, CopyStatus> {
    const out = new Map<string, CopyStatus>();
    for (const lrm of childrenNamed(ns, 'lrm')) {
      for (const lr of childrenNamed(childNamed(lrm, 'lrm_resources'), 'lrm_resource')) {
        const rscId = lr.attrs['id'] ?? '';
        const base = this.copyKey(rscId);
        if (base === undefined) {
          this.addUnknown(unknown, rscId, node);
          continue;
        }
        // Old anonymous clone history names instances (galera:0); several on one node get :1, :2, …
        let key = base;
        for (let n = 1; out.has(key); n++) key = `${base}:${n}`;
        const facts = this.primitives.get(base) as PrimitiveFacts;
        const copy = this.replay(lr, facts, pathOf(`${path}/lrm/lrm_resources`, lr));
        if (copy !== undefined) out.set(key, copy);
      }
    }
    return out;
  }

  private replay(lr: XmlElement, facts: PrimitiveFacts, path: string): CopyStatus | undefined {
    const ops: HistoryOp[] = childrenNamed(lr, 'lrm_rsc_op').map((o) => {
      const target = /^\d+:-?\d+:(\d+):/.exec(o.attrs['transition-key'] ?? '');
      return {
        operation: o.attrs['operation'] ?? '',
        interval: Number(o.attrs['interval'] ?? '0') || 0,
        rc: Number(o.attrs['rc-code'] ?? '0'),
        status: Number(o.attrs['op-status'] ?? '0'),
        call: Number(o.attrs['call-id'] ?? '0'),
        target: target === null ? undefined : Number(target[1]),
        at: Number(o.attrs['last-rc-change'] ?? '0'),
      };
    });
    // Pacemaker replays history by call id; -1 marks an operation still pending, the newest.
    const order = (x: HistoryOp): number => (x.call < 0 ? Number.MAX_SAFE_INTEGER : x.call);
    ops.sort((a, b) => order(a) - order(b) || a.at - b.at);
    let state: CopyStatus['state'] = 'unknown';
    let promoted = false;
    let lastChange = -Infinity;
    let activeMonitors = new Map<number, number>();
    for (const op of ops) {
      if (op.status === -1) {
        this.note(path, `pending ${op.operation} of ${lr.attrs['id'] ?? '?'}`, 'an operation in flight has no result yet; the state before it was kept');
        continue;
      }
      if (op.status === 1) continue; // cancelled
      const ok = op.status === 0;
      if (op.operation === 'monitor' && op.interval > 0) {
        const expected = op.target ?? (state === 'promoted' ? RC.runningPromoted : RC.ok);
        if (ok && op.rc === expected) {
          if (order(op) > lastChange) activeMonitors.set(op.interval, order(op));
          continue;
        }
        if (ok && op.rc === RC.notRunning && (state === 'stopped' || state === 'unknown')) continue;
        promoted = state === 'promoted' || op.rc === RC.failedPromoted;
        state = 'failed';
        continue;
      }
      lastChange = order(op);
      activeMonitors = new Map();
      if (!ok) {
        promoted = state === 'promoted' || op.operation === 'demote';
        state = 'failed';
        continue;
      }
      switch (op.operation) {
        case 'monitor': // a probe
          if (op.rc === RC.notRunning) state = 'stopped';
          else if (op.rc === RC.ok) state = 'started';
          else if (op.rc === RC.runningPromoted && facts.promotable) state = 'promoted';
          else {
            promoted = op.rc === RC.failedPromoted || op.rc === RC.runningPromoted;
            state = 'failed';
          }
          break;
        case 'start':
        case 'migrate_from':
        case 'migrate_to': // the source still runs it until it is stopped
          if (op.rc === RC.ok) state = 'started';
          else {
            promoted = false;
            state = 'failed';
          }
          break;
        case 'stop':
          if (op.rc === RC.ok) state = 'stopped';
          else {
            promoted = state === 'promoted';
            state = 'failed';
          }
          break;
        case 'promote':
          if (op.rc === RC.ok) state = 'promoted';
          else {
            promoted = false;
            state = 'failed';
          }
          break;
        case 'demote':
          if (op.rc === RC.ok) state = 'started';
          else {
            promoted = true;
            state = 'failed';
          }
          break;
        default:
          // notify, reload, meta-data, validate-all: no change of state.
          lastChange = -Infinity;
      }
    }
    if (state === 'unknown') return undefined;
    if (state === 'failed') return promoted ? { state, promoted: true } : { state };
    if (state === 'started' || state === 'promoted') {
      const configured = monitorsFor(facts.def.operations, facts.promotable, state)
        .map((o) => o.interval as number)
        .sort((a, b) => a - b);
      const active = [...activeMonitors.keys()].sort((a, b) => a - b);
      if (active.join(',') !== configured.join(',')) return { state, monitors: active };
    }
    return { state };
  }

  private failure(
    m: RegExpExecArray,
    count: string,
    lastText: string | undefined,
    node: string,
    time: number | undefined,
    path: string,
    unknown: Map<string, Set<string>>,
  ): Failure | undefined {
    const rsc = m[1] as string;
    const key = this.copyKey(rsc);
    if (key === undefined) {
      this.addUnknown(unknown, rsc, node);
      return undefined;
    }
    const c = parseScore(count);
    if (c === undefined || c <= 0) return undefined;
    const op = m[2];
    const operation = op !== undefined && HAVEN_OPERATIONS.has(op) ? (op as Failure['operation']) : undefined;
    if (op !== undefined && operation === undefined) this.note(path, `failures of ${rsc} ${op} on ${node}`, `Haven records failures of start, stop, monitor, promote and demote; kept without an operation`);
    let last = lastText === undefined ? undefined : Number(lastText) * 1000;
    if (last === undefined || !Number.isFinite(last)) {
      this.note(path, `time of the last failure of ${rsc} on ${node}`, `the CIB has no last-failure attribute; the snapshot time was used`);
      last = time ?? 0;
    }
    return compact<Failure>({ resource: key, node, count: c >= 1_000_000 ? 'INFINITY' : c, last, operation });
  }
}

function metaWhy(name: string): string {
  switch (name) {
    case 'allow-migrate':
      return 'Haven moves a resource by stop and start; live migration is not supported';
    case 'multiple-active':
      return 'Haven always stops every copy of a resource found running twice and starts one';
    case 'remote-node':
      return 'guest nodes (VMs as cluster nodes) come to Haven as hosts running the Haven agent';
    case 'container-attribute-target':
      return 'bundles are not converted';
    case 'notify':
      return 'Haven does not send clone notifications (pre/post start, stop, promote); check that the agent works without them';
    case 'globally-unique':
      return 'Haven clone copies are interchangeable (anonymous); copies with their own identity are separate primitives';
    case 'ordered':
      return 'Haven starts the copies of a clone in parallel';
    case 'clone-min':
      return 'Haven has no minimum number of copies before dependents may start';
    case 'maintenance':
      return 'Haven puts nodes or the whole cluster in maintenance, not single resources; managed: false is closest';
    case 'critical':
    case 'resource-discovery':
    default:
      return NO_EQUIVALENT;
  }
}
