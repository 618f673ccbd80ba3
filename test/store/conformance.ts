// The store conformance suite: the same behaviour asked of every Store implementation (embedded
// and etcd). Each implementation's test file calls `storeConformance` with a harness that makes
// a fresh, empty backing (a directory, a cluster prefix in etcd) and can open several stores on
// it (several controllers, or one restarted), push a leader out behind its back, and damage data.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { HavenError } from '../../src/errors.js';
import type { ConfigVersion, ControllerEvent, ControllerRecord, FenceRecord, LeaderInfo, Store } from '../../src/store/store.js';

export interface Backing {
  /** A new store instance on this backing: another controller, or the same one restarted. */
  open(): Store;
  /**
   * Ends the current leader's term without telling it (its lease lapsed while it was paused).
   * The embedded store needs nothing: the next campaign takes over.
   */
  depose(): Promise<void>;
  /** Replaces the stored record with bytes that are not a record. */
  corruptRecord(): Promise<void>;
  /** Replaces event `seq` with bytes that are not an event. */
  corruptEvent(seq: number): Promise<void>;
  /** Replaces configuration version `version` with bytes that are not one. */
  corruptConfig(version: number): Promise<void>;
}

export interface StoreHarness {
  fresh(): Promise<Backing>;
}

export function record(epoch: number, note = 'x'): ControllerRecord {
  return {
    epoch,
    nodes: { h1: { state: 'online' }, h2: { state: 'fenced', standby: true } },
    copies: { web: { h1: { state: 'started', monitors: [10_000] } } },
    failures: [{ resource: 'web', node: 'h2', count: 1, last: 1_700_000_000_000, operation: 'monitor' }],
    operatorConstraints: [{ id: 'cli-ban-web-on-h2', kind: 'ban', resource: 'web', node: 'h2', created: 5, reason: note }],
  };
}

export function events(from: number, to: number, who = 'c1'): ControllerEvent[] {
  const out: ControllerEvent[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push({ seq, at: 1_700_000_000_000 + seq, kind: 'test', node: 'h1', message: `${who} event ${seq}`, detail: { seq, who } });
  }
  return out;
}

export function fences(from: number, to: number, epoch = 1): FenceRecord[] {
  const out: FenceRecord[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push({
      seq, request: seq, at: 1_700_000_000_000 + seq, node: seq % 2 ? 'h1' : 'h2', requested: 'off', action: 'off', level: 1,
      device: 'pdu', agent: 'lab', result: seq % 3 ? 'ok' : 'failed', rc: seq % 3 ? 0 : 1, durationMs: 100 + seq,
      requestedBy: 'controller', reason: `lost on every ring (${seq})`, epoch, output: '',
    });
  }
  return out;
}

export function configVersion(version: number, note = 'x'): ConfigVersion {
  return {
    version,
    at: 1_700_000_000_000 + version,
    by: version === 1 ? 'controller c1' : 'operator alice',
    message: `${note} ${version}`,
    origin: version === 1 ? 'file' : 'apply',
    replaces: version - 1,
    // Texts hold newlines, quotes and non-ASCII: they are stored exactly.
    text: `# version ${version}: "${note}" — ünïcode\ncluster:\n  name: c\nnodes:\n  - name: h1\n`,
  };
}

