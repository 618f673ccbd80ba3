// Which resource agent runs a primitive: the one lookup the agent daemon uses, by the
// primitive's `agent` string (`process`, `vip`, `ocf:<provider>:<type>`).

import { HavenError } from '../errors.js';
import { processAgent } from './process.js';
import type { ResourceAgent } from './types.js';

export type { OperationContext, ResourceAgent, ResourceOperation, ResourceOutcome, ParamValue } from './types.js';
export { stateOfMonitor } from './types.js';

const KINDS = 'process, vip or ocf:<provider>:<type> (for example ocf:heartbeat:IPaddr2)';

/** The agent for a kind; throws CONFIG_INVALID for a kind Haven does not know. */
export function resourceAgentFor(kind: string): ResourceAgent {
  if (kind === 'process') return processAgent;
  if (kind === 'vip' || /^ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$/.test(kind)) {
    throw new HavenError('UNSUPPORTED', `resource agent kind "${kind}" is not built yet`, { hint: 'use process for now' });
  }
  throw new HavenError('CONFIG_INVALID', `unknown resource agent kind "${kind}"`, { hint: `write ${KINDS}` });
}
