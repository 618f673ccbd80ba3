// The `ocf:<provider>:<type>` resource agents: Linux HA's OCF scripts (Debian's resource-agents,
// pacemaker-resource-agents) run unchanged from /usr/lib/ocf/resource.d/<provider>/<type>, with
// the environment the OCF resource-agent API defines and Pacemaker provides, and with params
// checked against the agent's own meta-data before anything runs.

import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { closest } from '../config/suggest.js';
import { HavenError } from '../errors.js';
import { describeRc, OCF_RC } from '../model/wire.js';
import { runCommand, tail, type CommandResult } from './exec.js';
import type { OperationContext, ParamValue, ResourceAgent, ResourceOperation, ResourceOutcome } from './types.js';

export const DEFAULT_OCF_ROOT = '/usr/lib/ocf';
const META_DATA_TIMEOUT_MS = 10_000;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const PARAM_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Keep this much of an agent's output in an outcome. */
const OUTPUT_LINES = 30;

export interface OcfOptions {
  /** Where the agents live (OCF_ROOT); tests point it at their own. */
  readonly ocfRoot?: string;
}

/** One parameter an agent's meta-data declares. */
export interface OcfParameter {
  readonly name: string;
  readonly required: boolean;
  /** `string`, `integer`, `boolean`, … as the meta-data says. */
  readonly type: string;
}

export interface OcfMetaData {
  readonly parameters: readonly OcfParameter[];
  /** The actions it declares (start, stop, monitor, promote, …). */
  readonly actions: readonly string[];
}

/** `ocf:heartbeat:IPaddr2` → its provider and type; undefined when the kind is not of that shape. */
export function parseOcfKind(kind: string): { provider: string; type: string } | undefined {
  const parts = kind.split(':');
  if (parts.length !== 3 || parts[0] !== 'ocf') return undefined;
  const [, provider, type] = parts as [string, string, string];
  if (!NAME_RE.test(provider) || !NAME_RE.test(type)) return undefined;
  return { provider, type };
}

// ---- meta-data ----

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  isArray: (name) => name === 'parameter' || name === 'action',
});

/** Reads the parameters and actions out of an agent's meta-data XML. */
export function parseMetaData(xml: string): OcfMetaData {
  const doc = parser.parse(xml) as { 'resource-agent'?: RawAgent };
  const ra = doc['resource-agent'];
  if (ra === undefined || typeof ra !== 'object') throw new Error('no <resource-agent> element');
  const parameters = (ra.parameters?.parameter ?? []).map((p) => ({
    name: String(p.name ?? ''),
    required: p.required === '1' || p.required === 'true' || p.required === 'yes',
    type: String(p.content?.type ?? 'string'),
  }));
  const actions = (ra.actions?.action ?? []).map((a) => String(a.name ?? ''));
  return { parameters: parameters.filter((p) => p.name !== ''), actions: [...new Set(actions.filter((a) => a !== ''))] };
}

interface RawAgent {
  parameters?: { parameter?: { name?: unknown; required?: unknown; content?: { type?: unknown } }[] };
  actions?: { action?: { name?: unknown }[] };
}

/** Meta-data per agent script, fetched once; a failed fetch is not kept. */
const metaDataCache = new Map<string, Promise<OcfMetaData>>();

// ---- the agent ----

class OcfAgent implements ResourceAgent {
  readonly kind: string;
  private readonly provider: string;
  private readonly type: string;
  private readonly ocfRoot: string;
  private readonly script: string;

  constructor(kind: string, provider: string, type: string, ocfRoot: string) {
    this.kind = kind;
    this.provider = provider;
    this.type = type;
    this.ocfRoot = ocfRoot;
    this.script = join(ocfRoot, 'resource.d', provider, type);
  }

  async validate(params: Readonly<Record<string, ParamValue>>): Promise<string[]> {
    if (!(await this.installed())) return [this.notInstalledMessage()];
    let meta: OcfMetaData;
    try {
      meta = await this.metaData();
    } catch (e) {
      return [`${this.kind}: cannot read its meta-data: ${(e as Error).message}`];
    }
    return checkParams(this.kind, params, meta);
  }

