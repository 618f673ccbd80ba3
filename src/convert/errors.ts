// Errors thrown by the Pacemaker converters. The converters are pure: they throw only when
// their input cannot be read at all; anything readable that Haven cannot represent is
// returned in an `unconverted` list instead.

import { HavenError } from '../errors.js';

/**
 * Thrown by fromCib when the text is not a CIB: not well-formed XML (`line` and `column`
 * point at the fault), or a root element other than <cib>. Code CIB_INVALID, exit code 1.
 */
export class CibInvalidError extends HavenError {
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(message: string, options?: { line?: number; column?: number; hint?: string }) {
    super('CIB_INVALID', message, options?.hint === undefined ? undefined : { hint: options.hint });
    this.name = 'CibInvalidError';
    this.line = options?.line;
    this.column = options?.column;
  }
}
