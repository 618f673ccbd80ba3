// The fence history: every fence attempt the controller made — one record per device run, with
// the node, action, level, device, result, exit code, duration, who asked and why — kept
// durably by the store, as Pacemaker's fencer keeps its history (`stonith_admin --history`).
// It is what an operator reads after an incident (`haven fence history`), so it is written as
// each attempt ends, before the fence goes on, and never holds a device's secrets: the output
// is masked by the fencer (src/fencing/fencer.ts) and params are not recorded at all.

import { HavenError } from '../errors.js';

/** One device run during a fence, an unfence or a manual status check. */
export interface FenceRecord {
  /** Position in the history, from 1, strictly increasing (set by the controller, like event seqs). */
  readonly seq: number;
  /**
   * The fence request this attempt belongs to: the seq of its request's first attempt, so the
   * attempts of one request (a level that failed, then the next) read together.
   */
  readonly request: number;
  /** Epoch ms when the device run started. */
  readonly at: number;
  readonly node: string;
  /** What the request asked: off or reboot (a fence), on (an unfence). */
  readonly requested: 'off' | 'reboot' | 'on';
  /** What this device run did: the requested action, or `status` to verify, or off/on of a multi-device reboot. */
  readonly action: 'off' | 'on' | 'reboot' | 'status';
  /** The topology level (1-based); 0 for an unfence. */
  readonly level: number;
  readonly device: string;
  /** The device's agent (`fence_ipmilan`, `lab`). */
  readonly agent: string;
  /** ok: the action did what was asked; failed: the agent said no (or the status was not off); timeout: killed at its timeout; error: it could not run. */
  readonly result: 'ok' | 'failed' | 'timeout' | 'error';
  /** The agent's exit code (null when it did not run or was killed). */
  readonly rc: number | null;
  readonly durationMs: number;
  /** `controller` (a node it lost), or `operator` (haven fence / haven node unfence), or `operator <name>`. */
  readonly requestedBy: string;
  /** Why the fence was asked for: the node's verdict, or the operator's words. */
  readonly reason: string;
  /** The epoch of the controller that ran it. */
  readonly epoch: number;
  /** The agent's last lines (secrets masked, at most 500 characters). */
  readonly output: string;
}

export interface FenceHistoryQuery {
  /** Only this node's records. */
  readonly node?: string;
  /** At most this many: the latest ones. */
  readonly limit: number;
}

/**
 * The part of the Store that keeps the fence history. Semantics every implementation keeps
 * (the embedded store in embedded.ts; the etcd store follows the same contract):
 *
 * - `appendFenceRecords(records)`: seqs set by the caller, strictly increasing within the batch
 *   and above `lastFenceSeq()`; durable when the promise resolves; guarded by the leader's epoch
 *   exactly like `append` (CONFLICT, nothing written, once another controller leads). A seq
 *   already recorded is refused with CONFLICT; a batch whose seqs do not increase with INTERNAL.
 *   An empty batch is a no-op.
 * - `fenceHistory({ node, limit })`: the latest `limit` records (of `node` when given), oldest
 *   first. Reads never need leadership.
 * - `lastFenceSeq()`: the highest seq recorded, 0 when none.
 */
export interface FenceHistoryStore {
  appendFenceRecords(records: readonly FenceRecord[], signal?: AbortSignal): Promise<void>;
  fenceHistory(query: FenceHistoryQuery, signal?: AbortSignal): Promise<FenceRecord[]>;
  lastFenceSeq(signal?: AbortSignal): Promise<number>;
}

const RESULTS = new Set(['ok', 'failed', 'timeout', 'error']);
const ACTIONS = new Set(['off', 'on', 'reboot', 'status']);

/** Parses one stored record, refusing anything that is not one (a store reads back what it wrote). */
export function parseFenceRecord(text: string, where: string): FenceRecord {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new HavenError('IO', `${where}: not JSON (${(err as Error).message})`, { hint: 'the history is only appended to, so this is damage from outside; restore it from a backup' });
  }
  const ok =
    typeof r === 'object' && r !== null &&
    Number.isSafeInteger(r['seq']) && (r['seq'] as number) > 0 &&
    Number.isSafeInteger(r['request']) && typeof r['at'] === 'number' &&
    typeof r['node'] === 'string' && ACTIONS.has(r['action'] as string) && ACTIONS.has(r['requested'] as string) &&
    Number.isInteger(r['level']) && typeof r['device'] === 'string' && typeof r['agent'] === 'string' &&
    RESULTS.has(r['result'] as string) && (r['rc'] === null || Number.isInteger(r['rc'])) &&
    typeof r['durationMs'] === 'number' && typeof r['requestedBy'] === 'string' && typeof r['reason'] === 'string' &&
    Number.isInteger(r['epoch']) && typeof r['output'] === 'string';
  if (!ok) throw new HavenError('IO', `${where}: not a fence record`, { hint: 'the history is only appended to, so this is damage from outside; restore it from a backup' });
  return r as unknown as FenceRecord;
}

/** Checks a batch before it is written: seqs strictly increasing. */
export function checkFenceBatch(records: readonly FenceRecord[]): void {
  for (let i = 1; i < records.length; i++) {
    if (records[i]!.seq <= records[i - 1]!.seq) throw new HavenError('INTERNAL', `fence records must have increasing seqs: ${records[i - 1]!.seq} then ${records[i]!.seq}`);
  }
}
