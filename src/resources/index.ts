// Which resource agent runs a primitive: the one lookup the agent daemon uses, by the
// primitive's `agent` string (`process`, `vip`, `haproxy`, `ocf:<provider>:<type>`).

import { HavenError } from '../errors.js';
import { haproxyAgent } from './haproxy.js';
import { ocfAgent } from './ocf.js';
import { processAgent } from './process.js';
import type { ResourceAgent } from './types.js';
import { vipAgent } from './vip.js';

export type { OperationContext, ResourceAgent, ResourceOperation, ResourceOutcome, ParamValue } from './types.js';
export { stateOfMonitor } from './types.js';
export { describeRc } from '../model/wire.js';

const KINDS = 'process, vip, haproxy or ocf:<provider>:<type> (for example ocf:heartbeat:IPaddr2)';
const ocfAgents = new Map<string, ResourceAgent>();

/** The agent for a kind; throws CONFIG_INVALID for a kind Haven does not know. */
export function resourceAgentFor(kind: string): ResourceAgent {
  if (kind === 'process') return processAgent;
  if (kind === 'vip') return vipAgent;
  if (kind === 'haproxy') return haproxyAgent;
  if (kind.startsWith('ocf:')) {
    let agent = ocfAgents.get(kind);
    if (agent === undefined) {
      agent = ocfAgent(kind);
      ocfAgents.set(kind, agent);
    }
    return agent;
  }
  throw new HavenError('CONFIG_INVALID', `unknown resource agent kind "${kind}"`, { hint: `write ${KINDS}` });
}
