// The controller's HTTP API (docs/api.md): agents report here, and the CLI reads the status and
// sends operator commands. Every body is validated; a refused request changes nothing and says
// why with the error's stable code. The app is plain hono, testable with `app.request()`.
//
// Every controller answers the read-only endpoints (GET); only the leader takes a POST (an
// operator's command, an agent's report): a follower answers 409 CONFLICT naming the leader and
// its API URL (`leader` in the body), or 503 UNREACHABLE while nobody leads, so that the CLI and
// the agents' reporters go to the leader.

import { Hono } from 'hono';
import { z } from 'zod';
import { HavenError } from '../errors.js';
import { id } from '../model/config.js';
import { parseDuration } from '../model/units.js';
import { agentReportSchema } from '../model/wire.js';
import { registerConfigRoutes } from './config-api.js';
import type { Controller } from './controller.js';
import { body } from './request-body.js';

const lifetime = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `lifetime "${text}" is not a positive duration (e.g. 10m, 1h)` });
      return z.NEVER;
    }
    return ms;
  });
const moveBody = z.strictObject({ node: id.optional(), lifetime });
const banBody = z.strictObject({ node: id, lifetime });
const cleanupBody = z.strictObject({ node: id.optional() });
const emptyBody = z.strictObject({});
const nodeBody = z.strictObject({ on: z.boolean().optional() });
/** Who asked, as the CLI reports it (its user name): recorded in the fence history, not trusted for anything. */
const user = z.string().min(1).max(64).regex(/^[^\n\r]*$/).optional();
const fenceBody = z.strictObject({ action: z.enum(['off', 'reboot']).optional(), reason: z.string().max(500).optional(), user });
const unfenceBody = z.strictObject({ user });

export function controllerApp(controller: Controller): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof HavenError) return c.json({ code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }, err.httpStatus as 400);
    return c.json({ code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) }, 500);
  });
  app.notFound((c) => c.json({ code: 'NOT_FOUND', message: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));

  // Commands go to the leader only.
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    try {
      controller.assertLeads();
    } catch (err) {
      if (!(err instanceof HavenError)) throw err;
      const leader = controller.snapshotLeader();
      return c.json({ code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(leader ? { leader } : {}) }, err.httpStatus as 409);
    }
    return next();
  });

  app.get('/v1/health', (c) => c.json({ ok: true, name: controller.name, role: controller.leads() ? 'leader' : 'follower', phase: controller.phase, epoch: controller.epoch, leader: controller.snapshotLeader() }));
  app.get('/v1/status', (c) => c.json(controller.snapshot()));
  app.get('/v1/plan', (c) => c.json(controller.currentPlan()));
  app.get('/v1/events', async (c) => {
    const since = intQuery(c.req.query('since'), 0, 'since');
    const limit = intQuery(c.req.query('limit'), 1000, 'limit');
    return c.json(await controller.events(since, Math.min(limit, 10_000)));
  });

  app.post('/v1/agents/report', async (c) => c.json(controller.report(await body(c, agentReportSchema))));

  app.post('/v1/resources/:id/move', async (c) => {
    const b = await body(c, moveBody);
    return c.json({ constraint: controller.move(c.req.param('id'), b.node, b.lifetime) });
  });
  app.post('/v1/resources/:id/ban', async (c) => {
    const b = await body(c, banBody);
    return c.json({ constraint: controller.ban(c.req.param('id'), b.node, b.lifetime) });
  });
  app.post('/v1/resources/:id/clear', async (c) => {
    await body(c, emptyBody);
    return c.json({ cleared: controller.clear(c.req.param('id')) });
  });
  app.post('/v1/resources/:id/cleanup', async (c) => {
    const b = await body(c, cleanupBody);
    return c.json({ cleared: controller.cleanup(c.req.param('id'), b.node) });
  });
  app.post('/v1/resources/:id/restart', async (c) => {
    await body(c, emptyBody);
    controller.restart(c.req.param('id'));
    return c.json({ restarting: c.req.param('id') });
  });
  app.get('/v1/fence/history', async (c) => {
    const node = c.req.query('node');
    if (node !== undefined && !id.safeParse(node).success) throw new HavenError('USAGE', `node=${node} is not a node name`);
    const limit = intQuery(c.req.query('limit'), 1000, 'limit');
    return c.json(await controller.fencing.history({ ...(node === undefined ? {} : { node }), limit: Math.min(limit, 10_000) }));
  });
  app.get('/v1/fence/devices', async (c) => {
    const check = c.req.query('check');
    if (check !== undefined && check !== 'true' && check !== 'false') throw new HavenError('USAGE', `check=${check} is not true or false`);
    return c.json(await controller.fencing.devices(check === 'true'));
  });
  app.post('/v1/nodes/:name/fence', async (c) => {
    const b = await body(c, fenceBody);
    const by = b.user === undefined ? 'operator' : `operator ${b.user}`;
    return c.json(await controller.fenceByOperator(c.req.param('name'), b.action ?? 'off', b.reason ?? 'asked by the operator', by));
  });
  app.post('/v1/nodes/:name/unfence', async (c) => {
    const b = await body(c, unfenceBody);
    return c.json(await controller.unfenceByOperator(c.req.param('name'), b.user === undefined ? 'operator' : `operator ${b.user}`));
  });
  app.post('/v1/nodes/:name/:what', async (c) => {
    const b = await body(c, nodeBody);
    const node = c.req.param('name');
    const what = c.req.param('what');
    switch (what) {
      case 'standby':
        controller.setNode(node, 'standby', b.on ?? true);
        break;
      case 'online':
        controller.setNode(node, 'standby', false);
        break;
      case 'maintenance':
        controller.setNode(node, 'maintenance', b.on ?? true);
        break;
      default:
        throw new HavenError('NOT_FOUND', `no node command "${what}"`, { hint: 'standby, online or maintenance' });
    }
    return c.json({ node, [what]: b.on ?? true });
  });
  registerConfigRoutes(app, controller);
  return app;
}

function intQuery(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new HavenError('USAGE', `${name}=${text} is not a non-negative integer`);
  return n;
}
