// The outcome of a plan when every action succeeds: the status the next cycle would observe.
// Used by `haven plan --simulate`, by the property tests (planning again must plan nothing) and as
// the executor's expectation of what each action changes.

import type { Plan } from '../model/plan.js';
import type { CopyStatus, Status } from '../model/status.js';

export function applyPlan(status: Status, plan: Plan): Status {
  const nodes: Record<string, Status['nodes'][string]> = {};
  for (const [name, n] of Object.entries(status.nodes)) nodes[name] = { ...n };
  const resources: Record<string, Record<string, CopyStatus>> = {};
  for (const [key, perNode] of Object.entries(status.resources ?? {})) {
    resources[key] = {};
    for (const [node, c] of Object.entries(perNode)) resources[key][node] = { ...c };
  }
  let failures = [...(status.failures ?? [])];

  const copy = (key: string, node: string): CopyStatus => {
    const perNode = (resources[key] ??= {});
    return (perNode[node] ??= { state: 'stopped' });
  };

  for (const a of plan.actions) {
    switch (a.kind) {
      case 'fence': {
        const n = nodes[a.node!];
        if (n) {
          n.state = 'fenced';
          delete n.fencing;
        }
        for (const perNode of Object.values(resources)) delete perNode[a.node!];
        break;
      }
      case 'stop': {
        const c = copy(a.resource!, a.node!);
        c.state = 'stopped';
        delete c.promoted;
        delete c.monitors;
        break;
      }
      case 'start': {
        const c = copy(a.resource!, a.node!);
        c.state = 'started';
        delete c.promoted;
        if (c.monitors) c.monitors = [];
        break;
      }
      case 'promote':
        copy(a.resource!, a.node!).state = 'promoted';
        break;
      case 'demote': {
        const c = copy(a.resource!, a.node!);
        c.state = 'started';
        delete c.promoted;
        break;
      }
      case 'probe':
        if (a.resource) {
          const c = copy(a.resource, a.node!);
          if (c.state === 'unknown') c.state = 'stopped';
        } else {
          const n = nodes[a.node!];
          if (n) n.probed = true;
        }
        break;
      case 'clear-failures':
        failures = failures.filter((f) => !(f.resource === a.resource && f.node === a.node));
        break;
      case 'monitor-start': {
        const c = copy(a.resource!, a.node!);
        if (c.monitors && !c.monitors.includes(a.interval!)) c.monitors = [...c.monitors, a.interval!].sort((x, y) => x - y);
        break;
      }
      case 'monitor-stop': {
        const c = copy(a.resource!, a.node!);
        if (c.monitors) c.monitors = c.monitors.filter((m) => m !== a.interval);
        break;
      }
      case 'pseudo':
        break;
    }
  }
  // Drop stopped records so the outcome reads like a fresh observation.
  for (const [key, perNode] of Object.entries(resources)) {
    for (const [node, c] of Object.entries(perNode)) if (c.state === 'stopped' && !c.monitors) delete perNode[node];
    if (Object.keys(perNode).length === 0) delete resources[key];
  }
  return {
    ...status,
    nodes,
    resources,
    failures,
  };
}

