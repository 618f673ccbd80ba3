// Faults on a real lab: two hosts reach each other on every ring; a cut ring drops traffic on
// that ring only; a partition separates groups on every ring; heal undoes both.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LabState } from '../../src/lab/state.js';
import { canRunLab, makeLab, ping, type TestLab } from './support.js';

const skip = canRunLab() ? false : 'needs root, ip and nft';

describe('haven lab cut / partition / heal', { skip }, () => {
  let lab: TestLab;
  let state: LabState;
  const addr = (host: string, ring: number): string => {
    const a = state.hosts.find((h) => h.name === host)?.links.find((l) => l.ring === ring)?.address;
    assert.ok(a !== undefined, `${host} ring ${ring}`);
    return a;
  };
  const ns = (host: string): string => state.hosts.find((h) => h.name === host)?.ns ?? assert.fail(host);

  before(async () => {
    lab = await makeLab('faults', ['--hosts', '3', '--rings', '2', '--no-daemons']);
    state = await lab.state();
  });
  after(() => lab?.close());

  it('lets every two hosts ping each other on each ring, and the client reach them on ring 0', () => {
    for (const ring of [0, 1]) {
      assert.ok(ping(ns('h1'), addr('h2', ring)), `h1 → h2 on ring ${ring}`);
      assert.ok(ping(ns('h2'), addr('h1', ring)), `h2 → h1 on ring ${ring}`);
      assert.ok(ping(ns('h3'), addr('controller', ring)), `h3 → controller on ring ${ring}`);
    }
    assert.ok(ping(ns('client'), addr('h1', 0)));
  });

  it('cuts one ring of one host: that ring drops its traffic both ways, the other ring still passes', () => {
    const r = lab.haven(['lab', 'cut', 'h2', '--ring', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'h2: ring 0 cut\n');
    assert.equal(ping(ns('h1'), addr('h2', 0), 1), false, 'h1 → h2 on ring 0 is dropped');
    assert.equal(ping(ns('h2'), addr('h3', 0), 1), false, 'h2 → h3 on ring 0 is dropped');
    assert.ok(ping(ns('h1'), addr('h2', 1)), 'h1 → h2 on ring 1 passes');
    assert.ok(ping(ns('h1'), addr('h3', 0)), 'h1 → h3 on ring 0 passes (only h2 is cut)');
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { cuts: unknown[]; hosts: { name: string; cuts: number[] }[] };
    assert.deepEqual(status.cuts, [{ host: 'h2', ring: 0 }]);
    assert.deepEqual(status.hosts.find((h) => h.name === 'h2')?.cuts, [0]);
    assert.match(lab.haven(['lab', 'status']).stdout, /h2 +host +on +10\.\d+\.0\.2 \(cut\)/);
  });

  it('heals a cut', () => {
    const r = lab.haven(['lab', 'heal']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(ping(ns('h1'), addr('h2', 0), 3), 'h1 → h2 on ring 0 passes again');
  });

  it('partitions groups on every ring, leaving the traffic inside each group and to hosts outside the partition', () => {
    const r = lab.haven(['lab', 'partition', 'h1', '/', 'h2,h3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'partitioned: h1 / h2,h3\n');
    for (const ring of [0, 1]) {
      assert.equal(ping(ns('h1'), addr('h2', ring), 1), false, `h1 → h2 on ring ${ring}`);
      assert.equal(ping(ns('h3'), addr('h1', ring), 1), false, `h3 → h1 on ring ${ring}`);
      assert.ok(ping(ns('h2'), addr('h3', ring)), `h2 → h3 on ring ${ring}`);
      assert.ok(ping(ns('h1'), addr('controller', ring)), `h1 → controller on ring ${ring} (not in the partition)`);
    }
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { partition: string[][] };
    assert.deepEqual(status.partition, [['h1'], ['h2', 'h3']]);
  });

  it('replaces a partition with the next one, and heal undoes it', () => {
    assert.equal(lab.haven(['lab', 'partition', 'h1,h2', '/', 'h3']).code, 0);
    assert.ok(ping(ns('h1'), addr('h2', 0), 3), 'h1 and h2 are together now');
    assert.equal(ping(ns('h1'), addr('h3', 0), 1), false);
    assert.equal(lab.haven(['lab', 'heal']).code, 0);
    assert.ok(ping(ns('h1'), addr('h3', 0), 3));
    assert.ok(ping(ns('h3'), addr('h2', 1), 3));
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { partition: string[][]; cuts: unknown[] };
    assert.deepEqual(status.partition, []);
    assert.deepEqual(status.cuts, []);
  });

  it('refuses unknown hosts, rings and malformed partitions, changing nothing', () => {
    const unknown = lab.haven(['lab', 'cut', 'h9', '--ring', '0']);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no host "h9"/);
    const ring = lab.haven(['lab', 'cut', 'client', '--ring', '1']);
    assert.equal(ring.code, 2);
    assert.match(ring.stderr, /host "client" has no link on ring 1/);
    assert.equal(lab.haven(['lab', 'partition', 'h1,h2']).code, 2);
    assert.equal(lab.haven(['lab', 'partition', 'h1', '/', 'h1']).code, 2);
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { partition: string[][]; cuts: unknown[] };
    assert.deepEqual(status.cuts, []);
    assert.deepEqual(status.partition, []);
  });
});
