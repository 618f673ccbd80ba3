#!/usr/bin/env node
// A tiny HTTP service for the lab, its tests and the demo: every request is answered with the
// name of the host that serves it, `<name>\n` in the body and in an `X-Haven-Node` header (the
// convention `haven lab probe` reads, docs/lab.md). The name is --name, else $HAVEN_NODE (set
// for every daemon `haven lab up` starts, and so for the resources its agents run), else the
// machine's host name.
//
//   node scripts/lab-web.mjs [--address ADDR] [--port PORT] [--name NAME]
//
// Listens on ADDR (default 0.0.0.0) and PORT (default 8080); exits at once on SIGTERM/SIGINT.
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { address: { type: 'string', default: '0.0.0.0' }, port: { type: 'string', default: '8080' }, name: { type: 'string' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`lab-web: --port ${values.port} is not a port (1-65535)\n`);
  process.exit(2);
}
const name = values.name ?? process.env.HAVEN_NODE ?? hostname();
const body = `${name}\n`;

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-haven-node': name, connection: 'close' });
  res.end(body);
});
server.on('error', (err) => {
  process.stderr.write(`lab-web: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, values.address, () => process.stdout.write(`lab-web: ${name} listening on ${values.address}:${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
