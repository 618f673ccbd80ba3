// The heartbeat path end to end on loopback: real HeartbeatSenders and a real HeartbeatReceiver over
// UDP. Two rings are two loopback addresses and ports; each node has its own address per ring, so
// a datagram's source says which node and ring it came over. Timing bounds carry generous slack:
// the machine is shared and loaded.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, it } from 'node:test';
import { HeartbeatSender } from './sender.js';
import { HavenError } from '../errors.js';
import { configSchema, type Config } from '../model/config.js';
import { HeartbeatReceiver, type ReceiverEvent } from './receiver.js';

const INTERVAL = 50;
const RING_TIMEOUT = 300;
/** Slack on top of a timing bound for a loaded machine. */
const SLACK = 700;

/** A cluster on loopback: controller c1 at 127.0.0.1 (r1) and 127.0.0.2 (r2); node i at 127.0.1.i (r1) and 127.0.2.i (r2). */
function loopbackConfig(basePort: number, nodes = 2, heartbeat?: { interval: string; ringTimeout: string }): Config {
  return configSchema.parse({
    cluster: { name: 'test', ...(heartbeat === undefined ? {} : { heartbeat }) },
    rings: [
      { name: 'r1', port: basePort },
      { name: 'r2', port: basePort + 1 },
    ],
    nodes: Array.from({ length: nodes }, (_, i) => ({ name: `n${i + 1}`, addresses: { r1: `127.0.1.${i + 1}`, r2: `127.0.2.${i + 1}` } })),
    controllers: [{ name: 'c1', addresses: { r1: '127.0.0.1', r2: '127.0.0.2' } }],
  });
}

interface Harness {
  config: Config;
  receiver: HeartbeatReceiver;
  events: (ReceiverEvent & { seenAt: number })[];
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A receiver on random free ports (retried if a port is taken), recording every event. */
async function harness(nodes = 2, heartbeat?: { interval: string; ringTimeout: string }): Promise<Harness> {
  for (let attempt = 0; ; attempt++) {
    const config = loopbackConfig(20_000 + 2 * Math.floor(Math.random() * 20_000), nodes, heartbeat);
    try {
      const receiver = await HeartbeatReceiver.start({ config, controller: 'c1' });
      cleanup.push(() => receiver.stop());
      const events: Harness['events'] = [];
      receiver.onEvent((e) => events.push({ ...e, seenAt: performance.now() }));
      return { config, receiver, events };
    } catch (error) {
      if (attempt < 5 && error instanceof HavenError && /EADDRINUSE/.test(error.message)) continue;
      throw error;
    }
  }
}

async function sender(config: Config, node: string, incarnation?: number): Promise<HeartbeatSender> {
  const s = await HeartbeatSender.start({ config, node, epoch: () => 7, ...(incarnation === undefined ? {} : { incarnation }) });
  cleanup.push(() => s.stop());
  return s;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeout = 3000): Promise<T> {
  const until = performance.now() + timeout;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (performance.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends raw bytes to ring r1 of the harness's controller from `from`. */
async function sendRaw(h: Harness, bytes: Buffer | string, from: string, ring: 'r1' | 'r2' = 'r1'): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ address: from, port: 0 }, resolve));
  const target = h.receiver.endpoints().find((e) => e.ring === ring);
  assert.ok(target);
  await new Promise<void>((resolve, reject) => socket.send(bytes, target.port, target.address, (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve) => socket.close(resolve));
}

function heartbeat(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ v: 1, cluster: 'test', node: 'n1', ring: 'r1', seq: 1, incarnation: 1, epoch: 0, sentAt: Date.now(), ...fields });
}

