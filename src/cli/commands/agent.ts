// `haven agent --config FILE --node NAME [--state-dir DIR] [--listen ADDR:PORT]`: runs the per-host
// agent daemon in the foreground until SIGTERM or SIGINT (docs/agent.md). Logs go to stderr as
// JSON lines. A bad configuration or an unknown node is refused before anything starts (exit 1
// or 3); closing leaves every resource running, for the next agent run to adopt.

import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.js';
import { ConfigInvalidError } from '../../errors.js';
import { createAgentLogger, parseListen, startAgentDaemon } from '../../agent/daemon.js';
import { action } from '../run.js';

interface AgentCliOptions {
  readonly config: string;
  readonly node: string;
  readonly stateDir?: string;
  readonly listen?: string;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description("run the per-host agent: resource operations and monitors for the controller, heartbeats on every ring")
    .requiredOption('--config <file>', 'the cluster configuration (YAML)')
    .requiredOption('--node <name>', 'this host\'s node name in the configuration')
    .option('--state-dir <dir>', 'where the agent keeps its copies and unacknowledged events (default: /var/lib/haven/agent/<node>)')
    .option('--listen <addr:port>', "serve the API here (default: the node's address on the first ring, at cluster.agentPort)")
    .action(action(async (opts: AgentCliOptions) => runAgent(opts)));
}

async function runAgent(opts: AgentCliOptions): Promise<void> {
  const listen = opts.listen === undefined ? undefined : parseListen(opts.listen);
  const loaded = await loadConfigFile(opts.config, undefined, { runnable: true });
  if (!loaded.ok) throw new ConfigInvalidError(opts.config, loaded.errors);
  const log = createAgentLogger(opts.node);
  const daemon = await startAgentDaemon({
    config: loaded.config,
    node: opts.node,
    log,
    ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }),
    ...(listen === undefined ? {} : { listen }),
  });
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'signal received');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await daemon.close();
  // Nothing of the agent's own may keep the process alive now; resources run on, detached.
  process.exit(process.exitCode ?? 0);
}
