// Simulated agents for the controller bench: node names and loopback addresses, and the cluster
// configuration a real `haven controller` runs with for them (N nodes, no resources).

/** Node i's name and loopback address (i from 0): n1 at 127.1.1.1, n250 at 127.1.1.250, n251 at 127.1.2.1, … */
export function simNode(i: number): { name: string; address: string } {
  return { name: `n${i + 1}`, address: `127.${1 + Math.floor(i / 62_500)}.${(Math.floor(i / 250) % 250) + 1}.${(i % 250) + 1}` };
}

export const SIM_CONTROLLER_ADDRESS = '127.0.0.2';
export const SIM_RING_PORT = 5405;
export const SIM_API_PORT = 7400;
export const SIM_AGENT_PORT = 7410;

/** The configuration: one ring, N nodes on loopback, one controller, no resources, no fencing. */
export function simConfig(nodes: number, intervalMs: number): Record<string, unknown> {
  return {
    cluster: {
      name: 'bench',
      // Nothing to fence in this bench: no resources, and every node keeps heartbeating.
      fencing: false,
      // Distributed confirmation stays on (its default): a lost node's 4 peers would be asked
      // (membership/peers.ts). The simulated agents do not hear each other; none is lost here.
      agentPort: SIM_AGENT_PORT,
      heartbeat: { interval: `${intervalMs}ms`, ringTimeout: `${intervalMs * 6}ms` },
    },
    rings: [{ name: 'ring0', port: SIM_RING_PORT }],
    nodes: Array.from({ length: nodes }, (_, i) => {
      const n = simNode(i);
      return { name: n.name, addresses: { ring0: n.address } };
    }),
    controllers: [{ name: 'c1', addresses: { ring0: SIM_CONTROLLER_ADDRESS }, apiPort: SIM_API_PORT }],
  };
}