describe('heartbeat receiver with senders on loopback', () => {
  it('a node sending on both rings is alive on both', async () => {
    const h = await harness();
    const s = await sender(h.config, 'n1');
    const alive = await waitFor('n1 alive on both rings', () => {
      const v = h.receiver.verdict('n1');
      return v?.kind === 'alive' && v.up.length === 2 ? v : undefined;
    });
    assert.deepEqual(alive.up, ['r1', 'r2']);
    assert.ok(h.events.some((e) => e.type === 'ring-up' && e.node === 'n1' && e.ring === 'r1'));
    assert.ok(h.events.some((e) => e.type === 'ring-up' && e.node === 'n1' && e.ring === 'r2'));
    assert.ok(h.events.some((e) => e.type === 'alive' && e.node === 'n1'));
    await sleep(4 * INTERVAL);
    const report = h.receiver.report('n1');
    assert.ok(report);
    assert.equal(report.epoch, 7);
    assert.equal(report.incarnation, s.incarnation);
    for (const ring of report.rings) assert.ok(ring.accepted >= 3, `ring ${ring.ring} accepted ${ring.accepted}`);
    const counts = h.receiver.counts();
    assert.equal(counts.datagrams, counts.accepted, JSON.stringify(counts));
    assert.equal(s.counts().failed, 0);
    assert.ok(!h.events.some((e) => e.type === 'suspect' && e.node === 'n1'));
  });

  it('a node whose sender stops is suspect within ringTimeout plus slack, and no earlier than its last heartbeat allows', async () => {
    const h = await harness();
    const s1 = await sender(h.config, 'n1');
    await sender(h.config, 'n2');
    await waitFor('both alive', () => (h.receiver.verdict('n1')?.kind === 'alive' && h.receiver.verdict('n2')?.kind === 'alive' ? true : undefined));
    await sleep(3 * INTERVAL);
    const stoppedAt = performance.now();
    await s1.stop();
    const suspect = await waitFor('n1 suspect', () => h.events.find((e) => e.type === 'suspect' && e.node === 'n1'), RING_TIMEOUT + 3000);
    const took = suspect.seenAt - stoppedAt;
    assert.ok(took <= RING_TIMEOUT + SLACK, `suspect ${took.toFixed(0)} ms after the sender stopped`);
    // The last heartbeat left at most one interval before the stop; the ring timeout runs from it.
    assert.ok(took >= RING_TIMEOUT - INTERVAL - 25, `suspect only ${took.toFixed(0)} ms after the sender stopped`);
    assert.equal(suspect.type, 'suspect');
    if (suspect.type === 'suspect') {
      assert.deepEqual([...suspect.down].sort(), ['r1', 'r2']);
      assert.ok(suspect.lastHeard !== null);
    }
    assert.equal(h.receiver.verdict('n1')?.kind, 'suspect');
    assert.equal(h.receiver.verdict('n2')?.kind, 'alive', 'the other node is untouched');
  });

  it('a node silent on one ring only is degraded, never suspect', async () => {
    const h = await harness();
    const s = await sender(h.config, 'n1');
    await waitFor('n1 alive on both rings', () => {
      const v = h.receiver.verdict('n1');
      return v?.kind === 'alive' && v.up.length === 2 ? true : undefined;
    });
    s.stopRing('r2');
    const degraded = await waitFor('n1 degraded', () => h.events.find((e) => e.type === 'degraded' && e.node === 'n1'), RING_TIMEOUT + 3000);
    assert.equal(degraded.type, 'degraded');
    if (degraded.type === 'degraded') {
      assert.deepEqual(degraded.down, ['r2']);
      assert.deepEqual(degraded.up, ['r1']);
      assert.match(degraded.reason, /silent on ring r2/);
    }
    assert.ok(h.events.some((e) => e.type === 'ring-down' && e.node === 'n1' && e.ring === 'r2'));
    await sleep(3 * RING_TIMEOUT);
    assert.ok(!h.events.some((e) => e.type === 'suspect' && e.node === 'n1'), 'never suspect while one ring is heard');
    assert.equal(h.receiver.verdict('n1')?.kind, 'degraded');
  });

  it('a node that never sends is suspect ringTimeout after the receiver starts', async () => {
    const h = await harness(1);
    const start = performance.now();
    const suspect = await waitFor('n1 suspect', () => h.events.find((e) => e.type === 'suspect' && e.node === 'n1'), RING_TIMEOUT + 3000);
    assert.ok(suspect.seenAt - start >= RING_TIMEOUT - 5);
    assert.ok(suspect.seenAt - start <= RING_TIMEOUT + SLACK);
    if (suspect.type === 'suspect') assert.equal(suspect.lastHeard, null);
  });

  it('an agent that comes back after being suspect is recovered, then alive; a restart is reported', async () => {
    const h = await harness(1);
    const s1 = await sender(h.config, 'n1', 1000);
    await waitFor('n1 alive', () => (h.receiver.verdict('n1')?.kind === 'alive' ? true : undefined));
    await s1.stop();
    await waitFor('n1 suspect', () => (h.receiver.verdict('n1')?.kind === 'suspect' ? true : undefined), RING_TIMEOUT + 3000);
    await sender(h.config, 'n1', 2000);
    await waitFor('n1 recovered', () => h.events.find((e) => e.type === 'recovered' && e.node === 'n1'));
    assert.ok(h.events.some((e) => e.type === 'restarted' && e.node === 'n1' && e.from === 1000 && e.to === 2000));
    await waitFor('n1 alive again', () => (h.receiver.verdict('n1')?.kind === 'alive' ? true : undefined), RING_TIMEOUT + 3000);
  });

  it('a sender of an older incarnation is refused while a newer one runs', async () => {
    const h = await harness(1);
    await sender(h.config, 'n1', 2000);
    await waitFor('n1 alive', () => (h.receiver.verdict('n1')?.kind === 'alive' ? true : undefined));
    await sender(h.config, 'n1', 1000);
    await waitFor('old incarnation refused', () => (h.receiver.counts().refused['old-incarnation'] >= 4 ? true : undefined));
    assert.equal(h.receiver.report('n1')?.incarnation, 2000);
  });
});

