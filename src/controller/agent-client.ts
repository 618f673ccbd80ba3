// The controller's side of the agent API (docs/agent.md): run one operation on a node, read
// what a node runs. Answers are validated like any input from the network; an agent that cannot
// be reached, answers late or answers nonsense gives a typed error, never a guess.

import { HavenError } from '../errors.js';
import { DEFAULTS, type Config } from '../model/config.js';
import { serversResultSchema, type ServersRequest, type ServersResult } from '../model/lb.js';
import {
  agentStateSchema,
  operationResultSchema,
  peersSchema,
  type AgentState,
  type Peers,
  type OperationRequest,
  type OperationResult,
} from '../model/wire.js';

/** How much longer than the operation's own timeout the controller waits for the answer. */
const MARGIN_MS = 2000;

export class AgentClient {
  private readonly port: number;
  private readonly ring: string | undefined;

  constructor(private readonly config: Config) {
    this.port = config.cluster.agentPort ?? DEFAULTS.agentPort;
    this.ring = config.rings?.[0]?.name;
  }

  url(node: string, path: string): string {
    const n = this.config.nodes.find((x) => x.name === node);
    const addresses = n?.addresses ?? {};
    const address = this.ring !== undefined ? addresses[this.ring] : Object.values(addresses)[0];
    if (address === undefined) throw new HavenError('UNREACHABLE', `node ${node} has no address to reach its agent on`);
    return `http://${address}:${this.port}${path}`;
  }

  async operation(node: string, req: OperationRequest, signal?: AbortSignal): Promise<OperationResult> {
    const body = await this.request(node, '/v1/operations', { method: 'POST', body: JSON.stringify(req) }, req.timeoutMs + MARGIN_MS, signal);
    const parsed = operationResultSchema.safeParse(body);
    if (!parsed.success) throw new HavenError('UNREACHABLE', `agent on ${node} answered ${req.action} with an invalid result: ${parsed.error.issues[0]?.message ?? '?'}`);
    return parsed.data;
  }

  async state(node: string, timeoutMs: number, signal?: AbortSignal): Promise<AgentState> {
    const body = await this.request(node, '/v1/state', { method: 'GET' }, timeoutMs, signal);
    const parsed = agentStateSchema.safeParse(body);
    if (!parsed.success) throw new HavenError('UNREACHABLE', `agent on ${node} answered its state with an invalid document: ${parsed.error.issues[0]?.message ?? '?'}`);
    if (parsed.data.node !== node) throw new HavenError('UNREACHABLE', `the agent at ${node}'s address says it is ${parsed.data.node}`);
    return parsed.data;
  }

  /** Sets a load balancer copy's backend servers (POST /v1/servers, src/controller/lb-sync.ts). */
  async servers(node: string, req: ServersRequest, signal?: AbortSignal): Promise<ServersResult> {
    const body = await this.request(node, '/v1/servers', { method: 'POST', body: JSON.stringify(req) }, req.timeoutMs + MARGIN_MS, signal);
    const parsed = serversResultSchema.safeParse(body);
    if (!parsed.success) throw new HavenError('UNREACHABLE', `agent on ${node} answered the servers of ${req.instance} with an invalid result: ${parsed.error.issues[0]?.message ?? '?'}`);
    return parsed.data;
  }

  /** What a node hears of its peers (distributed confirmation). */
  async peers(node: string, timeoutMs: number, signal?: AbortSignal): Promise<Peers> {
    const body = await this.request(node, '/v1/peers', { method: 'GET' }, timeoutMs, signal);
    const parsed = peersSchema.safeParse(body);
    if (!parsed.success) throw new HavenError('UNREACHABLE', `agent on ${node} answered its peers with an invalid document: ${parsed.error.issues[0]?.message ?? '?'}`);
    if (parsed.data.node !== node) throw new HavenError('UNREACHABLE', `the agent at ${node}'s address says it is ${parsed.data.node}`);
    return parsed.data;
  }

  private async request(node: string, path: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const url = this.url(node, path);
    const timeout = AbortSignal.timeout(timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers: { 'content-type': 'application/json' }, signal: both });
    } catch (err) {
      const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw new HavenError('UNREACHABLE', `agent on ${node} (${url}): ${why}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HavenError('UNREACHABLE', `agent on ${node} answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
    }
    if (res.status === 409) throw new HavenError('CONFLICT', `agent on ${node} refused the command: ${messageOf(body)}`);
    if (!res.ok) throw new HavenError('UNREACHABLE', `agent on ${node} answered ${res.status}: ${messageOf(body)}`);
    return body;
  }
}

function messageOf(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body) return String((body as { message: unknown }).message);
  return JSON.stringify(body).slice(0, 200);
}
