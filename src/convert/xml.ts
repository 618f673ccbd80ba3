// A small XML element tree for the CIB converters: build one and print it with exact
// attribute order and escaping (to-cib), or read one from text (from-cib) keeping the order
// of children, which carries meaning in a CIB (group members, resource sets, history).

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { CibInvalidError } from './errors.js';

export interface XmlElement {
  readonly name: string;
  /** In document order. */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
}

type AttrInput = Record<string, string | number | boolean | undefined>;

/** An element; attributes whose value is undefined are left out. */
export function el(name: string, attrs: AttrInput = {}, children: ReadonlyArray<XmlElement | undefined | false> = []): XmlElement {
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = String(v);
  return { name, attrs: a, children: children.filter((c): c is XmlElement => Boolean(c)) };
}

/** Escapes text for a double-quoted attribute value. */
export function escapeAttr(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;')
    // Other control characters cannot appear in XML 1.0 at all.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/** Prints an element tree, two spaces per level, with an XML declaration-free header. */
export function printXml(root: XmlElement): string {
  const out: string[] = [];
  const walk = (e: XmlElement, depth: number): void => {
    const pad = '  '.repeat(depth);
    const attrs = Object.entries(e.attrs)
      .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
      .join('');
    if (e.children.length === 0) {
      out.push(`${pad}<${e.name}${attrs}/>`);
      return;
    }
    out.push(`${pad}<${e.name}${attrs}>`);
    for (const c of e.children) walk(c, depth + 1);
    out.push(`${pad}</${e.name}>`);
  };
  walk(root, 0);
  return `${out.join('\n')}\n`;
}

type Ordered = Record<string, unknown>;

function toElement(node: Ordered): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ':@');
  if (name === undefined || name === '#text' || name.startsWith('?') || name.startsWith('!')) return undefined;
  const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = String(v);
  const rawChildren = (node[name] ?? []) as Ordered[];
  const children = rawChildren.map(toElement).filter((c): c is XmlElement => c !== undefined);
  return { name, attrs, children };
}

/** Parses XML text into its root element; throws CibInvalidError when it is not well-formed. */
export function parseXml(text: string): XmlElement {
  const check = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (check !== true) {
    throw new CibInvalidError(`not well-formed XML: ${check.err.msg} (line ${check.err.line}, column ${check.err.col})`, {
      line: check.err.line,
      column: check.err.col,
    });
  }
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    preserveOrder: true,
    parseAttributeValue: false,
    parseTagValue: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    trimValues: true,
    processEntities: true,
  });
  const doc = parser.parse(text) as Ordered[];
  const roots = doc.map(toElement).filter((c): c is XmlElement => c !== undefined);
  const root = roots[0];
  if (root === undefined) throw new CibInvalidError('the document has no root element');
  return root;
}

/** The children of `e` with this element name. */
export function childrenNamed(e: XmlElement | undefined, name: string): XmlElement[] {
  return e ? e.children.filter((c) => c.name === name) : [];
}

export function childNamed(e: XmlElement | undefined, name: string): XmlElement | undefined {
  return e?.children.find((c) => c.name === name);
}
