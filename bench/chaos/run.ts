// The chaos bench: many trials of `haven lab chaos` (docs/chaos.md) in one lab, the table of
// every trial and the summary (violations, recovery p50/p99). See docs/benchmarks.md. As root.
//
//   npm run bench:chaos                                  200 trials, a new seed (printed)
//   npm run bench:chaos -- --trials 50 --seed 42 --faults power-off,partition --json
//   node dist/bench/chaos/run.js --controllers 3 --trials 40 --seed 2025   three controllers on etcd
//
// Its lab is called bench-chaos (one left behind by a killed run is removed first) and is always
// torn down, also after a failure or Ctrl-C. Exit 1 when an invariant broke: the table names the
// trials and the command that replays each.

import { parseArgs } from 'node:util';
import { durationOption, holdRange } from '../../src/cli/commands/lab.js';
import { describeError } from '../../src/cli/run.js';
import { HavenError } from '../../src/errors.js';
import { runChaos } from '../../src/lab/chaos/harness.js';
import { parseControllers, parseFaults } from '../../src/lab/chaos/plan.js';
import { freshSeed } from '../../src/lab/chaos/prng.js';
import { failed, renderChaos, renderTrialLine, summarize } from '../../src/lab/chaos/report.js';
import { destroyLab } from '../../src/lab/lab.js';
import { stateDir } from '../../src/lab/state.js';

const LAB = 'bench-chaos';
const USAGE = `usage: node dist/bench/chaos/run.js [flags]   (as root)
  --trials N        trials (default 200)
  --seed S          the seed (default: a new one, printed)
  --faults LIST     the faults to draw from (default: all that apply to the lab's shape)
  --controllers N   1 (default; embedded store) or 3 (on a 3-member etcd; adds leader-kill,
                    leader-pause, etcd-kill, etcd-majority)
  --leader-lease S  with --controllers 3: the leader lease on etcd, whole seconds (default 2)
  --hold MIN-MAX    how long each fault is held (default 1s-3s)
  --bound D         every service back within D after the heal (default 10s)
  --keep-logs       keep the lab's logs (${stateDir()}/${LAB}/logs)
  --json            the result as JSON on stdout
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '200' },
      seed: { type: 'string' },
      faults: { type: 'string' },
      controllers: { type: 'string', default: '1' },
      'leader-lease': { type: 'string' },
      hold: { type: 'string', default: '1s-3s' },
      bound: { type: 'string', default: '10s' },
      'keep-logs': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new HavenError('USAGE', `--trials must be an integer ≥ 1, got ${values.trials}`, { hint: USAGE });
  const seed = values.seed === undefined ? freshSeed() : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new HavenError('USAGE', `--seed must be an integer from 0 to 4294967295, got ${values.seed}`);
  const controllers = parseControllers(Number(values.controllers));
  const leaderLease = values['leader-lease'] === undefined ? undefined : Number(values['leader-lease']);
  if (leaderLease !== undefined && (controllers !== 3 || !Number.isInteger(leaderLease) || leaderLease < 1 || leaderLease > 60)) throw new HavenError('USAGE', `--leader-lease ${values['leader-lease']}: whole seconds from 1 to 60, with --controllers 3 only`);
  const faults = parseFaults(values.faults, controllers);
  const hold = holdRange(values.hold);
  const boundMs = durationOption('--bound', values.bound, 's');
  const dir = stateDir();
  await destroyLab(LAB, dir); // one left behind by a run that was killed

  const ac = new AbortController();
  const stop = (): void => {
    process.stderr.write('chaos bench: stopping; tearing the lab down\n');
    ac.abort(new HavenError('USAGE', 'interrupted'));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stderr.write(`chaos bench: seed ${seed}, ${trials} trials, ${controllers} controller${controllers === 1 ? '' : 's'}\n`);
  const result = await runChaos({
    name: LAB,
    stateDir: dir,
    seed,
    trials,
    faults,
    holdMinMs: hold.minMs,
    holdMaxMs: hold.maxMs,
    boundMs,
    hosts: 3,
    rings: 2,
    controllers,
    ...(leaderLease === undefined ? {} : { leaderLease }),
    keepLogs: values['keep-logs'],
    signal: ac.signal,
    log: (line) => process.stderr.write(`${line}\n`),
    onTrial: (t) => process.stderr.write(`chaos: ${renderTrialLine(t)}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify({ ...result, summary: summarize(result) }, null, 2)}\n` : renderChaos(result));
  return result.aborted ? 130 : failed(result) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const { text, exitCode } = describeError(err);
    process.stderr.write(text);
    process.exitCode = exitCode;
  },
);
