// Which resource agent runs a primitive: the one lookup the agent daemon uses, by the
// primitive's `agent` string (`process`, `vip`, `haproxy`, `ocf:<provider>:<type>`).

import { HavenError } from '../errors.js';
import { haproxyAgent } from './haproxy.js';
import { parseHaproxyParams } from './haproxy-config.js';
import { ocfAgent } from './ocf.js';
import { parseProcessParams, processAgent } from './process.js';
import type { ParamValue, ResourceAgent } from './types.js';
import { parseVipParams, vipAgent } from './vip.js';

export type { OperationContext, ResourceAgent, ResourceOperation, ResourceOutcome, ParamValue } from './types.js';
export { stateOfMonitor } from './types.js';
export { describeRc } from '../model/wire.js';

const KINDS = 'process, vip, haproxy or ocf:<provider>:<type> (for example ocf:heartbeat:IPaddr2)';
const ocfAgents = new Map<string, ResourceAgent>();

/**
 * The problems with a primitive's params for the built-in kinds (process, vip, haproxy), whose
 * params parse without running anything: what `haven check` and `haven apply` refuse before an
 * agent would fail the start. undefined for kinds whose agent must run to say (ocf: validate-all).
 */
export function builtinParamProblems(kind: string, params: Readonly<Record<string, ParamValue>>): string[] | undefined {
  const parse = kind === 'process' ? parseProcessParams : kind === 'vip' ? parseVipParams : kind === 'haproxy' ? parseHaproxyParams : undefined;
  if (parse === undefined) return undefined;
  const spec = parse(params);
  return Array.isArray(spec) ? spec : [];
}

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
