// The controller's durable state behind one interface: the embedded store here (one controller,
// the lab default, tests) and etcd later (issue 5). What is stored: the controller's epoch, the
// last known node and copy states, fail counts, operator constraints (move/ban with their
// expiry), and the event log. A controller restart reads it back and restarts nothing.

import type { DurableState } from '../controller/observed.js';

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
  /** Bumped by every controller start: commands carry it and agents refuse older ones. */
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

export interface Store {
  /** The record saved last, or undefined for a new cluster. */
  load(signal?: AbortSignal): Promise<ControllerRecord | undefined>;
  /** Replaces the record; durable when the promise resolves. */
  save(record: ControllerRecord, signal?: AbortSignal): Promise<void>;
  /** Appends events (their seq set by the caller, increasing); durable when the promise resolves. */
  append(events: readonly ControllerEvent[], signal?: AbortSignal): Promise<void>;
  /** Events with seq > since, oldest first, at most `limit`. */
  events(since: number, limit: number, signal?: AbortSignal): Promise<ControllerEvent[]>;
  /** The highest seq in the log (0 when empty). */
  lastSeq(signal?: AbortSignal): Promise<number>;
  close(): Promise<void>;
}
