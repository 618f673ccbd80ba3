// Pure: the `haproxy` resource agent's params, parsed, and the HAProxy configuration Haven
// renders from them. No I/O: the same params and server states give the same bytes, so the
// agent can tell whether a running HAProxy needs a reload by comparing texts.
//
// An haproxy primitive runs one HAProxy with one or more *services*. Each service is a frontend
// (`<service>.bind`, usually a VIP and port) and a backend whose servers are the nodes that may
// run a clone (`<service>.backend`): the controller fills `<service>.servers` in from the
// cluster configuration (each node's address on `ring` and the service `<service>.port`) when it
// sends an operation, so the config follows the cluster's nodes (src/controller/lb-sync.ts).
// Params (docs/agents.md):
//
//   api.bind: "10.0.0.100:80"       api.backend: api     api.port: 8080     api.balance: roundrobin
//
// Balancing modes: roundrobin and leastconn (stateless APIs), source (a client stays on one
// server while it is up: `balance source`, consistent hashing), single-writer (the seed's Galera
// routing: the first server is the only one used, the others are `backup`, and a stick table on
// the destination keeps every connection on the server chosen first; Haven clears that table
// when it takes the chosen server out, so traffic stays on the new writer when the old returns).
//
// Every backend gets `retries`, `option redispatch 1` and a short `timeout connect`: a request
// sent to a server that just died costs a retry on another server, not an error.

import { closest } from '../config/suggest.js';
import type { ServerState } from '../model/lb.js';
import { durationParam, intParam, stringParam, type Params } from './params.js';

export const BALANCE_MODES = ['roundrobin', 'leastconn', 'source', 'single-writer'] as const;
export type BalanceMode = (typeof BALANCE_MODES)[number];
export const SERVICE_MODES = ['tcp', 'http'] as const;
export type ServiceMode = (typeof SERVICE_MODES)[number];
export { SERVER_STATES, type ServerState } from '../model/lb.js';

/** Params of the whole HAProxy (not of one service). */
export const HAPROXY_PARAMS = [
  'binary',
  'ring',
  'connectTimeout',
  'clientTimeout',
  'serverTimeout',
  'retries',
  'checkInterval',
  'checkFall',
  'checkRise',
  'maxconn',
  'drainTimeout',
  'suspectAfter',
] as const;
/** Params of one service, written `<service>.<field>`. */
export const SERVICE_FIELDS = ['bind', 'backend', 'servers', 'port', 'balance', 'mode', 'check', 'retries', 'connectTimeout', 'transparent'] as const;

const SERVICE_RE = /^[A-Za-z0-9_-]{1,32}$/;
const SERVER_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HTTP_PATH_RE = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;

export interface Server {
  /** The node's name. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export type HealthCheck = { readonly kind: 'tcp' } | { readonly kind: 'http'; readonly path: string } | { readonly kind: 'none' };

export interface Service {
  readonly name: string;
  readonly bindAddress: string;
  readonly bindPort: number;
  /** The clone whose copies are the servers, when named. */
  readonly backend: string | undefined;
  /** Undefined until the controller filled them in from `backend` (or the operator wrote them). */
  readonly servers: readonly Server[] | undefined;
  /** The port of the backend copies (default: the bind port). */
  readonly port: number;
  readonly balance: BalanceMode;
  readonly mode: ServiceMode;
  readonly check: HealthCheck;
  readonly retries: number;
  readonly connectTimeoutMs: number;
  /**
   * Bind the address even while it is not on the host (`bind … transparent`): HAProxy runs on
   * every host (a clone) and the VIP, colocated with it, arrives on one of them at a failover.
   */
  readonly transparent: boolean;
}

export interface HaproxySpec {
  readonly binary: string;
  /** The ring whose node addresses the servers use; undefined: the first ring. */
  readonly ring: string | undefined;
  readonly services: readonly Service[];
  readonly clientTimeoutMs: number;
  readonly serverTimeoutMs: number;
  readonly checkIntervalMs: number;
  readonly checkFall: number;
  readonly checkRise: number;
  readonly maxconn: number;
  /** A planned stop of a backend copy waits this long at most for its sessions to end. */
  readonly drainTimeoutMs: number;
  /** Silence on every ring after which Haven takes a node's servers out; undefined: half the ring timeout. */
  readonly suspectAfterMs: number | undefined;
}

