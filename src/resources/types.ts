// The contract every resource agent kind keeps (process, ocf, vip, and later haproxy, galera…):
// run one operation on one copy and answer with an OCF exit code. The agent daemon
// (src/agent/) calls it; it never decides anything.

import type { ServersResult, ServerWant } from '../model/lb.js';
import type { AgentCopyState } from '../model/wire.js';

/** An operation as a resource agent runs it. `monitor` with `intervalMs` 0 is a probe. */
export type ResourceOperation = 'start' | 'stop' | 'monitor' | 'promote' | 'demote';

export type ParamValue = string | number | boolean;

export interface OperationContext {
  /** The copy's status key (`web`, `web:1`): OCF_RESOURCE_INSTANCE. */
  readonly instance: string;
  /** The primitive's configured id. */
  readonly primitive: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly timeoutMs: number;
  /** Monitors: their interval; 0 for a probe. */
  readonly intervalMs: number;
  /** Aborted when the operation's timeout passes or the agent shuts down. */
  readonly signal: AbortSignal;
  /** A directory private to this agent and copy, kept across agent restarts (pid files, logs). */
  readonly stateDir: string;
}

export interface ResourceOutcome {
  /** OCF exit code 0–9 (src/model/wire.ts OCF_RC). */
  readonly rc: number;
  readonly output: string;
  readonly timedOut?: boolean;
}

export interface ResourceAgent {
  /** `process`, `vip`, `ocf:heartbeat:Dummy`, … */
  readonly kind: string;
  /** Refuses bad params before anything runs: one message per problem, empty when fine. */
  validate(params: Readonly<Record<string, ParamValue>>): Promise<string[]>;
  run(operation: ResourceOperation, ctx: OperationContext): Promise<ResourceOutcome>;
  /**
   * Optional: called once a copy runs; calls `onExit` as soon as the agent learns the copy died
   * without a monitor (a child process exiting), so failures are seen before the next monitor.
   * Returns a function that stops watching.
   */
  watch?(ctx: Omit<OperationContext, 'signal' | 'timeoutMs' | 'intervalMs'>, onExit: (why: string) => void): () => void;
  /**
   * Optional, load balancers only (`haproxy`): which backend servers may take traffic. Applied at
   * once when the copy runs, and kept for its next start or reload when it does not.
   */
  setServers?(ctx: OperationContext, servers: readonly ServerWant[]): Promise<ServersResult>;
}

/** The state an OCF exit code of a monitor means for a copy. */
export function stateOfMonitor(rc: number): AgentCopyState {
  switch (rc) {
    case 0:
      return 'started';
    case 7:
      return 'stopped';
    case 8:
      return 'promoted';
    default:
      return 'failed';
  }
}
