// Ground truth from the watchers' lines: intervals per host, and overlaps between hosts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { holders, HostTimeline, overlaps, parseWatchLine, type WatchSample } from './timeline.js';

function timeline(host: string, samples: readonly WatchSample[]): HostTimeline {
  const t = new HostTimeline(host);
  for (const s of samples) t.add(s);
  return t;
}

describe('parseWatchLine', () => {
  it('reads changes and ticks, and nothing else', () => {
    assert.deepEqual(parseWatchLine('{"at":5,"v":1,"a":0,"prev":3}'), { at: 5, v: true, a: false, prev: 3 });
    assert.deepEqual(parseWatchLine('{"at":5,"v":0,"a":1}'), { at: 5, v: false, a: true });
    assert.equal(parseWatchLine('hello'), undefined);
    assert.equal(parseWatchLine('{"v":1}'), undefined);
  });
});

describe('HostTimeline', () => {
  it('runs from the first sample that saw it to the last one that did', () => {
    const t = timeline('h1', [
      { at: 100, v: false, a: false },
      { at: 200, v: true, a: false, prev: 190 },
      { at: 300, v: true, a: false },
      { at: 420, v: false, a: false, prev: 410 },
    ]);
    assert.deepEqual(t.intervals('vip'), [{ start: 200, end: 410 }]);
    assert.deepEqual(t.intervals('service'), []);
  });

  it('counts an open run up to its last sample, and a dead watcher up to when its host died', () => {
    const t = timeline('h1', [{ at: 100, v: true, a: true }, { at: 200, v: true, a: true }]);
    assert.deepEqual(t.intervals('service'), [{ start: 100, end: 200 }]);
    t.end(260);
    assert.deepEqual(t.intervals('vip'), [{ start: 100, end: 260 }]);
    assert.deepEqual(t.intervals('service'), [{ start: 100, end: 260 }]);
    t.forget(261);
    assert.deepEqual(t.intervals('vip'), []);
  });
});

describe('overlaps', () => {
  it('finds nothing in a clean hand-over', () => {
    const a = timeline('h1', [{ at: 0, v: true, a: true }, { at: 500, v: false, a: false, prev: 490 }]);
    const b = timeline('h2', [{ at: 0, v: false, a: false }, { at: 600, v: true, a: true, prev: 590 }, { at: 900, v: true, a: true }]);
    assert.deepEqual(overlaps([a, b]), []);
    assert.deepEqual(holders([a, b], 'vip', 0, 1000), ['h1', 'h2']);
  });

  it('finds two hosts holding the VIP, or answering, at once, even for one sample', () => {
    const a = timeline('h1', [{ at: 0, v: true, a: true }, { at: 500, v: false, a: true, prev: 490 }, { at: 800, v: false, a: false, prev: 790 }]);
    const b = timeline('h2', [{ at: 0, v: false, a: false }, { at: 490, v: true, a: false, prev: 480 }, { at: 700, v: true, a: true, prev: 690 }, { at: 900, v: true, a: true }]);
    assert.deepEqual(
      overlaps([a, b]).map((o) => [o.what, o.hosts.join(), o.start, o.end]),
      [
        ['vip', 'h1,h2', 490, 490],
        ['service', 'h1,h2', 700, 790],
      ],
    );
  });

  it('keeps to the window asked for', () => {
    const a = timeline('h1', [{ at: 0, v: true, a: false }, { at: 100, v: true, a: false }]);
    const b = timeline('h2', [{ at: 50, v: true, a: false }, { at: 100, v: true, a: false }]);
    assert.equal(overlaps([a, b], 0, 200).length, 1);
    assert.equal(overlaps([a, b], 150, 200).length, 0);
  });
});