describe('heartbeat receiver refuses bad datagrams', () => {
  it('counts malformed, wrong-cluster, wrong-ring, wrong-source and unknown-node datagrams and keeps working', async () => {
    const h = await harness(1);
    await sendRaw(h, 'this is not json', '127.0.1.1');
    await sendRaw(h, Buffer.from([0xff, 0xfe, 0x00, 0x7b]), '127.0.1.1');
    await sendRaw(h, heartbeat({ seq: -1 }), '127.0.1.1');
    await sendRaw(h, heartbeat({ extra: true }), '127.0.1.1');
    await sendRaw(h, heartbeat({ cluster: 'other' }), '127.0.1.1');
    await sendRaw(h, heartbeat({ ring: 'r2' }), '127.0.1.1');
    await sendRaw(h, heartbeat(), '127.0.1.99');
    await sendRaw(h, heartbeat({ node: 'ghost' }), '127.0.1.1');
    await sendRaw(h, 'x'.repeat(2000), '127.0.1.1');
    const counts = await waitFor('nine datagrams', () => {
      const c = h.receiver.counts();
      return c.datagrams === 9 ? c : undefined;
    });
    assert.equal(counts.accepted, 0);
    assert.equal(counts.refused['not-json'], 2);
    assert.equal(counts.refused.schema, 2);
    assert.equal(counts.refused['wrong-cluster'], 1);
    assert.equal(counts.refused['wrong-ring'], 1);
    assert.equal(counts.refused['wrong-source'], 1);
    assert.equal(counts.refused['unknown-node'], 1);
    assert.equal(counts.refused['too-large'], 1);
    assert.equal(h.receiver.verdict('n1')?.kind, 'unknown', 'nothing refused counts as a heartbeat');
    // A good datagram after all that is taken.
    await sendRaw(h, heartbeat(), '127.0.1.1');
    await waitFor('n1 heard', () => (h.receiver.verdict('n1')?.kind === 'alive' ? true : undefined));
    assert.equal(h.receiver.counts().accepted, 1);
    // A duplicate is refused as old.
    await sendRaw(h, heartbeat(), '127.0.1.1');
    await waitFor('duplicate refused', () => (h.receiver.counts().refused['old-seq'] === 1 ? true : undefined));
  });

  it('logs each refusal at debug with its reason', async () => {
    const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      debug: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'debug', fields, msg }),
      info: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'info', fields, msg }),
      warn: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', fields, msg }),
    };
    const config = loopbackConfig(20_000 + 2 * Math.floor(Math.random() * 20_000), 1);
    const receiver = await HeartbeatReceiver.start({ config, controller: 'c1', logger });
    cleanup.push(() => receiver.stop());
    await sendRaw({ config, receiver, events: [] }, heartbeat({ cluster: 'other' }), '127.0.1.1');
    const line = await waitFor('a debug line', () => lines.find((l) => l.level === 'debug' && l.fields['reason'] === 'wrong-cluster'));
    assert.match(String(line.fields['detail']), /cluster "other"/);
    assert.equal(line.fields['node'], 'n1');
  });

  it('a listener that throws does not stop the others', async () => {
    const h = await harness(1);
    h.receiver.on('ring-up', () => {
      throw new Error('boom');
    });
    const seen: string[] = [];
    h.receiver.on('alive', (e) => seen.push(e.node));
    await sendRaw(h, heartbeat(), '127.0.1.1');
    await waitFor('alive seen', () => (seen.length === 1 ? true : undefined));
  });
});

