// The body of a request to the controller's API, parsed and validated: empty is `{}`, anything
// that is not JSON or does not fit the schema is a USAGE error naming every problem.

import type { Context } from 'hono';
import type { z } from 'zod';
import { HavenError } from '../errors.js';

export async function body<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const text = await c.req.text();
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new HavenError('USAGE', `the request body is not JSON: ${(err as Error).message}`);
    }
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
    throw new HavenError('USAGE', `invalid request body: ${msg}`);
  }
  return r.data;
}
