#!/usr/bin/env node
// The `haven` command: runs the compiled CLI (build first with `npm run build`).
// Fast path: `haven lab fence` is on the failover path, so it loads only the lab's fence agent.
if (process.argv[2] === 'lab' && process.argv[3] === 'fence') await import('../dist/src/lab/fence-main.js');
else await import('../dist/src/cli/main.js');
