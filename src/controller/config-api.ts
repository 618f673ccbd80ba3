// The configuration endpoints of the controller's API (docs/api.md, "Configuration"):
//
//   GET  /v1/config[?version=N]     the running configuration (or version N): its text and history entry
//   GET  /v1/config/history[?limit] the versions, oldest first, without their texts
//   POST /v1/config                 { config, baseVersion, message?, dryRun?, name?, user? }: validate, diff, plan; apply unless dryRun
//   POST /v1/config/rollback        { version?, baseVersion, message?, dryRun?, user? }: an older version again, as a new one
//
// A configuration that does not validate is answered 422 with every error located in its text
// (`errors`, as `haven check` prints them); a fixed field changed, 422 naming it; a stale
// baseVersion, 409 with both versions. Nothing changes on any refusal.

import type { Context, Hono } from 'hono';
import { stringify } from 'yaml';
import { z } from 'zod';
import { ConfigInvalidError, HavenError } from '../errors.js';
import type { ConfigResult, Controller } from './controller.js';
import { body } from './request-body.js';

/** Who asked, as the CLI reports it (its user name): recorded in the history, not trusted for anything. */
const user = z.string().min(1).max(64).regex(/^[^\n\r]*$/).optional();
const version = z.number().int().min(0);
const message = z.string().max(2000).optional();

const applyBody = z.strictObject({
  /** YAML (or JSON) text, or the configuration as a JSON object. */
  config: z.union([z.string().min(1).max(4_000_000), z.record(z.string(), z.unknown())]),
  /** What errors are located in (the operator's file name). */
  name: z.string().min(1).max(300).regex(/^[^\n\r]*$/).optional(),
  baseVersion: version.optional(),
  message,
  dryRun: z.boolean().optional(),
  user,
});

const rollbackBody = z.strictObject({
  /** The version to return to; default: the one the running version replaced. */
  version: z.number().int().min(1).optional(),
  baseVersion: version.optional(),
  message,
  dryRun: z.boolean().optional(),
  user,
});

export function registerConfigRoutes(app: Hono, controller: Controller): void {
  app.get('/v1/config', async (c) => {
    const v = c.req.query('version');
    return c.json(await controller.configShow(v === undefined ? undefined : positive(v, 'version')));
  });

  app.get('/v1/config/history', async (c) => {
    const limit = c.req.query('limit');
    return c.json(await controller.configHistory(limit === undefined ? 100 : Math.min(positive(limit, 'limit'), 10_000)));
  });

  app.post('/v1/config', async (c) => {
    const b = await body(c, applyBody);
    const dryRun = b.dryRun ?? false;
    const text = typeof b.config === 'string' ? b.config : stringify(b.config);
    return answer(c, controller, b.baseVersion, () =>
      controller.applyConfig({
        text,
        name: b.name ?? 'request',
        baseVersion: baseOf(b.baseVersion, dryRun),
        message: b.message ?? '',
        by: b.user === undefined ? 'operator' : `operator ${b.user}`,
        dryRun,
      }),
    );
  });

  app.post('/v1/config/rollback', async (c) => {
    const b = await body(c, rollbackBody);
    const dryRun = b.dryRun ?? false;
    return answer(c, controller, b.baseVersion, () =>
      controller.rollbackConfig({
        ...(b.version === undefined ? {} : { version: b.version }),
        baseVersion: baseOf(b.baseVersion, dryRun),
        message: b.message ?? '',
        by: b.user === undefined ? 'operator' : `operator ${b.user}`,
        dryRun,
      }),
    );
  });
}

/** A real apply says which version it is based on; a dry run may leave it out. */
function baseOf(base: number | undefined, dryRun: boolean): number {
  if (base !== undefined) return base;
  if (dryRun) return -1;
  throw new HavenError('USAGE', 'baseVersion is required: the configuration version the change is based on', {
    hint: 'GET /v1/config gives the running version; a change based on an older one is refused (409)',
  });
}

/** Runs a change; located errors and stale bases are answered with their details. */
async function answer(c: Context, controller: Controller, baseVersion: number | undefined, fn: () => Promise<ConfigResult>): Promise<Response> {
  try {
    return c.json(await fn());
  } catch (err) {
    if (err instanceof ConfigInvalidError) return c.json({ code: err.code, message: err.message, errors: err.errors }, 422);
    if (err instanceof HavenError && err.code === 'CONFLICT') {
      const running = controller.snapshot().config?.version;
      return c.json({ code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(baseVersion === undefined ? {} : { baseVersion }), ...(running === undefined ? {} : { runningVersion: running }) }, 409);
    }
    throw err;
  }
}

function positive(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new HavenError('USAGE', `${name}=${text} is not a positive integer`);
  return n;
}
