// The agent's HTTP API, as a hono app the daemon serves and tests call without a socket
// (app.request()). Routes (docs/agent.md):
//   POST /v1/operations   operationRequest → operationResult, when the operation is done
//   POST /v1/servers      serversRequest → serversResult: a load balancer copy's backend servers
//   GET  /v1/state        agentState: every copy the agent knows
//   GET  /v1/health       { ok: true, … }
// Errors answer { code, message, hint?, problems? } (as the controller's API does) with the status of the code in
// src/errors.ts: 400 USAGE (the body did not parse; `problems` lists each), 409 CONFLICT (stale
// epoch), 503 UNREACHABLE (the agent is not running). A refused request changes nothing.

import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { problemsFromIssues } from '../config/zod-issues.js';
import { ERROR_CODES, HavenError, type ErrorCode } from '../errors.js';
import { serversRequestSchema } from '../model/lb.js';
import { operationRequestSchema, type Peers } from '../model/wire.js';
import type { Agent } from './agent.js';

/** Largest request body accepted (a request carries one resource spec). */
export const MAX_BODY_BYTES = 256 * 1024;

export interface ApiProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly hint?: string;
}

export interface AgentApiOptions {
  /** What this node hears of its peers (distributed confirmation); absent: 404 on /v1/peers. */
  readonly peers?: () => Peers;
}

export function createAgentApi(agent: Agent, options: AgentApiOptions = {}): Hono {
  const app = new Hono();

  app.get('/v1/health', (c) => {
    const lease = agent.leaseInfo();
    return c.json(
      { ok: agent.lifecycle === 'running', node: agent.node, lifecycle: agent.lifecycle, incarnation: agent.incarnation, epoch: agent.epoch, ...(lease === undefined ? {} : { lease }) },
      agent.lifecycle === 'running' ? 200 : 503,
    );
  });

  app.get('/v1/peers', (c) => {
    if (options.peers === undefined) return fail(c, 'NOT_FOUND', `${agent.node} does not listen to its peers`, { hint: 'distributed confirmation is off (cluster.confirmation.enabled), or there are no rings' });
    return c.json(options.peers());
  });

  // Never report what a previous run recorded before it was checked: wait for the adoption probes.
  app.get('/v1/state', async (c) => {
    await agent.adopted();
    return c.json(agent.state());
  });

  postJson(app, '/v1/operations', operationRequestSchema, 'operation request', 'operationRequest', (req) => agent.submit(req));
  postJson(app, '/v1/servers', serversRequestSchema, 'servers request', 'serversRequest', (req) => agent.setServers(req));

  app.notFound((c) => fail(c, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`, { hint: 'routes: POST /v1/operations, GET /v1/state, GET /v1/health, GET /v1/peers, POST /v1/servers' }));
  app.onError((err, c) => fail(c, 'INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)}`));
  return app;
}

/**
 * A POST route whose body must be JSON fitting `schema`: refused whole (USAGE, with every
 * problem) otherwise; a HavenError from `handle` answers with its code.
 */
function postJson<S extends z.ZodType>(app: Hono, path: string, schema: S, what: string, schemaName: string, handle: (req: z.output<S>) => Promise<object>): void {
  app.post(path, async (c) => {
    const text = await c.req.text();
    if (text.length > MAX_BODY_BYTES) return fail(c, 'USAGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      return fail(c, 'USAGE', `the request body is not JSON: ${err instanceof Error ? err.message : String(err)}`, { hint: `send a ${schemaName} as JSON (docs/agent.md)` });
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const problems: ApiProblem[] = problemsFromIssues(parsed.error.issues, data, schema).map((p) => ({ path: p.path, message: p.message, ...(p.hint === undefined ? {} : { hint: p.hint }) }));
      return fail(c, 'USAGE', `the ${what} was refused (${problems.length} problem${problems.length === 1 ? '' : 's'})`, { problems });
    }
    try {
      return c.json(await handle(parsed.data));
    } catch (err) {
      if (err instanceof HavenError) return fail(c, err.code, err.message, err.hint === undefined ? {} : { hint: err.hint });
      throw err;
    }
  });
}

function fail(c: Context, code: ErrorCode, message: string, extra: { hint?: string; problems?: ApiProblem[] } = {}): Response {
  const status = ERROR_CODES[code].httpStatus as 400 | 404 | 409 | 422 | 500 | 501 | 503;
  return c.json({ code, message, ...extra }, status);
}
