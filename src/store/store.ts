// The controller's durable state behind one interface, with two implementations: the embedded
// store (embedded.ts: one controller, the lab default, tests) and etcd (etcd.ts: three or five
// members, several controllers, one leader). What is stored: the last known node and copy
// states, fail counts, operator constraints (move/ban with their expiry), the event log, the fence
// history, every configuration applied (config-history.ts), and who leads with which epoch. A
// controller restart reads it back and restarts nothing.
//
// Leadership: `campaign(name)` resolves once this controller leads and gives its epoch, the
// fencing token every command carries. Every write (save, append) of a store that campaigned is
// guarded by that epoch: once another controller took over, the write fails with CONFLICT and
// changes nothing, and the leadership's signal is aborted. docs/store.md has the details.

import type { DurableState } from '../controller/observed.js';
import type { ConfigHistoryStore } from './config-history.js';
import type { FenceHistoryStore } from './fence-history.js';

export type { ConfigHistoryStore, ConfigOrigin, ConfigVersion } from './config-history.js';
export type { FenceHistoryQuery, FenceHistoryStore, FenceRecord } from './fence-history.js';

/** A move or ban set by an operator: a location constraint with an optional expiry. */
export interface OperatorConstraint {
  /** `cli-ban-web-on-h1`, `cli-prefer-web-on-h2`. */
  readonly id: string;
  readonly kind: 'ban' | 'prefer';
  readonly resource: string;
  readonly node: string;
  /** Epoch ms when it lapses; absent: until cleared. */
  readonly expires?: number;
  readonly created: number;
  readonly reason: string;
}

export interface ControllerRecord extends DurableState {
  /**
   * Bumped by every controller start (with leader election: the leadership's epoch): commands
   * carry it and agents refuse older ones.
   */
  readonly epoch: number;
  readonly operatorConstraints: readonly OperatorConstraint[];
}

/** One line of the event log: what the controller saw or did, and why. */
export interface ControllerEvent {
  /** Position in the log, from 1. */
  readonly seq: number;
  /** Epoch ms. */
  readonly at: number;
  readonly kind: string;
  readonly node?: string;
  readonly resource?: string;
  readonly message: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** Who leads the cluster now, as the store records it. */
export interface LeaderInfo {
  /** The name the leader campaigned with (a controller's name). */
  readonly name: string;
  /** Its epoch: higher for every new term, across every controller of the cluster. */
  readonly epoch: number;
}

/** This controller's term as the leader, from `Store.campaign`. */
export interface Leadership extends LeaderInfo {
  /**
   * How long the term outlives the last renewal the store acknowledged, in ms (etcd: the lease
   * TTL that etcd granted, which may be longer than asked); 0 when it never lapses on its own
   * (the embedded store).
   */
  readonly ttlMs: number;
  /**
   * Aborted when the term ends: its lease lapsed or could not be renewed in time, a write was
   * refused because another controller leads, `resign()`, `close()`. `signal.reason` is a
   * HavenError (CONFLICT or UNREACHABLE) saying why. A controller stops deciding at once.
   */
  readonly signal: AbortSignal;
  /**
   * Whether the term surely still holds now, checked synchronously before every act (a command,
   * a lease grant). The etcd store answers false from 90 % of the TTL after the last acknowledged
   * renewal's send, and ends the term then and there: a process resumed from a pause may run its
   * I/O callbacks before the timer that would have ended the term.
   */
  holds(): boolean;
  /** Ends the term now, so that another controller can take over at once. Idempotent. */
  resign(): Promise<void>;
}

export interface CampaignOptions {
  /** Gives up waiting (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Called once when the term ends, with the same reason as `Leadership.signal.reason`. */
  readonly onLost?: (reason: Error) => void;
}

/**
 * Also keeps the fence history (appendFenceRecords, fenceHistory, lastFenceSeq: fence-history.ts
 * has the contract) and the configuration history (appendConfig, configVersion, configHistory,
 * lastConfigVersion: config-history.ts has the contract).
 */
export interface Store extends FenceHistoryStore, ConfigHistoryStore {
  /**
   * Waits until this store's controller leads, then resolves with its term. One campaign at a
   * time per store; after a term ends, campaign again for a new one (with a higher epoch).
   * The embedded store takes over at once (one controller: a previous holder is presumed gone).
   */
  campaign(name: string, options?: CampaignOptions): Promise<Leadership>;
  /** The current leader, or undefined when nobody leads. */
  leader(signal?: AbortSignal): Promise<LeaderInfo | undefined>;
  /**
   * Calls `onChange` with the current leader, then at every change, until `signal` aborts.
   * Errors reaching the store are retried, not reported: a follower simply keeps watching.
   */
  observeLeader(onChange: (leader: LeaderInfo | undefined) => void, signal: AbortSignal): void;
  /** The record saved last, or undefined for a new cluster. */
  load(signal?: AbortSignal): Promise<ControllerRecord | undefined>;
  /**
   * Replaces the record; durable when the promise resolves. Guarded by the epoch once the store
   * campaigned (CONFLICT when another controller leads); the etcd store refuses it without a
   * campaign, the embedded one accepts it (a single controller, as before leader election).
   */
  save(record: ControllerRecord, signal?: AbortSignal): Promise<void>;
  /**
   * Appends events (their seq set by the caller, strictly increasing, above `lastSeq()`); durable
   * when the promise resolves. Guarded like `save`. An event already in the log with the same
   * content is skipped (a retry after a failure whose outcome was unknown); a different event
   * under a seq already used is refused with CONFLICT, so no seq is ever written twice, even
   * across a takeover. A batch whose seqs do not increase is refused with INTERNAL. Nothing of a
   * refused batch is written (etcd writes a batch of more than 100 events 100 at a time, each
   * guarded: a refusal keeps the chunks before it).
   */
  append(events: readonly ControllerEvent[], signal?: AbortSignal): Promise<void>;
  /** Events with seq > since, oldest first, at most `limit`. */
  events(since: number, limit: number, signal?: AbortSignal): Promise<ControllerEvent[]>;
  /** The highest seq in the log (0 when empty). */
  lastSeq(signal?: AbortSignal): Promise<number>;
  /** Waits for pending writes, ends this store's term if it leads, releases connections. */
  close(): Promise<void>;
}
