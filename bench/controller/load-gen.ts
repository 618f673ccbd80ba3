// The controller bench's load generator: simulated agents that send real heartbeat datagrams
// (src/model/wire.ts heartbeatSchema) to a real `haven controller`, one UDP socket per node bound
// to that node's own loopback address (the controller refuses a heartbeat that does not come from
// the node's configured address), and, with --serve, the agent API's GET /v1/state for every node
// on one HTTP server (the controller probes each node once when it starts). It runs inside the
// bench's own network namespace, so 127.0.0.0/8 and its ports are the bench's alone.
//
//   node dist/bench/controller/load-gen.js --nodes 10000 --first 0 --count 10000 --interval 1000 \
//     --cluster bench --ring ring0 --controller 127.0.0.2 --port 5405 [--serve 7410]
//
// Sends are spread evenly over the interval (node i's phase is i/N of it), as real agents are not
// in step: a timer every few ms sends whatever fell due since. A generator that falls more than one
// interval behind skips those slots (counted), never bursts. It prints one JSON line when every
// socket is bound ({"ready":true}), its counts on SIGUSR1, and on SIGTERM its counts, and exits.

import dgram from 'node:dgram';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { heartbeatSchema, WIRE_VERSION } from '../../src/model/wire.js';
import { simNode } from './sim.js';

interface Counts {
  sent: number;
  sendErrors: number;
  skipped: number;
  grants: number;
  stateRequests: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      first: { type: 'string', default: '0' },
      count: { type: 'string' },
      interval: { type: 'string', default: '50' },
      cluster: { type: 'string', default: 'bench' },
      ring: { type: 'string', default: 'ring0' },
      controller: { type: 'string', default: '127.0.0.2' },
      port: { type: 'string', default: '5405' },
      serve: { type: 'string' },
    },
  });
  const total = Number(values.nodes);
  const first = Number(values.first);
  const count = Number(values.count ?? total - first);
  const interval = Number(values.interval);
  const port = Number(values.port);
  const cluster = values.cluster;
  const ring = values.ring;
  const target = values.controller;
  const incarnation = Date.now();
  const counts: Counts = { sent: 0, sendErrors: 0, skipped: 0, grants: 0, stateRequests: 0 };
  let epoch = 0;

  const nodes = Array.from({ length: count }, (_, k) => simNode(first + k));
  // The datagram is exactly what an agent sends: checked once against the wire schema.
  const datagram = (name: string, seq: number): string =>
    `{"v":${WIRE_VERSION},"cluster":${JSON.stringify(cluster)},"node":"${name}","ring":${JSON.stringify(ring)},"seq":${seq},"incarnation":${incarnation},"epoch":${epoch},"sentAt":${Date.now()}}`;
  const sample = heartbeatSchema.safeParse(JSON.parse(datagram(nodes[0]!.name, 0)));
  if (!sample.success) throw new Error(`the generator's heartbeat does not parse: ${sample.error.message}`);

  const sockets: dgram.Socket[] = [];
  let grantsSeen = 0;
  for (const n of nodes) {
    const s = dgram.createSocket('udp4');
    s.on('error', () => counts.sendErrors++);
    s.on('message', (msg) => {
      counts.grants++;
      // Learn the controller's epoch from a grant now and then (an agent sends the highest it accepted).
      if ((grantsSeen++ & 63) === 0) {
        const m = /"epoch":(\d+)/.exec(msg.toString('utf8'));
        if (m) epoch = Math.max(epoch, Number(m[1]));
      }
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, n.address, () => {
        s.off('error', reject);
        resolve();
      });
    });
    sockets.push(s);
  }

  if (values.serve !== undefined) {
    // Every node's agent API at once: the local address a request came to names the node.
    const byAddress = new Map(Array.from({ length: total }, (_, i) => simNode(i)).map((n) => [n.address, n.name]));
    const server = createServer((req, res) => {
      const node = byAddress.get((req.socket.localAddress ?? '').replace(/^::ffff:/, ''));
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url === '/v1/state' && node !== undefined) {
        counts.stateRequests++;
        res.end(JSON.stringify({ node, incarnation, epoch, copies: [] }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ code: 'NOT_FOUND', message: `no ${req.method} ${req.url} in the simulated agent` }));
    });
    await new Promise<void>((resolve) => server.listen(Number(values.serve), '0.0.0.0', resolve));
  }

  const start = performance.now();
  let issued = 0;
  const tick = Math.max(1, Math.min(5, Math.floor(interval / 10)));
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / interval) * count) + 1;
    if (due - issued > count) {
      counts.skipped += due - issued - count;
      issued = due - count;
    }
    for (; issued < due; issued++) {
      const k = issued % count;
      const bytes = Buffer.from(datagram(nodes[k]!.name, Math.floor(issued / count)));
      sockets[k]!.send(bytes, port, target, (err) => {
        if (err) counts.sendErrors++;
        else counts.sent++;
      });
    }
  }, tick);

  process.stdout.write(`${JSON.stringify({ ready: true, nodes: count })}\n`);
  // SIGUSR1: the counts so far (the bench reads them at both ends of its window).
  process.on('SIGUSR1', () => process.stdout.write(`${JSON.stringify({ ...counts, epoch, seconds: (performance.now() - start) / 1000 })}\n`));
  process.once('SIGTERM', () => {
    clearInterval(timer);
    process.stdout.write(`${JSON.stringify({ ...counts, epoch, seconds: (performance.now() - start) / 1000 })}\n`);
    for (const s of sockets) s.close();
    process.exit(0);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`load-gen: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
