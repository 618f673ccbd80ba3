// The message that tells a load balancer copy which backend servers may take traffic:
// POST /v1/servers on the agent that runs the copy (docs/agent.md), sent by the controller's
// lb-sync (src/controller/lb-sync.ts) whenever what it knows of the backends changes. The agent
// hands it to the copy's resource agent (today `haproxy`), which applies it through HAProxy's
// runtime API and keeps it for the copy's next start or reload.

import { z } from 'zod';
import { resourceSpecSchema } from './wire.js';

/** A server's administrative state: takes traffic, finishes its sessions but takes no new ones, or out. */
export const SERVER_STATES = ['ready', 'drain', 'maint'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

export const serverWantSchema = z.strictObject({
  /** The service (`api` of `api.bind`). */
  service: z.string().min(1),
  /** The server: a node's name. */
  server: z.string().min(1),
  state: z.enum(SERVER_STATES),
  /** maint only: also close the sessions it has (its host is lost: they are dead anyway). */
  shutdown: z.boolean().optional(),
  /** Why, for the agent's log (`h2 is lost`). */
  reason: z.string().optional(),
});
export type ServerWant = z.output<typeof serverWantSchema>;

/** POST /v1/servers: every server of every service of one copy, as the controller wants them. */
export const serversRequestSchema = z.strictObject({
  epoch: z.number().int().nonnegative(),
  /** The load balancer's copy (`lb-haproxy`). */
  instance: z.string().min(1),
  resource: resourceSpecSchema,
  servers: z.array(serverWantSchema),
  timeoutMs: z.number().int().positive(),
});
export type ServersRequest = z.output<typeof serversRequestSchema>;

export const serverSeenSchema = z.strictObject({
  service: z.string(),
  server: z.string(),
  admin: z.enum(SERVER_STATES),
  operational: z.enum(['up', 'down', 'starting', 'stopping']),
  sessions: z.number().int().nonnegative(),
});
export type ServerSeen = z.output<typeof serverSeenSchema>;

export const serversResultSchema = z.strictObject({
  /** False when the copy does not run: the states are kept and its next start uses them. */
  applied: z.boolean(),
  /** What was done, one line. */
  output: z.string(),
  /** The servers as the load balancer reports them after the change (empty when not applied). */
  servers: z.array(serverSeenSchema),
});
export type ServersResult = z.output<typeof serversResultSchema>;
