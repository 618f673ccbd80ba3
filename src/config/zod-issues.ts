// Turns zod's issues into problems an operator can act on: one per mistake, phrased in the
// file's own terms ("unknown key", "missing required key", "not an allowed value"), with a
// hint naming the closest known key or the allowed values.

import type { z } from 'zod';
import type { Path, Problem } from './problem.js';
import { closest, quoteList } from './suggest.js';

type Issue = z.core.$ZodIssue;

/** The problems of a failed parse of `data` against `schema`. */
export function problemsFromIssues(issues: readonly Issue[], data: unknown, schema: z.ZodType): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) convert(issue, [], data, schema, out);
  return out;
}

function convert(issue: Issue, base: Path, data: unknown, schema: z.ZodType, out: Problem[]): void {
  const path: Path = [...base, ...(issue.path as readonly (string | number)[])];
  const value = valueAt(data, path);
  const where = pathText(path);
  const prefix = where === '' ? '' : `${where}: `;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = keysAt(schema, path, data);
      for (const key of issue.keys) {
        const near = allowed === undefined ? undefined : closest(key, allowed);
        const hint =
          near !== undefined ? `did you mean "${near}"?` : allowed !== undefined ? `allowed keys: ${allowed.join(', ')}` : undefined;
        out.push({
          path: [...path, key],
          at: 'key',
          message: `${prefix}unknown key "${key}"`,
          ...(hint === undefined ? {} : { hint }),
        });
      }
      return;
    }
    case 'invalid_value':
      out.push(notAllowed(path, value, issue.values.map((v) => String(v))));
      return;
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (disc !== undefined && options !== undefined) {
        // zod reports a bad discriminator at the parent object; the operator has to fix the `type` key.
        const discPath = path[path.length - 1] === disc ? path : [...path, disc];
        out.push(notAllowed(discPath, valueAt(data, discPath), options.map((o) => String(o))));
        return;
      }
      unionProblem(issue.errors, path, value, data, schema, out);
      return;
    }
    case 'invalid_type': {
      if (value === undefined && path.length > 0) {
        out.push(missingKey(path));
        return;
      }
      if (path.length === 0 && (value === null || value === undefined)) {
        out.push({ path, message: 'the document is empty', hint: `a configuration is a map with the keys ${keysAt(schema, [], {})?.join(', ') ?? ''}` });
        return;
      }
      out.push({ path, message: `${prefix}expected ${article(issue.expected)}, got ${describe(value)}` });
      return;
    }
    case 'too_small':
    case 'too_big': {
      if (!isDefaultMessage(issue.message)) {
        out.push({ path, message: `${prefix}${issue.message}` });
        return;
      }
      out.push({ path, message: `${prefix}${boundMessage(issue)}` });
      return;
    }
    case 'invalid_format': {
      const text = isDefaultMessage(issue.message) ? `does not match ${String((issue as { pattern?: unknown }).pattern ?? issue.format)}` : issue.message;
      out.push({ path, message: `${prefix}${describe(value)} is not valid: ${text}` });
      return;
    }
    case 'invalid_key': {
      const sub = issue.issues[0];
      const reason = sub === undefined || isDefaultMessage(sub.message) ? 'not a valid key' : sub.message;
      out.push({ path, at: 'key', message: `${prefix}key "${String(path[path.length - 1])}" is not valid: ${reason}` });
      return;
    }
    case 'invalid_element':
      for (const sub of issue.issues) convert(sub, path, data, schema, out);
      return;
    default:
      out.push({ path, message: `${prefix}${issue.message}` });
  }
}

function notAllowed(path: Path, value: unknown, allowed: readonly string[]): Problem {
  if (value === undefined && path.length > 0) return missingKey(path, allowed);
  const prefix = pathText(path) === '' ? '' : `${pathText(path)}: `;
  const near = typeof value === 'string' ? closest(value, allowed) : undefined;
  const list = `allowed values: ${allowed.join(', ')}`;
  return {
    path,
    message: `${prefix}${describe(value)} is not an allowed value`,
    hint: near === undefined ? list : `did you mean "${near}"? ${list}`,
  };
}

function missingKey(path: Path, allowed?: readonly string[]): Problem {
  const parent = path.slice(0, -1);
  const where = pathText(parent);
  const key = String(path[path.length - 1]);
  return {
    path,
    message: `${where === '' ? '' : `${where}: `}missing required key "${key}"`,
    ...(allowed === undefined ? {} : { hint: `${key} is one of: ${allowed.join(', ')}` }),
  };
}

/**
 * A value that matched none of a union's branches. When exactly one branch got past the
 * shape check (it is the right kind of value, with a problem inside), that branch's problems
 * are the useful ones; otherwise the message lists what each branch would have accepted.
 */
