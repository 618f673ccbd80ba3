// A YAML (or JSON) document kept together with its positions, so that any problem found later
// by path — by the schema, by the whole-config rules, by a cross-check — can be reported as
// file:line:column pointing at the node the operator has to edit.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import type { SourceError } from '../errors.js';
import type { Path, Problem } from './problem.js';

export type { SourceError } from '../errors.js';
export type { Path, Problem } from './problem.js';

interface Step {
  /** The node at this step; null when the path leaves the document here. */
  readonly node: Node | null;
  /** The key node of the map pair holding `node`, if it is a map value. */
  readonly key: Node | null;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

export class YamlSource {
  readonly file: string;
  readonly doc: Document.Parsed;
  private readonly lines: LineCounter;

  constructor(text: string, file: string) {
    this.file = file;
    this.lines = new LineCounter();
    // Strict parsing: duplicate keys are errors, and several documents in one file too. Merge keys
    // (`<<: *defaults`) are allowed: operators share operation lists and params that way.
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true, merge: true });
  }

  /** YAML syntax errors and warnings (an unresolved tag, say), located; empty if the text parsed cleanly. */
  syntaxErrors(): SourceError[] {
    const out: SourceError[] = [];
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      const { line, column } = this.position(e.pos[0]);
      out.push({ file: this.file, line, column, path: [], message: `YAML: ${yamlMessage(e.code, e.message)}` });
    }
    return out;
  }

  /** The document as plain data. Only meaningful when syntaxErrors() is empty. */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 1000 });
  }

  /** Where a problem found by path is in the file. */
  locate(path: Path, at: 'value' | 'key' = 'value'): Position {
    const steps = this.walk(path);
    const last = steps[steps.length - 1] as Step;
    if (at === 'key' && steps.length === path.length + 1 && last.key !== null) return this.nodePosition(last.key);
    if (last.node !== null && steps.length === path.length + 1) {
      // An empty value (`cluster:` with nothing after it) has no text of its own: point at its key.
      if (isScalar(last.node) && last.node.value === null && isEmptyRange(last.node) && last.key !== null) {
        return this.nodePosition(last.key);
      }
      return this.nodePosition(last.node);
    }
    // The path leaves the document (a missing key): point at the map that should hold it, by
    // its own key when it has one, which is the line an operator looks for.
    for (let i = steps.length - 1; i >= 0; i--) {
      const s = steps[i] as Step;
      if (s.key !== null) return this.nodePosition(s.key);
      if (s.node !== null) return this.nodePosition(s.node);
    }
    return { line: 1, column: 1 };
  }

  /** A located error from a problem found by path. */
  error(problem: Problem): SourceError {
    const { line, column } = this.locate(problem.path, problem.at ?? 'value');
    let hint = problem.hint;
    if (problem.related !== undefined) {
      const r = this.locate(problem.related.path);
      const where = `${problem.related.label} at line ${r.line}:${r.column}`;
      hint = hint === undefined ? where : `${hint}; ${where}`;
    }
    return {
      file: this.file,
      line,
      column,
      path: [...problem.path],
      message: problem.message,
      ...(hint === undefined ? {} : { hint }),
    };
  }

  private walk(path: Path): Step[] {
    const steps: Step[] = [{ node: this.resolve(this.doc.contents), key: null }];
    for (const seg of path) {
      const cur = (steps[steps.length - 1] as Step).node;
      let next: Step | undefined;
      if (isMap(cur)) {
        next = this.findKey(cur, String(seg), 0);
      } else if (isSeq(cur) && typeof seg === 'number') {
        const item = cur.items[seg];
        if (item !== undefined) next = { node: this.resolve(item as Node | null), key: null };
      }
      if (next === undefined) break;
      steps.push(next);
      if (next.node === null) break;
    }
    return steps;
  }

  /** The value of `key` in a map, looking into merged maps (`<<: *anchor`) when it is not there itself. */
  private findKey(map: YAMLMap, key: string, depth: number): Step | undefined {
    const merged: Node[] = [];
    for (const pair of map.items) {
      if (!isPair(pair)) continue;
      const k = pair.key;
      const name = isScalar(k) ? String(k.value) : undefined;
      if (name === key) return { node: this.resolve(pair.value as Node | null), key: isScalar(k) ? k : null };
      // With merge keys on, yaml holds `<<` as a symbol; its source text is still "<<".
      if (isScalar(k) && typeof k.value === 'symbol' && k.source === '<<' && pair.value !== null) {
        const v = pair.value as Node;
        if (isSeq(v)) merged.push(...(v.items as Node[]));
        else merged.push(v);
      }
    }
    if (depth > 10) return undefined;
    for (const m of merged) {
      const target = this.resolve(m);
      if (!isMap(target)) continue;
      const found = this.findKey(target, key, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private resolve(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? node;
    return node;
  }

  private nodePosition(node: Node): Position {
    const start = node.range?.[0] ?? 0;
    return this.position(start);
  }

  private position(offset: number): Position {
    const p = this.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }
}

function isEmptyRange(node: Node): boolean {
  const r = node.range;
  return r !== undefined && r !== null && r[0] === r[1];
}

function yamlMessage(code: string, message: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'duplicate key; each key may appear once in a map';
    case 'MULTIPLE_DOCS':
      return 'the file holds several YAML documents (---); put the whole configuration in one';
    default:
      return message.charAt(0).toLowerCase() + message.slice(1);
  }
}
