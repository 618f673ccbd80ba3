// The messages between agents and controllers: heartbeat datagrams (UDP, on every ring), the
// agent's HTTP API the controller's executor calls, and the reports agents push to the
// controller. Every message is validated with these schemas on receipt; anything that does
// not parse is refused whole and changes nothing (docs/protocol.md).

import { z } from 'zod';
import { attributeValue, id, REQUIRES } from './config.js';

/** Version of the wire format; a message of another version is refused. */
export const WIRE_VERSION = 1;

/** A heartbeat datagram, JSON in one UDP packet, sent by an agent on each ring every interval. */
export const heartbeatSchema = z.strictObject({
  v: z.literal(WIRE_VERSION),
  cluster: id,
  node: id,
  ring: id,
  /** One slot per interval within an incarnation, the same on every ring. */
  seq: z.number().int().nonnegative(),
  /** Which run of the agent: larger is newer (the agent's start time in ms is a fine choice). */
  incarnation: z.number().int().nonnegative(),
  /** The highest controller epoch the agent has accepted. */
  epoch: z.number().int().nonnegative(),
  /** The sender's wall clock, informational. */
  sentAt: z.number().int().nonnegative(),
  /** Present when the agent's lease has lapsed: it applied the no-quorum policy and hears no grant. */
  lapsed: z.literal(true).optional(),
});
export type Heartbeat = z.output<typeof heartbeatSchema>;

/**
 * A lease grant: a quorate controller's answer to one heartbeat, sent back to the port it came
 * from. The agent's lease then runs until the moment it *sent* that heartbeat plus `leaseMs`, on
 * its own monotonic clock — never later than the controller's view (receipt + leaseMs), whatever
 * the network delay, so the controller can tell when a silent node's lease has surely ended.
 */
export const leaseGrantSchema = z.strictObject({
  v: z.literal(WIRE_VERSION),
  kind: z.literal('lease'),
  cluster: id,
  node: id,
  controller: id,
  /** The granting controller's epoch: an agent ignores a grant older than the epoch it accepted. */
  epoch: z.number().int().positive(),
  /** The heartbeat answered: its seq and the incarnation that sent it. */
  seq: z.number().int().nonnegative(),
  incarnation: z.number().int().nonnegative(),
  leaseMs: z.number().int().positive(),
});
export type LeaseGrant = z.output<typeof leaseGrantSchema>;

/** One peer as an agent hears it (GET /v1/peers), for distributed confirmation. */
export const peerViewSchema = z.strictObject({
  node: id,
  incarnation: z.number().int().nonnegative().nullable(),
  rings: z.array(
    z.strictObject({
      ring: id,
      /** up: heard within the ring timeout; down: silent past it; pending: never heard. */
      link: z.enum(['up', 'down', 'pending']),
      /** ms since the last heartbeat on this ring; null: never. */
      silentMs: z.number().nonnegative().nullable(),
      /** The highest heartbeat seq heard on this ring in the current incarnation; -1: none. */
      seq: z.number().int().min(-1),
    }),
  ),
});
export type PeerView = z.output<typeof peerViewSchema>;

export const peersSchema = z.strictObject({
  node: id,
  peers: z.array(peerViewSchema),
});
export type Peers = z.output<typeof peersSchema>;

/** The operations an agent runs on a resource copy. `probe`: a one-off monitor that expects "not running" too. */
export const AGENT_OPERATIONS = ['start', 'stop', 'promote', 'demote', 'probe', 'monitor-start', 'monitor-stop'] as const;
export type AgentOperationKind = (typeof AGENT_OPERATIONS)[number];

/** What the agent needs to know to run a primitive: everything travels with the command. */
export const resourceSpecSchema = z.strictObject({
  /** The primitive's id in the configuration. */
  primitive: id,
  /** `process`, `vip`, `ocf:<provider>:<type>`. */
  agent: z.string().min(1),
  params: z.record(z.string(), attributeValue),
  /**
   * What the primitive requires (fencing, quorum, nothing) in the configuration the controller
   * runs: the agent records it with the copy and applies its self-fence policy by it, so a
   * configuration applied through the API reaches the agents. Absent (a controller before it
   * was sent): the agent's own configuration file decides.
   */
  requires: z.enum(REQUIRES).optional(),
});
export type ResourceSpec = z.output<typeof resourceSpecSchema>;