function unionProblem(branches: readonly (readonly Issue[])[], path: Path, value: unknown, data: unknown, schema: z.ZodType, out: Problem[]): void {
  const further = branches.filter((issues) => issues.some((i) => !isShapeMismatch(i)));
  if (further.length === 1) {
    for (const sub of further[0] as readonly Issue[]) convert(sub, path, data, schema, out);
    return;
  }
  const expected: string[] = [];
  const values: string[] = [];
  for (const issues of branches) {
    const first = issues[0];
    if (first === undefined) continue;
    if (first.code === 'invalid_type') expected.push(article(first.expected));
    else if (first.code === 'invalid_value') {
      const vs = first.values.map((v) => String(v));
      values.push(...vs);
      expected.push(vs.length === 1 ? JSON.stringify(vs[0]) : `one of ${quoteList(vs)}`);
    } else expected.push(first.message);
  }
  if (value === undefined && path.length > 0) {
    out.push(missingKey(path));
    return;
  }
  const unique = [...new Set(expected)];
  const near = typeof value === 'string' && values.length > 0 ? closest(value, values) : undefined;
  const where = pathText(path);
  out.push({
    path,
    message: `${where === '' ? '' : `${where}: `}expected ${unique.join(' or ')}, got ${describe(value)}`,
    ...(near === undefined ? {} : { hint: `did you mean "${near}"?` }),
  });
}

/** An issue that says "this is not the kind of value this branch takes" rather than a problem inside it. */
function isShapeMismatch(issue: Issue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

function boundMessage(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'array':
    case 'set':
      return small ? `needs at least ${bound} item${bound === 1 ? '' : 's'}` : `takes at most ${bound} item${bound === 1 ? '' : 's'}`;
    case 'string':
      if (small && bound === 1) return 'must not be empty';
      return small ? `must be at least ${bound} characters long` : `must be at most ${bound} characters long`;
    default:
      return `must be ${small ? (inclusive ? '≥' : '>') : inclusive ? '≤' : '<'} ${bound}`;
  }
}

/** zod's own messages start with these words; messages written in the schema are kept as they are. */
function isDefaultMessage(message: string): boolean {
  return /^(Too small|Too big|Invalid (input|option|string|key|element|discriminator)|Unrecognized key)/.test(message);
}

/** `resources[2].operations[0].interval`: how a path is named in messages. */
export function pathText(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) s += s === '' ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

function valueAt(data: unknown, path: Path): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function article(type: string): string {
  switch (type) {
    case 'object':
      return 'a map';
    case 'array':
      return 'a list';
    case 'int':
      return 'an integer';
    case 'undefined':
      return 'nothing';
    default:
      return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
  }
}

/** A value as an operator wrote it, short. */
export function describe(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

// --- the schema at a path, to list the keys an object allows -------------------------------

interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly element?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly valueType?: z.ZodType;
  readonly values?: readonly unknown[];
}

function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips wrappers that do not change which keys an object takes. */
function unwrap(schema: z.ZodType, data: unknown): z.ZodType {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const d = def(s);
    if ((d.type === 'optional' || d.type === 'nullable' || d.type === 'default' || d.type === 'readonly') && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else if (d.type === 'union' && d.options) {
      const pick = pickOption(d, data);
      if (pick === undefined) return s;
      s = pick;
    } else return s;
  }
  return s;
}

/** The branch of a union that `data` was meant for: by discriminator, else the only object branch. */
function pickOption(d: Def, data: unknown): z.ZodType | undefined {
  const options = d.options ?? [];
  if (d.discriminator !== undefined && data !== null && typeof data === 'object') {
    const tag = (data as Record<string, unknown>)[d.discriminator];
    for (const o of options) {
      const shape = def(unwrap(o, data)).shape;
      const lit = shape?.[d.discriminator];
      if (lit !== undefined && (def(lit).values ?? []).includes(tag)) return o;
    }
    return undefined;
  }
  const objects = options.filter((o) => def(unwrap(o, undefined)).type === 'object');
  return objects.length === 1 ? objects[0] : undefined;
}

function keysAt(schema: z.ZodType, path: Path, data: unknown): string[] | undefined {
  let s: z.ZodType | undefined = schema;
  let cur: unknown = data;
  for (const seg of path) {
    if (s === undefined) return undefined;
    s = unwrap(s, cur);
    const d = def(s);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[seg] : undefined;
    if (d.type === 'object') s = d.shape?.[String(seg)];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return undefined;
  }
  if (s === undefined) return undefined;
  const d = def(unwrap(s, cur));
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : undefined;
}