/** Haven's defaults: HAProxy's own for checks (inter 2s, fall 3, rise 2), a short connect timeout. */
export const HAPROXY_DEFAULTS = {
  connectTimeoutMs: 100,
  clientTimeoutMs: 30_000,
  serverTimeoutMs: 30_000,
  retries: 3,
  checkIntervalMs: 2_000,
  checkFall: 3,
  checkRise: 2,
  maxconn: 4096,
  drainTimeoutMs: 5_000,
} as const;

/** `ADDR:PORT` or `*:PORT`. */
function parseBind(text: string): { address: string; port: number } | string {
  const m = /^(\*|[0-9.]+):(\d{1,5})$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65535)) return `"${text}" is not ADDR:PORT (for example 10.0.0.100:80, or *:80)`;
  const address = m[1] as string;
  if (address !== '*' && !IPV4.test(address)) return `"${address}" is not an IPv4 address`;
  return { address, port };
}

/** `name=ADDR:PORT name=ADDR:PORT …`, blanks or commas between servers. */
export function parseServers(text: string): Server[] | string {
  const servers: Server[] = [];
  for (const word of text.split(/[\s,]+/).filter((w) => w !== '')) {
    const m = /^([^=]+)=([0-9.]+):(\d{1,5})$/.exec(word);
    const port = m === null ? NaN : Number(m[3]);
    if (m === null || !(port >= 1 && port <= 65535)) return `"${word}" is not NAME=ADDR:PORT`;
    const [name, address] = [m[1] as string, m[2] as string];
    if (!SERVER_RE.test(name)) return `"${name}" is not a server name (a node name: letters, digits, "_", "." and "-")`;
    if (!IPV4.test(address)) return `"${address}" is not an IPv4 address`;
    if (servers.some((s) => s.name === name)) return `server "${name}" is named twice`;
    servers.push({ name, address, port });
  }
  return servers;
}

/** Renders servers back to the param's form (the controller writes `<service>.servers` with it). */
export function formatServers(servers: readonly Server[]): string {
  return servers.map((s) => `${s.name}=${s.address}:${s.port}`).join(' ');
}

function parseCheck(text: string | undefined): HealthCheck | string {
  if (text === undefined || text === 'tcp') return { kind: 'tcp' };
  if (text === 'none') return { kind: 'none' };
  if (text.startsWith('http:')) {
    const path = text.slice(5);
    return HTTP_PATH_RE.test(path) ? { kind: 'http', path } : `"${path}" is not an HTTP path (write http:/health)`;
  }
  return `"${text}" is not a check (write tcp, http:/PATH or none)`;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T): T | string {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const near = closest(value, allowed);
  return `"${value}" is not one of ${allowed.join(', ')}${near === undefined ? '' : ` (did you mean "${near}"?)`}`;
}

