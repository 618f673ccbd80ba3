// The observed state of a cluster: what the controller knows about nodes, resource copies and
// failures at one moment. The scheduler reads it; it never changes it.
//
// Resource copies are keyed by primitive id (for a clone, the id of the primitive inside it), then
// by node. A clone with maxPerNode > 1 records its extra copies on a node as `<primitive>:1`,
// `<primitive>:2`, ...

import { z } from 'zod';
import { duration, id } from './config.js';

export const NODE_STATES = ['online', 'offline', 'unclean', 'fenced'] as const;
/**
 * online: member, reachable, clean. offline: cleanly left (nothing runs there).
 * unclean: lost without proof that it stopped; must be fenced before what ran there is recovered.
 * fenced: confirmed powered off by a fence device.
 */
export type NodeState = (typeof NODE_STATES)[number];

export const COPY_STATES = ['stopped', 'started', 'promoted', 'failed', 'unknown'] as const;
/**
 * started: running (for a promotable clone: as a replica). promoted: running as primary.
 * failed: an operation failed; the copy must be stopped before it is trusted again.
 * unknown: not probed yet on this node.
 */
export type CopyState = (typeof COPY_STATES)[number];

const time = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a time; use ISO 8601 (2026-11-24T10:00:00Z) or epoch milliseconds` });
    return z.NEVER;
  }
  return ms;
});

export const nodeStatusSchema = z.strictObject({
  state: z.enum(NODE_STATES),
  /** Operator-set, in addition to the config's: no resources may run here. */
  standby: z.boolean().optional(),
  /** Operator-set, in addition to the config's: Haven observes the node but never acts on it. */
  maintenance: z.boolean().optional(),
  /** A fence of this node is under way. */
  fencing: z.boolean().optional(),
  /** The node's agent has reported every configured resource (default true). */
  probed: z.boolean().optional(),
  /**
   * Unclean, and its agent's lease may still be held (default false): copies that do not wait
   * for a fence (requires quorum) still wait for the lease to end, when the agent stops them.
   */
  leased: z.boolean().optional(),
});
export type NodeStatus = z.output<typeof nodeStatusSchema>;

export const copyStatusSchema = z.strictObject({
  state: z.enum(COPY_STATES),
  /** The agent's preference for promoting this copy (higher wins). */
  promotionScore: z.number().int().optional(),
  /** For a failed copy: it was promoted when it failed. */
  promoted: z.boolean().optional(),
  /** Intervals of the recurring monitors running now; absent: as configured. */
  monitors: z.array(duration).optional(),
});
export type CopyStatus = z.output<typeof copyStatusSchema>;

/** A copy may be written as just its state: `web: { n1: started }`. */
const copyEntry = z.union([z.enum(COPY_STATES), copyStatusSchema]).transform((v) => (typeof v === 'string' ? { state: v } : v));

export const failureSchema = z.strictObject({
  resource: z.string().min(1),
  node: z.string().min(1),
  /** How many times it failed on that node; INFINITY after a fatal start failure. */
  count: z.union([z.number().int().min(1), z.literal('INFINITY')]),
  /** When it last failed. */
  last: time,
  operation: z.enum(['monitor', 'start', 'stop', 'promote', 'demote']).optional(),
});
export type Failure = z.output<typeof failureSchema>;

export const statusSchema = z.strictObject({
  /** When the status was taken; the default `now` for planning. */
  time: time.optional(),
  /** Whether this partition holds quorum (default true). */
  quorum: z.boolean().optional(),
  nodes: z.record(id, nodeStatusSchema),
  resources: z.record(z.string().min(1), z.record(z.string().min(1), copyEntry)).optional(),
  failures: z.array(failureSchema).optional(),
});
/** A status snapshot as parsed. */
export type Status = z.output<typeof statusSchema>;
export type StatusInput = z.input<typeof statusSchema>;
