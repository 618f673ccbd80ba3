// The entry point of `haven lab fence` when bin/haven.js takes its fast path: only the fence
// agent and what it needs are loaded (not the CLI, the config schema or the scheduler), because
// a fence is on the failover path. Arguments after `haven lab fence` are fence-agent options.

import { fenceMain } from './fence.js';

process.exitCode = await fenceMain(process.argv.slice(4));
