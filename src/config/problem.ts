// A problem found in a parsed document by path, before it is placed in a file. The pure
// checks (schema issues, whole-config rules, status cross-checks) produce these; YamlSource
// turns them into file:line:column errors.

/** Keys and indexes from the document root, as zod reports them. */
export type Path = readonly (string | number)[];

export interface Problem {
  readonly path: Path;
  readonly message: string;
  readonly hint?: string;
  /** What to point at: the value at path (default) or the key naming it (an unknown key). */
  readonly at?: 'value' | 'key';
  /** Another place worth naming, e.g. where a duplicate id was first defined; added to the hint. */
  readonly related?: { readonly path: Path; readonly label: string };
}