/** POST /v1/operations: run one operation on one copy; the response comes when it is done. */
export const operationRequestSchema = z.strictObject({
  /** The sending controller's epoch; an agent refuses one older than it has accepted. */
  epoch: z.number().int().nonnegative(),
  /** The plan action this runs, for the agent's log (`start web@n2`). */
  action: z.string().min(1),
  operation: z.enum(AGENT_OPERATIONS),
  /** The copy: the status key (`web`, or `web:1` for a second copy on a node). */
  instance: z.string().min(1),
  resource: resourceSpecSchema,
  timeoutMs: z.number().int().positive(),
  /** monitor-start / monitor-stop: the monitor's interval. */
  intervalMs: z.number().int().positive().optional(),
  /** monitor-start: the role the monitor checks (promotable clones). */
  role: z.enum(['started', 'promoted', 'unpromoted']).optional(),
});
export type OperationRequest = z.output<typeof operationRequestSchema>;

/** OCF exit codes, which every resource agent kind reports (0–9, as the OCF spec defines them). */
export const OCF_RC = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
} as const;

/** What each OCF exit code means, in the words operators read in messages and logs. */
const OCF_RC_MEANING: readonly string[] = [
  'success',
  'generic error',
  'invalid argument',
  'unimplemented',
  'insufficient privileges',
  'not installed',
  'not configured',
  'not running',
  'running promoted',
  'failed promoted',
];

/** "7 (not running)"; codes outside 0–9 are named as such. */
export function describeRc(rc: number): string {
  const m = OCF_RC_MEANING[rc];
  return m === undefined ? `${rc} (not an OCF exit code)` : `${rc} (${m})`;
}

/** The copy's state as the agent knows it after an operation or monitor. */
export const AGENT_COPY_STATES = ['stopped', 'started', 'promoted', 'failed'] as const;
export type AgentCopyState = (typeof AGENT_COPY_STATES)[number];

export const operationResultSchema = z.strictObject({
  /** OCF exit code (0–9); a timeout is reported as 1 with `timedOut`. */
  rc: z.number().int().min(0).max(255),
  timedOut: z.boolean().optional(),
  /** What the agent printed (trimmed, at most a few KiB). */
  output: z.string(),
  durationMs: z.number().nonnegative(),
  /** The copy's state after the operation. */
  state: z.enum(AGENT_COPY_STATES),
});
export type OperationResult = z.output<typeof operationResultSchema>;

/** One copy as the agent reports it. */
export const agentCopySchema = z.strictObject({
  instance: z.string().min(1),
  resource: resourceSpecSchema,
  state: z.enum(AGENT_COPY_STATES),
  /** Intervals (ms) of the recurring monitors running now. */
  monitors: z.array(z.number().int().positive()),
});
export type AgentCopy = z.output<typeof agentCopySchema>;

/** GET /v1/state: everything the agent runs. */
export const agentStateSchema = z.strictObject({
  node: id,
  incarnation: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  copies: z.array(agentCopySchema),
  /** The last event seq (this incarnation) these copies already reflect: older reports are stale. */
  eventSeq: z.number().int().nonnegative().optional(),
});
export type AgentState = z.output<typeof agentStateSchema>;

/** An unexpected monitor result (or a process found dead), pushed at once to the controller. */
export const agentEventSchema = z.strictObject({
  /** Per agent incarnation, increasing: the controller drops a repeat. */
  seq: z.number().int().nonnegative(),
  instance: z.string().min(1),
  primitive: id,
  /** monitor: a recurring monitor saw it; self-fence: the agent stopped it when its lease lapsed. */
  operation: z.enum(['monitor', 'self-fence']),
  intervalMs: z.number().int().nonnegative(),
  rc: z.number().int().min(0).max(255),
  output: z.string(),
  /** The agent's wall clock when it was seen. */
  at: z.number().int().nonnegative(),
  state: z.enum(AGENT_COPY_STATES),
});
export type AgentEvent = z.output<typeof agentEventSchema>;

/** POST /v1/agents/report on the controller: events the agent retries until acknowledged. */
export const agentReportSchema = z.strictObject({
  node: id,
  incarnation: z.number().int().nonnegative(),
  events: z.array(agentEventSchema),
});
export type AgentReport = z.output<typeof agentReportSchema>;
