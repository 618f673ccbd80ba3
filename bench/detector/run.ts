// The detection bench: how long after a node goes silent the controller calls it suspect, measured
// end to end on loopback with the real HeartbeatSender and HeartbeatReceiver (UDP, two rings) and
// the default timing (interval 50 ms, ringTimeout 300 ms, tick 10 ms). See docs/detection.md.
//
//   npm run bench:detector                         20 trials, default timing
//   npm run bench:detector -- --trials 50 --interval 20 --ring-timeout 120 --json
//
// One trial: start a sender (a new agent incarnation), wait until the node is alive and has sent
// for a random extra 0–interval ms (so the stop falls anywhere between two heartbeats), stop it,
// and time the suspect event from (a) the stop and (b) the last heartbeat the receiver heard.
// (b) is what the model predicts: ringTimeout + up to one tick. (a) is what an operator sees after
// a crash: (b) minus the time since the last heartbeat, so between ringTimeout − interval and
// ringTimeout + tick. Everything stays on 127.0.0.x.

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { HeartbeatSender } from '../../src/membership/sender.js';
import { HeartbeatReceiver, type ReceiverEvent } from '../../src/membership/receiver.js';
import { HavenError } from '../../src/errors.js';
import { configSchema, DEFAULTS, type Config } from '../../src/model/config.js';

const USAGE = `usage: node dist/bench/detector/run.js [flags]
  --trials N          silent-node trials (default 20)
  --interval MS       heartbeat interval (default ${DEFAULTS.heartbeatInterval})
  --ring-timeout MS   ring timeout (default ${DEFAULTS.ringTimeout})
  --tick MS           detector tick (default 10)
  --json              print the figures as JSON
`;

interface Trial {
  /** stop() called → suspect event. */
  readonly fromStop: number;
  /** last heartbeat heard (either ring) → suspect event. */
  readonly fromLastHeard: number;
}

function flags(): { trials: number; interval: number; ringTimeout: number; tick: number; json: boolean } {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '20' },
      interval: { type: 'string', default: String(DEFAULTS.heartbeatInterval) },
      'ring-timeout': { type: 'string', default: String(DEFAULTS.ringTimeout) },
      tick: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new HavenError('USAGE', `--${name} must be an integer ≥ ${min}, got ${text}`, { hint: USAGE });
    return n;
  };
  return {
    trials: int('trials', values.trials, 1),
    interval: int('interval', values.interval, 1),
    ringTimeout: int('ring-timeout', values['ring-timeout'], 2),
    tick: int('tick', values.tick, 1),
    json: values.json,
  };
}

function config(basePort: number, interval: number, ringTimeout: number): Config {
  return configSchema.parse({
    cluster: { name: 'bench', heartbeat: { interval: `${interval}ms`, ringTimeout: `${ringTimeout}ms` } },
    rings: [
      { name: 'r1', port: basePort },
      { name: 'r2', port: basePort + 1 },
    ],
    nodes: [{ name: 'n1', addresses: { r1: '127.0.1.1', r2: '127.0.2.1' } }],
    controllers: [{ name: 'c1', addresses: { r1: '127.0.0.1', r2: '127.0.0.2' } }],
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the value of the first event `test` accepts, or rejects after `timeout` ms. */
function waitFor<T>(subscribe: (cb: (v: T) => void) => () => void, test: (v: T) => boolean, timeout: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${what} within ${timeout} ms`));
    }, timeout);
    const off = subscribe((v) => {
      if (!test(v)) return;
      clearTimeout(timer);
      off();
      resolve(v);
    });
  });
}

function quantile(sorted: readonly number[], q: number): number {
  // Nearest rank: with 20 trials p99 is the largest, p50 the 10th.
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

async function main(): Promise<void> {
  const f = flags();
  let receiver: HeartbeatReceiver | undefined;
  let cfg: Config | undefined;
  for (let attempt = 0; receiver === undefined; attempt++) {
    cfg = config(20_000 + 2 * Math.floor(Math.random() * 20_000), f.interval, f.ringTimeout);
    try {
      receiver = await HeartbeatReceiver.start({ config: cfg, controller: 'c1', tickInterval: f.tick });
    } catch (error) {
      if (attempt >= 5 || !(error instanceof HavenError && /EADDRINUSE/.test(error.message))) throw error;
    }
  }
  const rx = receiver;
  const conf = cfg as Config;
  const trials: Trial[] = [];
  const limit = 10 * f.ringTimeout + 5000;
  try {
    for (let i = 0; i < f.trials; i++) {
      const alive = waitFor<ReceiverEvent>(
        (cb) => rx.onEvent(cb),
        (e) => e.node === 'n1' && e.type === 'alive',
        limit,
        'alive',
      );
      // A new incarnation per trial, as a restarted agent would have.
      const sender = await HeartbeatSender.start({ config: conf, node: 'n1', epoch: () => 0, incarnation: Date.now() * 100 + i, interval: f.interval });
      try {
        await alive;
        await sleep(2 * f.interval + Math.random() * f.interval);
      } finally {
        const suspect = waitFor<Extract<ReceiverEvent, { type: 'suspect' }>>(
          (cb) => rx.on('suspect', cb),
          (e) => e.node === 'n1',
          limit,
          'suspect',
        );
        const stoppedAt = performance.now();
        await sender.stop();
        const e = await suspect;
        const seenAt = performance.now();
        const lastHeard = e.lastHeard?.at ?? Number.NaN;
        trials.push({ fromStop: seenAt - stoppedAt, fromLastHeard: seenAt - lastHeard });
      }
      if (!f.json) process.stderr.write(`trial ${i + 1}/${f.trials}: suspect ${trials.at(-1)?.fromStop.toFixed(1)} ms after the stop\n`);
    }
  } finally {
    await rx.stop();
  }

  const summary = (pick: (t: Trial) => number): { min: number; p50: number; p99: number; max: number } => {
    const s = trials.map((t) => Math.round(pick(t) * 10) / 10).sort((a, b) => a - b);
    return { min: s[0] as number, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.at(-1) as number };
  };
  const result = {
    trials: trials.length,
    timing: { interval: f.interval, ringTimeout: f.ringTimeout, tick: f.tick, rings: 2 },
    expected: { fromLastHeard: [f.ringTimeout, f.ringTimeout + f.tick], fromStop: [f.ringTimeout - f.interval, f.ringTimeout + f.tick] },
    fromStop: summary((t) => t.fromStop),
    fromLastHeard: summary((t) => t.fromLastHeard),
  };
  if (f.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const row = (name: string, s: { min: number; p50: number; p99: number; max: number }, expected: number[]): string =>
    `${name.padEnd(28)} ${[s.min, s.p50, s.p99, s.max].map((v) => v.toFixed(1).padStart(8)).join('')}   ${expected[0]}–${expected[1]}`;
  process.stdout.write(
    [
      `detection time on loopback, ${trials.length} trials, 2 rings, interval ${f.interval} ms, ringTimeout ${f.ringTimeout} ms, tick ${f.tick} ms (ms)`,
      `${''.padEnd(28)} ${['min', 'p50', 'p99', 'max'].map((h) => h.padStart(8)).join('')}   model`,
      row('sender stopped → suspect', result.fromStop, result.expected.fromStop),
      row('last heartbeat → suspect', result.fromLastHeard, result.expected.fromLastHeard),
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof HavenError ? `${error.message}${error.hint === undefined ? '' : `\n(hint: ${error.hint})`}` : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
