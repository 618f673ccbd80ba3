// Failure detection: heartbeat arrivals → per-ring link states → per-node liveness verdicts.
// Pure (imports only src/model): the controller's heartbeat receiver feeds it datagrams and clock
// ticks; the model is explained in docs/detection.md.

import { DEFAULTS, type Config } from '../model/config.js';
import type { DetectorOptions, Millis } from './detector.js';

export {
  adaptivePolicy,
  checkOptions,
  Detector,
  type Arrival,
  type ArrivalResult,
  type DetectorEvent,
  type DetectorOptions,
  type LinkState,
  type Millis,
  type NodeReport,
  type RefusalReason,
  type RingReport,
  type SilentRing,
  type TimeoutPolicy,
  type Verdict,
  type VerdictKind,
} from './detector.js';
export { ArrivalStats, phiTimeout, upperTailZ } from './stats.js';

/** The ring a cluster without declared rings is watched on (agents then need an explicit target). */
export const IMPLICIT_RING = 'default';

/** The effective heartbeat timing of a configuration. */
export function heartbeatTiming(config: Config): { interval: Millis; ringTimeout: Millis } {
  return {
    interval: config.cluster.heartbeat?.interval ?? DEFAULTS.heartbeatInterval,
    ringTimeout: config.cluster.heartbeat?.ringTimeout ?? DEFAULTS.ringTimeout,
  };
}

/** Detector options for a validated configuration: its nodes, its rings and its heartbeat timing. */
export function detectorOptions(config: Config, start: Millis, extra?: Partial<DetectorOptions>): DetectorOptions {
  const rings = (config.rings ?? []).map((r) => r.name);
  return {
    nodes: config.nodes.map((n) => n.name),
    rings: rings.length > 0 ? rings : [IMPLICIT_RING],
    ...heartbeatTiming(config),
    start,
    ...extra,
  };
}
