// Checks shared by both stores: what an event must look like when it is appended (a bug in the
// caller is refused before anything is written) and when it is read back (damage from outside
// is refused with where it is, never skipped or read as something else).

import { HavenError } from '../errors.js';
import type { ControllerEvent } from './store.js';

/** Refuses a batch whose seqs are not positive integers in strictly increasing order. */
export function checkEventBatch(events: readonly ControllerEvent[]): void {
  let previous = 0;
  for (const e of events) {
    if (!Number.isSafeInteger(e.seq) || e.seq < 1) {
      throw new HavenError('INTERNAL', `event seq ${JSON.stringify(e.seq)} is not a positive integer; nothing appended`);
    }
    if (e.seq <= previous) {
      throw new HavenError('INTERNAL', `event seqs must increase within a batch (${previous} then ${e.seq}); nothing appended`);
    }
    previous = e.seq;
  }
}

/** Parses one stored event; `where` names it in the error (a file:line or an etcd key). */
export function parseEvent(text: string, where: string): ControllerEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HavenError('IO', `${where}: not a JSON event (${(err as Error).message})`, {
      hint: 'Haven writes each event whole, so this is damage from outside; restore the log from a backup',
    });
  }
  const e = value as Partial<Record<keyof ControllerEvent, unknown>> | null;
  const bad =
    typeof e !== 'object' || e === null || Array.isArray(e) ? 'not an object'
    : !Number.isSafeInteger(e.seq) || (e.seq as number) < 1 ? 'no positive integer seq'
    : typeof e.at !== 'number' ? 'no time (at)'
    : typeof e.kind !== 'string' ? 'no kind'
    : typeof e.message !== 'string' ? 'no message'
    : undefined;
  if (bad !== undefined) {
    throw new HavenError('IO', `${where}: not a Haven event (${bad})`, {
      hint: 'Haven writes each event whole, so this is damage from outside; restore the log from a backup',
    });
  }
  return e as ControllerEvent;
}
