// A resource agent that is only started, stopped and monitored (no promote, no demote), built
// from its params parser and its three operations: the shape `process` and `vip` share.
// Params that do not parse are ERR_CONFIGURED for every operation, and validate() lists them.

import { OCF_RC } from '../model/wire.js';
import type { Params } from './params.js';
import type { OperationContext, ResourceAgent, ResourceOutcome } from './types.js';

export interface SimpleAgentParts<S> {
  readonly kind: string;
  /** The spec, or one message per problem. */
  readonly parse: (params: Params) => S | string[];
  readonly start: (ctx: OperationContext, spec: S) => Promise<ResourceOutcome>;
  readonly stop: (ctx: OperationContext, spec: S) => Promise<ResourceOutcome>;
  readonly monitor: (ctx: OperationContext, spec: S) => Promise<ResourceOutcome>;
  /** Said after "the <kind> agent has no promote" (e.g. why it has none). */
  readonly noPromoteWhy?: string;
  readonly watch?: ResourceAgent['watch'];
}

export function simpleAgent<S>(parts: SimpleAgentParts<S>): ResourceAgent {
  return {
    kind: parts.kind,
    validate: (params) => {
      const spec = parts.parse(params);
      return Promise.resolve(Array.isArray(spec) ? spec : []);
    },
    run: async (operation, ctx) => {
      const spec = parts.parse(ctx.params);
      if (Array.isArray(spec)) return { rc: OCF_RC.ERR_CONFIGURED, output: spec.join('; ') };
      switch (operation) {
        case 'start':
          return parts.start(ctx, spec);
        case 'stop':
          return parts.stop(ctx, spec);
        case 'monitor':
          return parts.monitor(ctx, spec);
        case 'promote':
        case 'demote':
          return { rc: OCF_RC.ERR_UNIMPLEMENTED, output: `the ${parts.kind} agent has no ${operation}${parts.noPromoteWhy ?? ''}` };
        default: {
          const never: never = operation;
          return never;
        }
      }
    },
    ...(parts.watch === undefined ? {} : { watch: parts.watch }),
  };
}
