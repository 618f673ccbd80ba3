// Pure: ground truth of where the active/passive service ran. A watcher in every host's
// namespace (./watch-main.ts) samples every ~10 ms whether the service's VIP is an address of
// that host and whether the service answers on 127.0.0.1, and prints a line when either
// changes (with the time of the last sample before the change) and a tick every 100 ms. This
// module folds those lines into closed intervals per host: "the VIP was here from the first
// sample that saw it to the last one that did". Two hosts whose intervals of the same kind meet
// held the VIP, or ran the service, at the same time: split brain, whatever a probe saw.

/** A closed interval of epoch milliseconds. */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

/** One line of a watcher: `v` the VIP is here, `a` the service answered locally. */
export interface WatchSample {
  /** When the sample was taken (epoch ms). */
  readonly at: number;
  readonly v: boolean;
  readonly a: boolean;
  /** On a change: the time of the last sample with the previous values. */
  readonly prev?: number;
}

export type WhatRan = 'vip' | 'service';

/** Parses a watcher line (`{"at":…,"v":1,"a":0,"prev":…}`); undefined for anything else. */
export function parseWatchLine(line: string): WatchSample | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if (typeof r['at'] !== 'number') return undefined;
  const s: WatchSample = { at: r['at'], v: r['v'] === 1 || r['v'] === true, a: r['a'] === 1 || r['a'] === true };
  return typeof r['prev'] === 'number' ? { ...s, prev: r['prev'] } : s;
}

interface Run {
  start: number;
  last: number;
}

/** The intervals of one host, from the lines of its successive watchers. */
export class HostTimeline {
  readonly closed: Record<WhatRan, Interval[]> = { vip: [], service: [] };
  private readonly open: Record<WhatRan, Run | undefined> = { vip: undefined, service: undefined };
  /** The last sample seen (any values). */
  lastSampleAt: number | undefined;

  constructor(readonly host: string) {}

  add(s: WatchSample): void {
    this.step('vip', s.v, s);
    this.step('service', s.a, s);
    this.lastSampleAt = s.at;
  }

  private step(what: WhatRan, on: boolean, s: WatchSample): void {
    const run = this.open[what];
    if (on) {
      if (run === undefined) this.open[what] = { start: s.at, last: s.at };
      else run.last = s.at;
      return;
    }
    if (run !== undefined) {
      // The change line says when the old value was last seen; a tick never carries a change.
      this.closed[what].push({ start: run.start, end: Math.max(run.last, s.prev ?? run.last) });
      this.open[what] = undefined;
    }
  }

  /**
   * The watcher is gone (the host lost power, or the watcher died). What was on stays on until
   * `until`: the moment the harness knows everything in the namespace was killed (the power cut
   * or the fence), or saw the watcher exit. Never earlier than its last sample.
   */
  end(until: number): void {
    for (const what of ['vip', 'service'] as const) {
      const run = this.open[what];
      if (run === undefined) continue;
      this.closed[what].push({ start: run.start, end: Math.max(run.last, until) });
      this.open[what] = undefined;
    }
  }

  /** The intervals so far, open runs counted up to their last sample. */
  intervals(what: WhatRan): Interval[] {
    const run = this.open[what];
    return run === undefined ? [...this.closed[what]] : [...this.closed[what], { start: run.start, end: run.last }];
  }

  /** Drops intervals that ended before `t` (the run keeps only what later trials can still meet). */
  forget(t: number): void {
    for (const what of ['vip', 'service'] as const) this.closed[what] = this.closed[what].filter((i) => i.end >= t);
  }
}

export interface Overlap {
  readonly what: WhatRan;
  readonly hosts: readonly [string, string];
  readonly start: number;
  readonly end: number;
}

/** Every moment two hosts held the VIP, or ran the service, at once (merged per pair and kind). */
export function overlaps(timelines: readonly HostTimeline[], from = -Infinity, to = Infinity): Overlap[] {
  const out: Overlap[] = [];
  for (const what of ['vip', 'service'] as const) {
    for (let i = 0; i < timelines.length; i++) {
      for (let j = i + 1; j < timelines.length; j++) {
        const a = timelines[i] as HostTimeline;
        const b = timelines[j] as HostTimeline;
        const found: Interval[] = [];
        for (const x of a.intervals(what)) {
          for (const y of b.intervals(what)) {
            const start = Math.max(x.start, y.start);
            const end = Math.min(x.end, y.end);
            if (start <= end && end >= from && start <= to) found.push({ start, end });
          }
        }
        found.sort((p, q) => p.start - q.start);
        const merged: Interval[] = [];
        for (const f of found) {
          const last = merged.at(-1);
          if (last !== undefined && f.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, f.end) };
          else merged.push(f);
        }
        for (const m of merged) out.push({ what, hosts: [a.host, b.host], start: m.start, end: m.end });
      }
    }
  }
  return out.sort((p, q) => p.start - q.start);
}

/** The hosts that held `what` during [from, to], in the order they got it (a host again after another counts again). */
export function holders(timelines: readonly HostTimeline[], what: WhatRan, from: number, to: number): string[] {
  const runs: { host: string; start: number }[] = [];
  for (const t of timelines) for (const i of t.intervals(what)) if (i.end >= from && i.start <= to) runs.push({ host: t.host, start: i.start });
  runs.sort((a, b) => a.start - b.start);
  const out: string[] = [];
  for (const r of runs) if (out.at(-1) !== r.host) out.push(r.host);
  return out;
}
