// The operator's commands against a running controller: `haven status` (like crm_mon, with
// --json and --watch), `haven resource move|ban|clear|cleanup|restart`, `haven node
// standby|online|maintenance`, `haven events`. A move or ban prints how long it lasts, and
// `haven status` lists it until it lapses or is cleared.

import type { Command } from 'commander';
import type { ControllerSnapshot } from '../../controller/controller.js';
import { UsageError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../model/units.js';
import type { ControllerEvent, OperatorConstraint } from '../../store/store.js';
import { call, resolveEndpoint } from '../client.js';
import { renderStatus } from '../render-status.js';
import { action, useColor } from '../run.js';

interface Common {
  readonly controller?: string;
  readonly json?: boolean;
}

function lifetimeOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`--lifetime ${text} is not a positive duration`, { hint: 'for example 10m, 1h, 2d' });
  return text;
}

function describeConstraint(c: OperatorConstraint): string {
  const lasts = c.expires === undefined ? 'until cleared (haven resource clear ' + c.resource + ')' : `until ${new Date(c.expires).toISOString()} (${formatDuration(c.expires - c.created)})`;
  return `${c.id}: ${c.reason}, ${lasts}`;
}

export function registerOperate(program: Command): void {
  program
    .command('status')
    .description('show the cluster as the controller sees it: nodes, resources, failures, moves and bans, the plan in flight')
    .option('--controller <url>', 'http://ADDR:PORT or unix:/path (default $HAVEN_CONTROLLER or the lab)')
    .option('--json', 'print the status as JSON')
    .option('--watch [interval]', 'print again every interval (default 1s) until interrupted')
    .action(
      action(async (opts: Common & { watch?: string | boolean }) => {
        const ep = resolveEndpoint(opts.controller);
        const every = opts.watch === undefined || opts.watch === false ? undefined : opts.watch === true ? 1000 : parseDuration(opts.watch);
        if (every !== undefined && (every <= 0 || Number.isNaN(every))) throw new UsageError(`--watch ${String(opts.watch)} is not a positive duration`);
        for (;;) {
          const s = await call<ControllerSnapshot>(ep, 'GET', '/v1/status');
          const text = opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s);
          if (every !== undefined && useColor()) process.stdout.write('\x1b[2J\x1b[H');
          process.stdout.write(text);
          if (every === undefined) return;
          await new Promise((r) => setTimeout(r, every));
        }
      }),
    );

  program
    .command('events')
    .description('print the controller event log: every decision with its reason')
    .option('--controller <url>', 'http://ADDR:PORT or unix:/path')
    .option('--since <seq>', 'only events after this sequence number', '0')
    .option('--json', 'one JSON object per line')
    .action(
      action(async (opts: Common & { since: string }) => {
        const since = Number(opts.since);
        if (!Number.isInteger(since) || since < 0) throw new UsageError(`--since ${opts.since} is not a non-negative integer`);
        const events = await call<ControllerEvent[]>(resolveEndpoint(opts.controller), 'GET', `/v1/events?since=${since}&limit=10000`);
        for (const e of events) {
          process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${e.seq} ${new Date(e.at).toISOString()} ${e.kind.padEnd(12)} ${e.message}\n`);
        }
      }),
    );

  const resource = program.command('resource').description('operate on a resource: move, ban, clear, cleanup, restart');
  resource
    .command('move')
    .argument('<resource>')
    .option('--node <node>', 'move it to this node (default: away from where it runs)')
    .option('--lifetime <duration>', 'the move lapses after this long (default: until cleared)')
    .option('--controller <url>')
    .option('--json')
    .description('move a resource: prefer --node, or ban it from where it runs now')
    .action(
      action(async (id: string, opts: Common & { node?: string; lifetime?: string }) => {
        const lifetime = lifetimeOf(opts.lifetime);
        const r = await call<{ constraint: OperatorConstraint }>(resolveEndpoint(opts.controller), 'POST', `/v1/resources/${encodeURIComponent(id)}/move`, { ...(opts.node ? { node: opts.node } : {}), ...(lifetime ? { lifetime } : {}) });
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${describeConstraint(r.constraint)}\n`);
      }),
    );
  resource
    .command('ban')
    .argument('<resource>')
    .requiredOption('--node <node>', 'the node it may not run on')
    .option('--lifetime <duration>', 'the ban lapses after this long (default: until cleared)')
    .option('--controller <url>')
    .option('--json')
    .description('keep a resource off a node')
    .action(
      action(async (id: string, opts: Common & { node: string; lifetime?: string }) => {
        const lifetime = lifetimeOf(opts.lifetime);
        const r = await call<{ constraint: OperatorConstraint }>(resolveEndpoint(opts.controller), 'POST', `/v1/resources/${encodeURIComponent(id)}/ban`, { node: opts.node, ...(lifetime ? { lifetime } : {}) });
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${describeConstraint(r.constraint)}\n`);
      }),
    );
  for (const [name, what] of [
    ['clear', 'remove every move and ban of a resource'],
    ['restart', 'stop a resource everywhere (and what depends on it), then start it again'],
  ] as const) {
    resource
      .command(name)
      .argument('<resource>')
      .option('--controller <url>')
      .option('--json')
      .description(what)
      .action(
        action(async (id: string, opts: Common) => {
          const r = await call<Record<string, unknown>>(resolveEndpoint(opts.controller), 'POST', `/v1/resources/${encodeURIComponent(id)}/${name}`, {});
          process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : name === 'clear' ? `${id}: ${String(r['cleared'])} move/ban constraint(s) removed\n` : `${id}: restarting\n`);
        }),
      );
  }
  resource
    .command('cleanup')
    .argument('<resource>')
    .option('--node <node>', 'only on this node')
    .option('--controller <url>')
    .option('--json')
    .description("forget a resource's failures (and probe its failed copies again)")
    .action(
      action(async (id: string, opts: Common & { node?: string }) => {
        const r = await call<{ cleared: number }>(resolveEndpoint(opts.controller), 'POST', `/v1/resources/${encodeURIComponent(id)}/cleanup`, opts.node ? { node: opts.node } : {});
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${id}: ${r.cleared} failure record(s) cleared\n`);
      }),
    );

  const node = program.command('node').description('put a node in standby or maintenance, or back online');
  for (const [name, what, body] of [
    ['standby', 'move every resource off the node and keep it empty', { on: true }],
    ['online', 'take the node out of standby', {}],
    ['maintenance', 'observe the node but never act on it (--off to end)', undefined],
  ] as const) {
    const cmd = node.command(name).argument('<node>').option('--controller <url>').option('--json').description(what);
    if (name === 'maintenance') cmd.option('--off', 'end maintenance');
    cmd.action(
      action(async (n: string, opts: Common & { off?: boolean }) => {
        const b = body ?? { on: !opts.off };
        const r = await call<Record<string, unknown>>(resolveEndpoint(opts.controller), 'POST', `/v1/nodes/${encodeURIComponent(n)}/${name}`, b);
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${n}: ${name}${name === 'maintenance' ? (opts.off ? ' off' : ' on') : ''}\n`);
      }),
    );
  }
}
