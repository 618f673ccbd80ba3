// The conformance suite on the embedded store, plus what only it does: writes without a
// campaign (a single controller, as before leader election), a torn last line cut off, state
// directories from before leader election keeping their epochs.

import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { events, record, rejects, storeConformance } from './conformance.js';

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hvtest-store-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

storeConformance('embedded', {
  async fresh() {
    const dir = await freshDir();
    return {
      open: () => new EmbeddedStore(dir),
      depose: async () => undefined,
      corruptRecord: () => writeFile(join(dir, 'record.json'), '{"format":"haven-controller-record/1","record":'),
      corruptEvent: async (seq) => {
        const path = join(dir, 'events.jsonl');
        const lines = (await readFile(path, 'utf8')).split('\n');
        lines[seq - 1] = 'not json at all';
        await writeFile(path, lines.join('\n'));
      },
      corruptConfig: async (version) => {
        const path = join(dir, 'config-history.jsonl');
        const lines = (await readFile(path, 'utf8')).split('\n');
        lines[version - 1] = '{"version":"two"}';
        await writeFile(path, lines.join('\n'));
      },
    };
  },
});

describe('embedded store only', () => {
  test('without a campaign it writes unguarded, as a single controller did before leader election', async () => {
    const s = new EmbeddedStore(await freshDir());
    await s.save(record(1));
    await s.append(events(1, 2));
    assert.deepEqual(await s.load(), record(1));
    assert.equal(await s.lastSeq(), 2);
    await s.close();
  });

  test("a state directory from before leader election: the first campaign's epoch follows the record's", async () => {
    const dir = await freshDir();
    const old = new EmbeddedStore(dir);
    await old.save(record(41));
    await old.close();
    const s = new EmbeddedStore(dir);
    const t = await s.campaign('ctl');
    assert.equal(t.epoch, 42);
    assert.equal(t.ttlMs, 0);
    await s.close();
  });

  test('a torn last line (an append cut by a crash) is not an event and is cut off before the next append', async () => {
    const dir = await freshDir();
    const s = new EmbeddedStore(dir);
    await s.append(events(1, 2));
    await s.close();
    await appendFile(join(dir, 'events.jsonl'), '{"seq":3,"at":1,"ki');
    const s2 = new EmbeddedStore(dir);
    assert.equal(await s2.lastSeq(), 2);
    assert.deepEqual(await s2.events(0, 10), events(1, 2));
    await s2.append(events(3, 3));
    assert.deepEqual(await s2.events(0, 10), events(1, 3));
    await s2.close();
  });

  test('a damaged leader.json is refused by a campaign, not overwritten', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'leader.json'), '{"format":"haven-leader/1","epoch":-3,"name":"x"}\n');
    const s = new EmbeddedStore(dir);
    await rejects(s.campaign('ctl'), 'IO', /leader\.json/);
    assert.match(await readFile(join(dir, 'leader.json'), 'utf8'), /-3/);
    await s.close();
  });
});