export async function rejects(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<HavenError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HavenError, `expected a HavenError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a ${code} rejection, but it resolved`);
}

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function storeConformance(kind: string, harness: StoreHarness): void {
  describe(`store conformance: ${kind}`, () => {
    const opened: Store[] = [];
    const open = (b: Backing): Store => {
      const s = b.open();
      opened.push(s);
      return s;
    };
    after(async () => {
      for (const s of opened) await s.close().catch(() => undefined);
    });

    test('a new store is empty and nobody leads', async () => {
      const s = open(await harness.fresh());
      assert.equal(await s.load(), undefined);
      assert.equal(await s.lastSeq(), 0);
      assert.deepEqual(await s.events(0, 10), []);
      assert.equal(await s.leader(), undefined);
    });

    test('campaign gives an epoch; the record round-trips and the newest save wins', async () => {
      const s = open(await harness.fresh());
      const term = await s.campaign('c1');
      assert.ok(Number.isSafeInteger(term.epoch) && term.epoch >= 1, `epoch ${term.epoch}`);
      assert.equal(term.name, 'c1');
      assert.equal(term.signal.aborted, false);
      assert.deepEqual(await s.leader(), { name: 'c1', epoch: term.epoch });
      await s.save(record(term.epoch, 'first'));
      assert.deepEqual(await s.load(), record(term.epoch, 'first'));
      await s.save(record(term.epoch, 'second'));
      assert.deepEqual(await s.load(), record(term.epoch, 'second'));
    });

    test('events: append, read from a seq with a limit, lastSeq', async () => {
      const s = open(await harness.fresh());
      await s.campaign('c1');
      await s.append(events(1, 5));
      await s.append(events(6, 7));
      await s.append([]);
      assert.equal(await s.lastSeq(), 7);
      assert.deepEqual(await s.events(0, 100), events(1, 7));
      assert.deepEqual(await s.events(3, 2), events(4, 5));
      assert.deepEqual(await s.events(7, 10), []);
      assert.deepEqual(await s.events(0, 0), []);
    });

    test('more events than one transaction holds are appended whole and read back in order', async () => {
      const s = open(await harness.fresh());
      await s.campaign('c1');
      await s.append(events(1, 250));
      assert.equal(await s.lastSeq(), 250);
      const back = await s.events(0, 1000);
      assert.deepEqual(back.map((e) => e.seq), Array.from({ length: 250 }, (_, i) => i + 1));
      assert.deepEqual(await s.events(99, 3), events(100, 102));
    });

    test('append refuses a seq already in the log and a batch that does not increase, writing nothing of them', async () => {
      const s = open(await harness.fresh());
      await s.campaign('c1');
      await s.append(events(1, 7));
      await rejects(s.append(events(7, 8, 'dup')), 'CONFLICT', /7/);
      await rejects(s.append(events(3, 3, 'dup')), 'CONFLICT');
      await rejects(s.append([...events(9, 9), ...events(9, 9)]), 'INTERNAL', /increase/);
      await rejects(s.append([{ ...events(1, 1)[0]!, seq: 0 }]), 'INTERNAL', /positive/);
      assert.equal(await s.lastSeq(), 7);
      assert.deepEqual(await s.events(0, 100), events(1, 7));
      await s.append(events(8, 8));
      assert.equal(await s.lastSeq(), 8);
    });

    test('appending the same events again (a retry) skips them and appends only what is new', async () => {
      const s = open(await harness.fresh());
      await s.campaign('c1');
      await s.append(events(1, 3));
      await s.append(events(1, 3));
      await s.append(events(2, 5));
      assert.deepEqual(await s.events(0, 100), events(1, 5));
      await rejects(s.append([...events(5, 5), ...events(6, 6, 'other')].map((e) => (e.seq === 5 ? { ...e, message: 'changed' } : e))), 'CONFLICT', /5/);
      assert.equal(await s.lastSeq(), 5);
    });

    test('everything survives a reopen, and the next term has a higher epoch', async () => {
      const b = await harness.fresh();
      const s1 = open(b);
      const t1 = await s1.campaign('c1');
      await s1.append(events(1, 3));
      await s1.save(record(t1.epoch, 'kept'));
      await s1.close();
      assert.equal(t1.signal.aborted, true, 'close ends the term');
      const s2 = open(b);
      assert.deepEqual(await s2.load(), record(t1.epoch, 'kept'));
      assert.deepEqual(await s2.events(0, 10), events(1, 3));
      assert.equal(await s2.lastSeq(), 3);
      const t2 = await s2.campaign('c1');
      assert.ok(t2.epoch > t1.epoch, `epoch ${t2.epoch} after ${t1.epoch}`);
      await s2.append(events(4, 4));
      assert.deepEqual((await s2.events(0, 10)).map((e) => e.seq), [1, 2, 3, 4]);
    });

    test("a stale leader's writes are refused and change nothing; it learns that its term is over", async () => {
      const b = await harness.fresh();
      const a = open(b);
      let lostReason: Error | undefined;
      const ta = await a.campaign('a', { onLost: (why) => (lostReason = why) });
      await a.append(events(1, 2, 'a'));
      await a.save(record(ta.epoch, 'a'));
      await b.depose();
      const bb = open(b);
      const tb = await bb.campaign('b');
      assert.ok(tb.epoch > ta.epoch, `epoch ${tb.epoch} after ${ta.epoch}`);
      // Either the guarded write or the lapse of its own lease tells `a`: both say CONFLICT or
      // UNREACHABLE and change nothing; a guarded write names who leads now.
      const saveErr = await a.save(record(ta.epoch, 'stale')).then(() => undefined, (e: unknown) => e);
      assert.ok(saveErr instanceof HavenError && saveErr.code === 'CONFLICT', `stale save: ${String(saveErr)}`);
      await rejects(a.append(events(3, 3, 'a')), 'CONFLICT');
      await rejects(a.appendFenceRecords(fences(1, 1, ta.epoch)), 'CONFLICT');
      assert.equal(ta.signal.aborted, true);
      assert.ok(lostReason instanceof HavenError, 'onLost was called');
      assert.deepEqual(await bb.load(), record(ta.epoch, 'a'));
      assert.equal(await bb.lastSeq(), 2);
      await bb.append(events(3, 3, 'b'));
      await bb.save(record(tb.epoch, 'b'));
      assert.deepEqual(await a.load(), record(tb.epoch, 'b'), 'a stale leader still reads');
      assert.deepEqual((await bb.events(0, 10)).map((e) => e.message), ['a event 1', 'a event 2', 'b event 3']);
      assert.deepEqual(await bb.leader(), { name: 'b', epoch: tb.epoch });
      assert.equal(await bb.lastFenceSeq(), 0);
    });

    test('a guarded write names the new leader', async () => {
      const b = await harness.fresh();
      const a = open(b);
      const ta = await a.campaign('a');
      await b.depose();
      const tb = await open(b).campaign('b');
      const err = await rejects(a.save(record(ta.epoch)), 'CONFLICT');
      // The etcd store may have learned from its keep-alive first; then the message says so.
      if (!/lease/.test(err.message)) assert.match(err.message, new RegExp(`epoch ${ta.epoch} of a is over \\(b leads with epoch ${tb.epoch}\\)`));
    });

    test('resign ends the term at once and another controller takes over', async () => {
      const b = await harness.fresh();
      const a = open(b);
      const ta = await a.campaign('a');
      assert.equal(ta.holds(), true);
      await ta.resign();
      await ta.resign();
      assert.equal(ta.signal.aborted, true);
      assert.equal(ta.holds(), false);
      await rejects(a.save(record(ta.epoch)), 'CONFLICT', /resigned/);
      const started = Date.now();
      const tb = await open(b).campaign('b');
      assert.ok(Date.now() - started < 3000, `takeover after a resign took ${Date.now() - started} ms`);
      assert.ok(tb.epoch > ta.epoch);
      const ta2 = await a.campaign('a', { signal: AbortSignal.timeout(1500) }).catch((e: unknown) => e as Error);
      // Embedded: `a` takes over again at once; etcd: `a` waits while `b` leads, until the timeout.
      if (ta2 instanceof Error) assert.equal(ta2.name, 'TimeoutError');
      else assert.ok(ta2.epoch > tb.epoch);
    });

    test('fence history: latest records, per node, lastFenceSeq, seqs never reused', async () => {
      const s = open(await harness.fresh());
      const t = await s.campaign('c1');
      assert.equal(await s.lastFenceSeq(), 0);
      assert.deepEqual(await s.fenceHistory({ limit: 10 }), []);
      await s.appendFenceRecords(fences(1, 6, t.epoch));
      await s.appendFenceRecords([]);
      assert.equal(await s.lastFenceSeq(), 6);
      assert.deepEqual(await s.fenceHistory({ limit: 3 }), fences(4, 6, t.epoch));
      assert.deepEqual((await s.fenceHistory({ node: 'h1', limit: 2 })).map((r) => r.seq), [3, 5]);
      assert.deepEqual((await s.fenceHistory({ node: 'h2', limit: 10 })).map((r) => r.seq), [2, 4, 6]);
      assert.deepEqual(await s.fenceHistory({ node: 'h9', limit: 10 }), []);
      await rejects(s.appendFenceRecords([{ ...fences(6, 6, t.epoch)[0]!, reason: 'other' }]), 'CONFLICT');
      await rejects(s.appendFenceRecords([...fences(8, 8), ...fences(7, 7)]), 'INTERNAL');
      assert.equal(await s.lastFenceSeq(), 6);
    });

    test('config history: versions in order, one by one, read back exactly, newest first to last', async () => {
      const s = open(await harness.fresh());
      assert.equal(await s.lastConfigVersion(), 0);
      assert.deepEqual(await s.configHistory(10), []);
      assert.equal(await s.configVersion(1), undefined);
      await s.campaign('c1');
      for (let v = 1; v <= 4; v++) await s.appendConfig(configVersion(v));
      const rollback: ConfigVersion = { ...configVersion(5), origin: 'rollback', rollbackOf: 2, text: configVersion(2).text };
      await s.appendConfig(rollback);
      assert.equal(await s.lastConfigVersion(), 5);
      assert.deepEqual(await s.configVersion(3), configVersion(3));
      assert.deepEqual(await s.configVersion(5), rollback);
      assert.equal(await s.configVersion(6), undefined);
      assert.equal(await s.configVersion(0), undefined);
      assert.deepEqual(await s.configHistory(2), [configVersion(4), rollback]);
      assert.deepEqual((await s.configHistory(100)).map((v) => v.version), [1, 2, 3, 4, 5]);
      assert.deepEqual(await s.configHistory(0), []);
    });

    test('config history: a version already recorded or out of turn is refused with CONFLICT and writes nothing; the same entry again is a retry', async () => {
      const s = open(await harness.fresh());
      await s.campaign('c1');
      await s.appendConfig(configVersion(1));
      await s.appendConfig(configVersion(2, 'mine'));
      // Someone else based a change on version 1 too: it would be version 2 again.
      await rejects(s.appendConfig(configVersion(2, 'theirs')), 'CONFLICT', /2/);
      await rejects(s.appendConfig(configVersion(1, 'theirs')), 'CONFLICT');
      await rejects(s.appendConfig(configVersion(4)), 'CONFLICT', /follow/);
      await rejects(s.appendConfig({ ...configVersion(3), replaces: 3 }), 'INTERNAL');
      await rejects(s.appendConfig({ ...configVersion(3), origin: 'magic' as never }), 'INTERNAL');
      await s.appendConfig(configVersion(2, 'mine'));
      assert.equal(await s.lastConfigVersion(), 2);
      assert.deepEqual(await s.configHistory(10), [configVersion(1), configVersion(2, 'mine')]);
      await s.appendConfig(configVersion(3));
      assert.equal(await s.lastConfigVersion(), 3);
    });

    test("config history survives a reopen, and a stale leader's version is refused", async () => {
      const b = await harness.fresh();
      const a = open(b);
      await a.campaign('a');
      await a.appendConfig(configVersion(1));
      await a.close();
      const again = open(b);
      assert.equal(await again.lastConfigVersion(), 1);
      const t = await again.campaign('a');
      await again.appendConfig(configVersion(2));
      await b.depose();
      const other = open(b);
      await other.campaign('b');
      await rejects(again.appendConfig(configVersion(3, 'stale')), 'CONFLICT');
      assert.equal(t.signal.aborted, true);
      assert.equal(await other.lastConfigVersion(), 2);
      await other.appendConfig(configVersion(3, 'new leader'));
      assert.deepEqual(await again.configVersion(3), configVersion(3, 'new leader'), 'a stale leader still reads');
    });

    test('a damaged config version is refused with where it is, not skipped', async () => {
      const b = await harness.fresh();
      const s = open(b);
      await s.campaign('c1');
      for (let v = 1; v <= 3; v++) await s.appendConfig(configVersion(v));
      await b.corruptConfig(2);
      await rejects(s.configHistory(10), 'IO', /config/);
      await rejects(s.configVersion(2), 'IO', /config/);
    });

    test('one campaign at a time per store', async () => {
      const s = open(await harness.fresh());
      await s.campaign('c1');
      await rejects(s.campaign('c1'), 'CONFLICT', /already/);
      await rejects(s.campaign(''), 'USAGE');
    });

    test('observeLeader reports the leader and every change', async () => {
      const b = await harness.fresh();
      const watcher = open(b);
      const seen: (LeaderInfo | undefined)[] = [];
      const stop = new AbortController();
      watcher.observeLeader((l) => seen.push(l), stop.signal);
      try {
        await until('the first report', () => (seen.length >= 1 ? true : undefined));
        assert.equal(seen[0], undefined);
        const a = open(b);
        const ta = await a.campaign('a');
        await until('a as the leader', () => (seen.some((l) => l?.name === 'a' && l.epoch === ta.epoch) ? true : undefined));
        await ta.resign();
        const tb = await open(b).campaign('b');
        await until('b as the leader', () => (seen.some((l) => l?.name === 'b' && l.epoch === tb.epoch) ? true : undefined));
      } finally {
        stop.abort();
      }
      const count = seen.length;
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(seen.length, count, 'no report after the signal aborted');
    });

    test('a damaged record is refused with where it is, not read as empty', async () => {
      const b = await harness.fresh();
      const s = open(b);
      const t = await s.campaign('c1');
      await s.save(record(t.epoch));
      await b.corruptRecord();
      await rejects(s.load(), 'IO', /record/);
    });

    test('a damaged event is refused with where it is, not skipped', async () => {
      const b = await harness.fresh();
      const s = open(b);
      await s.campaign('c1');
      await s.append(events(1, 3));
      await b.corruptEvent(2);
      await rejects(s.events(0, 10), 'IO', /event/);
    });
  });
}