/** The service names the params mention (`api` of `api.bind`), in the order first mentioned. */
export function serviceNames(params: Params): string[] {
  const names: string[] = [];
  for (const key of Object.keys(params)) {
    const dot = key.indexOf('.');
    if (dot <= 0) continue;
    const name = key.slice(0, dot);
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** Parses the params; a string[] lists every problem. `needServers`: refuse a service whose servers are not filled in. */
export function parseHaproxyParams(params: Params, opts: { needServers?: boolean } = {}): HaproxySpec | string[] {
  const problems: string[] = [];
  for (const key of Object.keys(params)) {
    const dot = key.indexOf('.');
    if (dot < 0) {
      if ((HAPROXY_PARAMS as readonly string[]).includes(key)) continue;
      const near = closest(key, [...HAPROXY_PARAMS, ...SERVICE_FIELDS.map((f) => `SERVICE.${f}`)]);
      problems.push(`haproxy: unknown param "${key}"${near === undefined ? '' : ` (did you mean "${near}"?)`}; a service's params are written <service>.<field>, e.g. api.bind`);
      continue;
    }
    const service = key.slice(0, dot);
    const field = key.slice(dot + 1);
    if (!SERVICE_RE.test(service)) problems.push(`${key}: "${service}" is not a service name (letters, digits, "_" and "-", at most 32)`);
    if (!(SERVICE_FIELDS as readonly string[]).includes(field)) {
      const near = closest(field, SERVICE_FIELDS);
      problems.push(`haproxy: unknown param "${key}"${near === undefined ? ` (a service's fields: ${SERVICE_FIELDS.join(', ')})` : ` (did you mean "${service}.${near}"?)`}`);
    }
  }
  const num = (r: number | string): number => {
    if (typeof r === 'string') {
      problems.push(r);
      return 0;
    }
    return r;
  };
  const connectTimeoutMs = num(durationParam(params, 'connectTimeout', HAPROXY_DEFAULTS.connectTimeoutMs));
  const retries = num(intParam(params, 'retries', HAPROXY_DEFAULTS.retries, 0, 100));
  const services: Service[] = [];
  const names = serviceNames(params);
  if (names.length === 0) problems.push('haproxy: no service: name at least one, e.g. api.bind: "10.0.0.100:80" and api.backend: api');
  for (const name of names) {
    const at = (f: string): string => `${name}.${f}`;
    const bindText = stringParam(params, at('bind'));
    const bind = bindText === undefined ? `${at('bind')}: required (the frontend's ADDR:PORT, usually a VIP)` : parseBind(bindText);
    if (typeof bind === 'string') problems.push(bindText === undefined ? bind : `${at('bind')}: ${bind}`);
    const backend = stringParam(params, at('backend'));
    const serversText = stringParam(params, at('servers'));
    let servers: Server[] | undefined;
    if (serversText !== undefined) {
      const s = parseServers(serversText);
      if (typeof s === 'string') problems.push(`${at('servers')}: ${s}`);
      else servers = s;
    } else if (backend === undefined) {
      problems.push(`${name}: name its backend clone (${at('backend')}) or list its servers (${at('servers')}: "n1=10.0.0.11:8080 n2=10.0.0.12:8080")`);
    } else if (opts.needServers === true) {
      problems.push(`${at('servers')}: not filled in from clone "${backend}" (the controller does that when it sends the operation)`);
    }
    const port = num(intParam(params, at('port'), typeof bind === 'string' ? 1 : bind.port, 1, 65535));
    const balance = oneOf(stringParam(params, at('balance')), BALANCE_MODES, 'roundrobin');
    if (balance !== 'roundrobin' && !(BALANCE_MODES as readonly string[]).includes(balance)) problems.push(`${at('balance')}: ${balance}`);
    const mode = oneOf(stringParam(params, at('mode')), SERVICE_MODES, 'tcp');
    if (mode !== 'tcp' && !(SERVICE_MODES as readonly string[]).includes(mode)) problems.push(`${at('mode')}: ${mode}`);
    const check = parseCheck(stringParam(params, at('check')));
    if (typeof check === 'string') problems.push(`${at('check')}: ${check}`);
    const svcRetries = num(intParam(params, at('retries'), retries, 0, 100));
    const svcConnect = num(durationParam(params, at('connectTimeout'), connectTimeoutMs));
    const transparentValue = params[at('transparent')];
    const transparent = transparentValue === true || transparentValue === 'true';
    if (transparentValue !== undefined && typeof transparentValue !== 'boolean' && transparentValue !== 'true' && transparentValue !== 'false') problems.push(`${at('transparent')}: must be true or false`);
    if (typeof bind !== 'string' && typeof check !== 'string') {
      services.push({
        name,
        bindAddress: bind.address,
        bindPort: bind.port,
        backend,
        servers,
        port,
        balance: balance as BalanceMode,
        mode: mode as ServiceMode,
        check,
        retries: svcRetries,
        connectTimeoutMs: svcConnect,
        transparent,
      });
    }
  }
  const binds = new Map<string, string>();
  for (const s of services) {
    const key = `${s.bindAddress}:${s.bindPort}`;
    const other = binds.get(key);
    if (other !== undefined) problems.push(`${s.name}.bind: ${key} is also ${other}.bind`);
    binds.set(key, s.name);
  }
  const spec = {
    binary: stringParam(params, 'binary') ?? 'haproxy',
    ring: stringParam(params, 'ring'),
    services,
    clientTimeoutMs: num(durationParam(params, 'clientTimeout', HAPROXY_DEFAULTS.clientTimeoutMs)),
    serverTimeoutMs: num(durationParam(params, 'serverTimeout', HAPROXY_DEFAULTS.serverTimeoutMs)),
    checkIntervalMs: num(durationParam(params, 'checkInterval', HAPROXY_DEFAULTS.checkIntervalMs)),
    checkFall: num(intParam(params, 'checkFall', HAPROXY_DEFAULTS.checkFall, 1, 100)),
    checkRise: num(intParam(params, 'checkRise', HAPROXY_DEFAULTS.checkRise, 1, 100)),
    maxconn: num(intParam(params, 'maxconn', HAPROXY_DEFAULTS.maxconn, 1, 1_000_000)),
    drainTimeoutMs: num(durationParam(params, 'drainTimeout', HAPROXY_DEFAULTS.drainTimeoutMs)),
    suspectAfterMs: params['suspectAfter'] === undefined ? undefined : num(durationParam(params, 'suspectAfter', 1)),
  };
  if (/[\s;#]/.test(spec.binary)) problems.push(`binary: "${spec.binary}" is not a program path`);
  return problems.length > 0 ? problems : spec;
}

/** Per service, per server: the state Haven last asked for. A server not named is ready. */
export type ServerStates = Readonly<Record<string, Readonly<Record<string, ServerState>>>>;

export interface RenderOptions {
  /** The primitive and copy, for the header. */
  readonly instance: string;
  /** The runtime API socket (`stats socket`). */
  readonly statsSocket: string;
  /** States to start servers in: maint and drain start `disabled` (no traffic until Haven says ready). */
  readonly states?: ServerStates;
}

export const frontendName = (service: string): string => `fe_${service}`;
export const backendName = (service: string): string => `be_${service}`;

function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The HAProxy configuration for a parsed spec. Services whose servers are unknown get none (every request answers 503). */
export function renderHaproxyConfig(spec: HaproxySpec, opts: RenderOptions): string {
  const out: string[] = [];
  const line = (s = ''): void => {
    out.push(s);
  };
  line(`# Written by Haven for ${opts.instance}; rewritten on every start and reload, do not edit.`);
  line('global');
  // The runtime API: Haven sets servers ready, drain or maint through it; expose-fd lets a reload
  // take the listening sockets over without closing them (no connection refused while reloading).
  line(`  stats socket ${opts.statsSocket} mode 600 level admin expose-fd listeners`);
  line('  stats timeout 10s');
  line(`  maxconn ${spec.maxconn}`);
  line();
  line('defaults');
  line('  mode tcp');
  line(`  timeout connect ${durationText(HAPROXY_DEFAULTS.connectTimeoutMs)}`);
  line(`  timeout client ${durationText(spec.clientTimeoutMs)}`);
  line(`  timeout server ${durationText(spec.serverTimeoutMs)}`);
  line(`  retries ${HAPROXY_DEFAULTS.retries}`);
  line('  option redispatch 1');
  line(`  default-server inter ${durationText(spec.checkIntervalMs)} fall ${spec.checkFall} rise ${spec.checkRise}`);
  for (const s of spec.services) {
    line();
    line(`frontend ${frontendName(s.name)}`);
    line(`  mode ${s.mode}`);
    line(`  bind ${s.bindAddress}:${s.bindPort}${s.transparent ? ' transparent' : ''}`);
    line(`  default_backend ${backendName(s.name)}`);
    line();
    line(`backend ${backendName(s.name)}`);
    line(`  mode ${s.mode}`);
    // A dead server costs a retry on another one (redispatch on every retry), not an error.
    line(`  timeout connect ${durationText(s.connectTimeoutMs)}`);
    line(`  retries ${s.retries}`);
    line('  option redispatch 1');
    switch (s.balance) {
      case 'roundrobin':
      case 'leastconn':
        line(`  balance ${s.balance}`);
        break;
      case 'source':
        line('  balance source');
        line('  hash-type consistent');
        break;
      case 'single-writer':
        // One writer: the first server; the others are backups. The stick table (one entry: every
        // client reaches the same VIP) keeps all connections on the server chosen first.
        line('  balance first');
        line('  stick-table type ip size 1 nopurge');
        line('  stick on dst');
        break;
      default: {
        const never: never = s.balance;
        throw new Error(`unknown balance ${String(never)}`);
      }
    }
    if (s.check.kind === 'http') {
      line(`  option httpchk GET ${s.check.path}`);
    }
    const states = opts.states?.[s.name] ?? {};
    (s.servers ?? []).forEach((srv, i) => {
      const words = [`  server ${srv.name} ${srv.address}:${srv.port}`];
      if (s.check.kind !== 'none') words.push('check');
      if (s.balance === 'single-writer' && i > 0) words.push('backup');
      const state = states[srv.name] ?? 'ready';
      if (state !== 'ready') words.push('disabled');
      line(words.join(' '));
    });
  }
  return `${out.join('\n')}\n`;
}