  /** The agent's meta-data, cached per script. */
  metaData(): Promise<OcfMetaData> {
    let p = metaDataCache.get(this.script);
    if (p === undefined) {
      p = this.fetchMetaData();
      metaDataCache.set(this.script, p);
      p.catch(() => metaDataCache.delete(this.script));
    }
    return p;
  }

  private async fetchMetaData(): Promise<OcfMetaData> {
    const r = await runCommand(this.script, ['meta-data'], { timeoutMs: META_DATA_TIMEOUT_MS, env: this.baseEnv('meta-data', undefined) });
    if (r.code !== 0) throw new Error(`\`${this.script} meta-data\` ${howItEnded(r)}`);
    return parseMetaData(r.stdout);
  }

  async run(operation: ResourceOperation, ctx: OperationContext): Promise<ResourceOutcome> {
    if (!(await this.installed())) return { rc: OCF_RC.ERR_INSTALLED, output: this.notInstalledMessage() };
    await mkdir(join(ctx.stateDir, 'rsctmp'), { recursive: true });
    await mkdir(join(ctx.stateDir, 'run'), { recursive: true });
    const r = await runCommand(this.script, [operation], {
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      env: this.baseEnv(operation, ctx),
      cwd: '/',
    });
    return outcomeOf(operation, ctx.timeoutMs, r);
  }

