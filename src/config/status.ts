// Reading a status snapshot (YAML or JSON; YAML parses JSON) and checking that it fits itself
// and, when one is given, the configuration: a status describes the configured nodes, all of
// them, and nothing runs on a node it does not know.
//
// Resources the configuration does not name are allowed: they are orphans, which the
// scheduler stops. Copies of anything on an unknown node are not.

import type { SourceError } from '../errors.js';
import type { Config, Group, Primitive } from '../model/config.js';
import { statusSchema, type Status } from '../model/status.js';
import { locate, parseWithSchema, readText } from './load.js';
import type { Path, Problem } from './problem.js';
import type { YamlSource } from './source.js';
import { suggestion } from './suggest.js';

export type StatusResult =
  | { readonly ok: true; readonly status: Status; readonly source: YamlSource }
  | { readonly ok: false; readonly errors: readonly SourceError[] };

/** A status from YAML or JSON text, checked on its own and, if given, against `config`. */
export function parseStatus(text: string, file: string, config?: Config): StatusResult {
  const parsed = parseWithSchema(text, file, statusSchema);
  if (!parsed.ok) return parsed;
  const problems = checkStatus(parsed.value, config);
  if (problems.length > 0) return { ok: false, errors: locate(parsed.source, problems) };
  return { ok: true, status: parsed.value, source: parsed.source };
}

/** Reads and parses a status file. Throws NOT_FOUND or IO if it cannot be read. */
export async function loadStatusFile(path: string, config?: Config, signal?: AbortSignal): Promise<StatusResult> {
  return parseStatus(await readText(path, signal), path, config);
}

/** How a configured resource id may appear as a status key. */
interface Known {
  readonly kind: 'primitive' | 'group' | 'clone' | 'promotable';
  /** For a primitive: whether it is inside a clone or promotable (may have `:N` copies), and inside a promotable. */
  readonly cloned: boolean;
  readonly promotable: boolean;
  /** For a group, clone or promotable: the primitive ids a status names instead. */
  readonly primitives: readonly string[];
}

function knownResources(config: Config): Map<string, Known> {
  const known = new Map<string, Known>();
  const primsOf = (r: Primitive | Group): string[] => (r.type === 'primitive' ? [r.id] : r.members.map((m) => m.id));
  const addPrims = (ids: readonly string[], cloned: boolean, promotable: boolean): void => {
    for (const id of ids) known.set(id, { kind: 'primitive', cloned, promotable, primitives: [] });
  };
  for (const r of config.resources ?? []) {
    switch (r.type) {
      case 'primitive':
        addPrims([r.id], false, false);
        break;
      case 'group':
        known.set(r.id, { kind: 'group', cloned: false, promotable: false, primitives: primsOf(r) });
        addPrims(primsOf(r), false, false);
        break;
      case 'clone':
        known.set(r.id, { kind: 'clone', cloned: true, promotable: false, primitives: primsOf(r.of) });
        if (r.of.type === 'group') known.set(r.of.id, { kind: 'group', cloned: true, promotable: false, primitives: primsOf(r.of) });
        addPrims(primsOf(r.of), true, false);
        break;
      case 'promotable':
        known.set(r.id, { kind: 'promotable', cloned: true, promotable: true, primitives: [r.of.id] });
        addPrims([r.of.id], true, true);
        break;
      default: {
        const never: never = r;
        throw new Error(`unknown resource ${JSON.stringify(never)}`);
      }
    }
  }
  return known;
}

/** Every problem of a status, on its own and against `config` when given. Pure. */
export function checkStatus(status: Status, config?: Config): Problem[] {
  const problems: Problem[] = [];
  const statusNodes = Object.keys(status.nodes);
  const configured = config === undefined ? undefined : config.nodes.map((n) => n.name);
  const configuredSet = new Set(configured ?? []);
  const known = config === undefined ? undefined : knownResources(config);

  if (configured !== undefined) {
    for (const name of statusNodes) {
      if (configuredSet.has(name)) continue;
      problems.push({
        path: ['nodes', name],
        at: 'key',
        message: `node "${name}" is not a configured node`,
        hint: suggestion(name, configured, 'configured nodes'),
      });
    }
    for (const name of configured) {
      if (name in status.nodes) continue;
      problems.push({
        path: ['nodes'],
        at: 'key',
        message: `configured node "${name}" is missing from the status`,
        hint: 'a status lists every configured node; one that is down is offline, unclean or fenced',
      });
    }
  }

  /** Why a copy may not be on `node`, or undefined when it may. */
  const unknownNode = (node: string): string | undefined => {
    if (configured !== undefined && !configuredSet.has(node)) return 'which is not a configured node';
    if (!(node in status.nodes)) return 'which is not listed under nodes';
    return undefined;
  };
  const nodeHint = (node: string): string => suggestion(node, configured ?? statusNodes, 'nodes');

  for (const [resource, copies] of Object.entries(status.resources ?? {})) {
    const base: Path = ['resources', resource];
    const entry = known === undefined ? undefined : resourceEntry(resource, known);
    if (entry !== undefined && entry.problem !== undefined) problems.push({ ...entry.problem, path: base, at: 'key' });
    for (const [node, copy] of Object.entries(copies)) {
      const why = unknownNode(node);
      if (why !== undefined) {
        problems.push({ path: [...base, node], at: 'key', message: `copy of "${resource}" on node "${node}", ${why}`, hint: nodeHint(node) });
      }
      const promoted = copy.state === 'promoted' || copy.promoted === true;
      if (promoted && entry?.known !== undefined && entry.known.kind === 'primitive' && !entry.known.promotable) {
        problems.push({
          path: [...base, node],
          message: `"${resource}" is promoted on node "${node}", but it is not in a promotable clone`,
          hint: 'a copy outside a promotable clone is started, stopped, failed or unknown',
        });
      }
    }
  }

  (status.failures ?? []).forEach((f, i) => {
    const why = unknownNode(f.node);
    if (why !== undefined) {
      problems.push({ path: ['failures', i, 'node'], message: `failure of "${f.resource}" on node "${f.node}", ${why}`, hint: nodeHint(f.node) });
    }
  });
  return problems;
}

/** What a status key names in the configuration: unknown keys are orphans and fine. */
function resourceEntry(key: string, known: Map<string, Known>): { known?: Known; problem?: Omit<Problem, 'path'> } | undefined {
  const copy = /^(.+):(\d+)$/.exec(key);
  const baseId = copy === null ? key : (copy[1] as string);
  const k = known.get(baseId);
  if (k === undefined) return undefined;
  if (k.kind !== 'primitive') {
    const prims = k.primitives.map((p) => `"${p}"`).join(', ');
    return {
      known: k,
      problem: {
        message: `"${key}" is a ${k.kind}; a status lists copies by primitive id`,
        hint: `list the copies of ${prims} instead`,
      },
    };
  }
  if (copy !== null && !k.cloned) {
    return {
      known: k,
      problem: {
        message: `"${key}" names copy ${copy[2] as string} of "${baseId}", which is not cloned and has one copy`,
        hint: `use "${baseId}"`,
      },
    };
  }
  return { known: k };
}