describe('heartbeat receiver and sender start-up errors', () => {
  it('refuses an unknown controller, a bad tick interval and a port in use, leaving nothing open', async () => {
    const h = await harness(1);
    await assert.rejects(HeartbeatReceiver.start({ config: h.config, controller: 'c9' }), (e: unknown) => e instanceof HavenError && e.code === 'NOT_FOUND');
    await assert.rejects(HeartbeatReceiver.start({ config: h.config, controller: 'c1', tickInterval: 500 }), (e: unknown) => e instanceof HavenError && e.code === 'USAGE');
    await assert.rejects(HeartbeatReceiver.start({ config: h.config, controller: 'c1' }), (e: unknown) => e instanceof HavenError && e.code === 'IO' && /EADDRINUSE/.test(e.message));
  });

  it('the sender refuses an unknown node and a config without controllers', async () => {
    const config = loopbackConfig(40_000, 1);
    await assert.rejects(HeartbeatSender.start({ config, node: 'n9', epoch: () => 0 }), (e: unknown) => e instanceof HavenError && e.code === 'NOT_FOUND');
    const { controllers: _, ...bare } = config;
    await assert.rejects(HeartbeatSender.start({ config: bare, node: 'n1', epoch: () => 0 }), (e: unknown) => e instanceof HavenError && e.code === 'CONFIG_INVALID');
  });
});

describe('heartbeat sender timing', () => {
  it('sends one datagram per ring per slot, seq = slot, and skips slots missed while the loop was blocked instead of bursting', async () => {
    // A bare UDP socket stands in for the controller, recording (ring, seq, arrival).
    const port = 20_000 + 2 * Math.floor(Math.random() * 20_000);
    const config = loopbackConfig(port, 1, { interval: '20ms', ringTimeout: '120ms' });
    const got: { ring: string; seq: number; at: number }[] = [];
    const sockets = await Promise.all(
      [
        ['127.0.0.1', port],
        ['127.0.0.2', port + 1],
      ].map(async ([address, p]) => {
        const s = dgram.createSocket('udp4');
        s.on('message', (msg) => {
          const m = JSON.parse(msg.toString()) as { ring: string; seq: number };
          got.push({ ring: m.ring, seq: m.seq, at: performance.now() });
        });
        await new Promise<void>((resolve) => s.bind({ address: address as string, port: p as number }, resolve));
        return s;
      }),
    );
    cleanup.push(async () => {
      for (const s of sockets) await new Promise<void>((resolve) => s.close(resolve));
    });
    const t0 = performance.now();
    const s = await sender(config, 'n1');
    await sleep(200);
    const blockedFrom = performance.now();
    while (performance.now() - blockedFrom < 150) {
      // Block the event loop: slots due now cannot be sent.
    }
    await sleep(200);
    await s.stop();
    await sleep(20);

    const counts = s.counts();
    assert.ok(counts.skipped >= 5, `skipped ${counts.skipped}`);
    for (const ring of ['r1', 'r2']) {
      const seqs = got.filter((g) => g.ring === ring).map((g) => g.seq);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), `ring ${ring}: each slot once, in order`);
    }
    // Seq is the slot on the sender's clock: it tracks the time since start, no drift.
    for (const g of got) {
      const expected = (g.at - t0) / 20;
      assert.ok(g.seq <= expected + 1 && g.seq >= expected - 4, `seq ${g.seq} at slot time ${expected.toFixed(1)}`);
    }
    // No burst: the slots due during the block were skipped, not sent late.
    const r1 = got.filter((g) => g.ring === 'r1').map((g) => g.seq);
    const gaps = r1.slice(1).map((seq, i) => seq - (r1[i] as number));
    assert.ok(Math.max(...gaps) >= 6, `largest seq gap ${Math.max(...gaps)}: the missed slots were sent after all`);
    const sent = got.filter((g) => g.ring === 'r1').length;
    assert.ok(sent <= Math.ceil((performance.now() - t0) / 20) + 1, `${sent} datagrams on r1`);
    assert.ok(sent >= 10, `only ${sent} datagrams on r1`);
  });
});