  /** The environment the OCF API defines, as Pacemaker's executor sets it. */
  private baseEnv(action: string, ctx: OperationContext | undefined): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('OCF_') && !k.startsWith('HA_')) env[k] = v;
    }
    env.PATH ??= '/usr/sbin:/usr/bin:/sbin:/bin';
    Object.assign(env, {
      OCF_ROOT: this.ocfRoot,
      OCF_RA_VERSION_MAJOR: '1',
      OCF_RA_VERSION_MINOR: '1',
      OCF_RESOURCE_TYPE: this.type,
      OCF_RESOURCE_PROVIDER: this.provider,
      // Messages go to stderr, which Haven keeps as the operation's output.
      HA_LOGFACILITY: 'none',
      HA_debug: '0',
    });
    if (ctx === undefined) return env;
    for (const [k, v] of Object.entries(ctx.params)) env[`OCF_RESKEY_${k}`] = String(v);
    Object.assign(env, {
      OCF_RESOURCE_INSTANCE: ctx.instance,
      OCF_RESKEY_CRM_meta_name: action,
      OCF_RESKEY_CRM_meta_timeout: String(ctx.timeoutMs),
      OCF_RESKEY_CRM_meta_interval: String(action === 'monitor' ? ctx.intervalMs : 0),
      // Per copy, so two lab hosts sharing one filesystem never share an agent's state file.
      HA_RSCTMP: join(ctx.stateDir, 'rsctmp'),
      HA_VARRUN: join(ctx.stateDir, 'run'),
    });
    return env;
  }

  private async installed(): Promise<boolean> {
    try {
      await access(this.script, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }

  private notInstalledMessage(): string {
    const pkg = this.provider === 'heartbeat' ? 'resource-agents' : this.provider === 'pacemaker' ? 'pacemaker-resource-agents' : undefined;
    const hint = pkg === undefined ? `install the package that provides ${this.provider} agents` : `apt-get install ${pkg}`;
    return `${this.kind} is not installed: no executable ${this.script} (hint: ${hint})`;
  }
}

/** Problems with params against the meta-data: required ones missing, unknown names, wrong types. */
export function checkParams(kind: string, params: Readonly<Record<string, ParamValue>>, meta: OcfMetaData): string[] {
  const problems: string[] = [];
  const known = meta.parameters.map((p) => p.name);
  for (const p of meta.parameters) {
    if (p.required && (params[p.name] === undefined || params[p.name] === '')) problems.push(`${kind}: param "${p.name}" is required`);
  }
  for (const [name, value] of Object.entries(params)) {
    const decl = meta.parameters.find((p) => p.name === name);
    if (decl === undefined) {
      problems.push(unknownMessage(kind, name, known));
      continue;
    }
    const wrong = wrongType(decl, value);
    if (wrong !== undefined) problems.push(`${kind}: param "${name}" ${wrong}`);
  }
  for (const name of Object.keys(params)) {
    if (!PARAM_RE.test(name)) problems.push(`${kind}: param name "${name}" cannot be an environment variable name`);
  }
  return problems;
}

function unknownMessage(kind: string, name: string, known: readonly string[]): string {
  const near = closest(name, known);
  if (near !== undefined) return `${kind}: unknown param "${name}" (did you mean "${near}"?)`;
  return `${kind}: unknown param "${name}" (${known.length === 0 ? 'it takes no params' : `known: ${known.join(', ')}`})`;
}

function wrongType(decl: OcfParameter, value: ParamValue): string | undefined {
  const text = String(value).trim();
  if (decl.type === 'integer' && !/^[+-]?\d+$/.test(text)) return `must be an integer, not ${JSON.stringify(value)}`;
  if (decl.type === 'boolean' && !/^(true|false|yes|no|on|off|1|0|y|n)$/i.test(text)) return `must be a boolean, not ${JSON.stringify(value)}`;
  return undefined;
}

function howItEnded(r: CommandResult): string {
  if (r.spawnError !== undefined) return `could not start: ${r.spawnError.code ?? r.spawnError.message}`;
  if (r.timedOut) return `timed out after ${Math.round(r.durationMs)} ms`;
  if (r.code === null) return `was killed by ${r.signal ?? 'a signal'}`;
  return `exited ${r.code}${r.stderr.trim() === '' ? '' : `: ${tail(r.stderr, 3)}`}`;
}

/** Maps how the script ended to an OCF outcome whose output starts with the code's meaning. */
export function outcomeOf(action: string, timeoutMs: number, r: CommandResult): ResourceOutcome {
  const said = tail([r.stdout.trim(), r.stderr.trim()].filter((s) => s !== '').join('\n'), OUTPUT_LINES);
  const withOutput = (head: string): string => (said === '' ? head : `${head}: ${said}`);
  if (r.spawnError !== undefined) {
    const rc = r.spawnError.code === 'EACCES' ? OCF_RC.ERR_PERM : OCF_RC.ERR_INSTALLED;
    return { rc, output: `${action}: cannot run the agent: ${r.spawnError.code ?? r.spawnError.message}` };
  }
  if (r.timedOut) return { rc: OCF_RC.ERR_GENERIC, timedOut: true, output: withOutput(`${action} timed out after ${timeoutMs} ms; its process group was killed`) };
  if (r.code === null) return { rc: OCF_RC.ERR_GENERIC, output: withOutput(`${action}: the agent was killed by ${r.signal ?? 'a signal'}`) };
  if (r.code > 9) return { rc: OCF_RC.ERR_GENERIC, output: withOutput(`${action}: exit ${describeRc(r.code)}, taken as 1 (generic error)`) };
  return { rc: r.code, output: withOutput(`${action}: rc ${describeRc(r.code)}`) };
}

/** The agent for `ocf:<provider>:<type>`; throws CONFIG_INVALID for a malformed kind. */
export function ocfAgent(kind: string, options: OcfOptions = {}): ResourceAgent & { metaData(): Promise<OcfMetaData> } {
  const parsed = parseOcfKind(kind);
  if (parsed === undefined) {
    throw new HavenError('CONFIG_INVALID', `"${kind}" is not an OCF agent name`, { hint: 'write ocf:<provider>:<type>, for example ocf:heartbeat:IPaddr2' });
  }
  return new OcfAgent(kind, parsed.provider, parsed.type, options.ocfRoot ?? DEFAULT_OCF_ROOT);
}
