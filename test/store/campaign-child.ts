// A controller stand-in for the etcd tests, run as its own process so that a test can kill -9 or
// SIGSTOP it: it campaigns, then saves a record every 50 ms, and reports on stdout, one JSON
// line per thing that happened: leader (with its epoch), saved (with a count), lost, failed.
// Usage: node campaign-child.js ENDPOINTS(comma-separated) CLUSTER NAME

import { HavenError } from '../../src/errors.js';
import { EtcdStore } from '../../src/store/etcd.js';
import { record } from './conformance.js';

const [endpoints = '', cluster = '', name = ''] = process.argv.slice(2);
const say = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
};

const store = new EtcdStore({ endpoints: endpoints.split(','), cluster });
const term = await store.campaign(name, {
  onLost: (why) => say({ event: 'lost', code: why instanceof HavenError ? why.code : 'OTHER', message: why.message }),
});
say({ event: 'leader', epoch: term.epoch, ttlMs: term.ttlMs });
let count = 0;
for (;;) {
  try {
    count += 1;
    await store.save(record(term.epoch, `${name} ${count}`));
    say({ event: 'saved', count });
  } catch (err) {
    say({ event: 'failed', code: err instanceof HavenError ? err.code : 'OTHER', message: (err as Error).message });
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 50));
}
