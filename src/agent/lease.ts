// An agent's lease from a quorate controller — Haven's sbd. Every heartbeat a controller with
// quorum answers extends the lease to (the moment that heartbeat was *sent*) + leaseMs, on this
// host's monotonic clock. The controller dates the same grant by when it *received* the
// heartbeat, which is later, so when the controller computes "this node's lease has surely
// ended", it has (docs/safety.md). An agent whose lease lapses applies the no-quorum policy to
// the copies that need quorum; it gets the lease back with the next grant.
//
// No I/O and no timers here: the agent asks `held(now)` and `expiresAt`, and arms its own timer.

import type { Config, NoQuorumPolicy, Requires } from '../model/config.js';
import { DEFAULTS } from '../model/config.js';
import { requiresOf } from '../scheduler/cluster.js';

export class Lease {
  /** performance.now() at which the lease ends; starts as if granted when the agent started. */
  private until: number;
  private lapsedSince: number | undefined;

  /**
   * A starting agent holds no grant yet; it counts one lease from its start before it applies the
   * policy, so a restart of the agent (or the controller) within a lease changes nothing.
   */
  constructor(startedAt: number, readonly leaseMs: number) {
    this.until = startedAt + leaseMs;
  }

  /** A grant for a heartbeat sent at `sentAt`. Returns true when it ends a lapse. */
  renew(sentAt: number, leaseMs: number): boolean {
    this.until = Math.max(this.until, sentAt + leaseMs);
    const wasLapsed = this.lapsedSince !== undefined;
    this.lapsedSince = undefined;
    return wasLapsed;
  }

  get expiresAt(): number {
    return this.until;
  }

  held(now: number): boolean {
    return now < this.until;
  }

  /** Marks the lapse once; true the first time it is seen. */
  lapse(now: number): boolean {
    if (this.held(now) || this.lapsedSince !== undefined) return false;
    this.lapsedSince = now;
    return true;
  }

  get lapsed(): boolean {
    return this.lapsedSince !== undefined;
  }
}

/** What an agent does with the copies that need quorum when its lease lapses. */
export interface SelfFencePolicy {
  readonly leaseMs: number;
  readonly noQuorumPolicy: NoQuorumPolicy;
  /** What a primitive requires (fencing, quorum, nothing); unknown primitives: the cluster default. */
  readonly requires: (primitive: string) => Requires;
}

/** The self-fence policy a configuration gives its agents. */
export function selfFencePolicy(config: Config): SelfFencePolicy {
  return {
    leaseMs: config.cluster.quorum?.lease ?? DEFAULTS.lease,
    noQuorumPolicy: config.cluster.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy,
    requires: requiresOf(config),
  };
}
