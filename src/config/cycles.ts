// Cycles in a small directed graph: one shortest cycle per strongly connected component, for
// reporting order and colocation loops as "a → b → c → a".

export interface Edge<T> {
  readonly from: string;
  readonly to: string;
  /** What made the edge (a constraint), or undefined for an implied one. */
  readonly tag: T | undefined;
}

export interface Cycle<T> {
  /** Vertices in order; the first is repeated at the end. */
  readonly vertices: readonly string[];
  /** The tags of the edges along the cycle, in order. */
  readonly tags: readonly (T | undefined)[];
}

/** One cycle through each strongly connected component that has one (self-loops excluded). */
export function findCycles<T>(vertices: readonly string[], edges: readonly Edge<T>[]): Cycle<T>[] {
  const out = new Map<string, Edge<T>[]>();
  for (const v of vertices) out.set(v, []);
  for (const e of edges) {
    if (e.from === e.to) continue;
    out.get(e.from)?.push(e);
  }
  const components = stronglyConnected(vertices, out);
  const cycles: Cycle<T>[] = [];
  for (const comp of components) {
    if (comp.length < 2) continue;
    const inComp = new Set(comp);
    // Start at the smallest vertex so the report does not depend on traversal order.
    const start = [...comp].sort()[0] as string;
    const cycle = shortestCycle(start, out, inComp);
    if (cycle !== undefined) cycles.push(cycle);
  }
  return cycles;
}

function shortestCycle<T>(start: string, out: Map<string, Edge<T>[]>, inComp: Set<string>): Cycle<T> | undefined {
  const via = new Map<string, Edge<T>>();
  const queue: string[] = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i] as string;
    for (const e of out.get(v) ?? []) {
      if (!inComp.has(e.to)) continue;
      if (e.to === start) {
        const path: Edge<T>[] = [e];
        let cur = v;
        while (cur !== start) {
          const back = via.get(cur) as Edge<T>;
          path.unshift(back);
          cur = back.from;
        }
        return { vertices: [start, ...path.map((p) => p.to)], tags: path.map((p) => p.tag) };
      }
      if (!via.has(e.to)) {
        via.set(e.to, e);
        queue.push(e.to);
      }
    }
  }
  return undefined;
}

/** Tarjan's algorithm, iterative so a long chain cannot overflow the stack. */
function stronglyConnected<T>(vertices: readonly string[], out: Map<string, Edge<T>[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result: string[][] = [];
  for (const root of vertices) {
    if (index.has(root)) continue;
    const work: { v: string; i: number }[] = [{ v: root, i: 0 }];
    index.set(root, next);
    low.set(root, next);
    next++;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { v: string; i: number };
      const edges = out.get(frame.v) ?? [];
      if (frame.i < edges.length) {
        const w = (edges[frame.i] as Edge<T>).to;
        frame.i++;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next);
          next++;
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.v, Math.min(low.get(frame.v) as number, index.get(w) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.v, Math.min(low.get(parent.v) as number, low.get(frame.v) as number));
      if (low.get(frame.v) === index.get(frame.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop() as string;
          onStack.delete(w);
          comp.push(w);
        } while (w !== frame.v);
        result.push(comp);
      }
    }
  }
  return result;
}
