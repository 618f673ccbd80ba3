// The agent's memory across restarts, one JSON file in the state dir (`agent.json`): the highest
// controller epoch accepted, the last incarnation, every copy it runs with its spec and monitors,
// and the events the controller has not acknowledged yet. Rewritten atomically on every change
// (src/atomic-file.ts), so a restarted agent re-adopts its copies and resends what was not heard.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { HavenError, IoError } from '../errors.js';
import { id } from '../model/config.js';
import { AGENT_COPY_STATES, agentEventSchema, resourceSpecSchema } from '../model/wire.js';

export const STATE_FILE = 'agent.json';
export const STATE_FILE_VERSION = 1;

export const monitorSpecSchema = z.strictObject({
  intervalMs: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  role: z.enum(['started', 'promoted', 'unpromoted']).optional(),
});
export type MonitorSpec = z.output<typeof monitorSpecSchema>;

export const storedCopySchema = z.strictObject({
  instance: z.string().min(1),
  resource: resourceSpecSchema,
  state: z.enum(AGENT_COPY_STATES),
  monitors: z.array(monitorSpecSchema),
});
export type StoredCopy = z.output<typeof storedCopySchema>;

/** An event waiting for the controller's acknowledgement, with the incarnation that saw it. */
export const pendingEventSchema = z.strictObject({
  incarnation: z.number().int().nonnegative(),
  event: agentEventSchema,
});
export type PendingEvent = z.output<typeof pendingEventSchema>;

export const agentFileSchema = z.strictObject({
  v: z.literal(STATE_FILE_VERSION),
  node: id,
  epoch: z.number().int().nonnegative(),
  incarnation: z.number().int().nonnegative(),
  copies: z.array(storedCopySchema),
  pendingEvents: z.array(pendingEventSchema),
});
export type AgentFile = z.output<typeof agentFileSchema>;

/** Creates the state dir (0700) if needed. */
export async function ensureStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new IoError(`${dir}: cannot create the agent's state dir: ${detail}`, { cause: err, hint: 'pass --state-dir DIR with a writable directory' });
  }
}

/**
 * Reads the state file: undefined when there is none (a first start). A file that does not parse,
 * or belongs to another node, is refused: forgetting copies that run would be worse than stopping.
 */
export async function readAgentFile(dir: string, node: string): Promise<AgentFile | undefined> {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    const detail = err instanceof Error ? err.message : String(err);
    throw new IoError(`${path}: cannot read the agent's state: ${detail}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new IoError(`${path}: the agent's state is not valid JSON`, {
      cause: err,
      hint: 'the copies it lists would be forgotten; inspect it, then move it away to start afresh',
    });
  }
  const parsed = agentFileSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first === undefined ? '' : ` at ${first.path.join('.') || '(root)'}: ${first.message}`;
    throw new IoError(`${path}: the agent's state does not match its format${where}`, {
      hint: 'the copies it lists would be forgotten; inspect it, then move it away to start afresh',
    });
  }
  if (parsed.data.node !== node) {
    throw new HavenError('CONFLICT', `${path} belongs to node "${parsed.data.node}", not "${node}"`, {
      hint: 'each node needs its own --state-dir',
    });
  }
  return parsed.data;
}

/** A directory name for a copy that any instance string maps to safely and one-to-one. */
export function copyDirName(instance: string): string {
  return `copy-${encodeURIComponent(instance).replace(/\./g, '%2E')}`;
}
