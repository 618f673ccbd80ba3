// The errors Haven throws at its edges (files, command line, later the REST API), each with a
// stable code. The pure core returns values instead; these are for the faces to report.
//
// One table, ERROR_CODES, maps a code to its CLI exit code and HTTP status, so the two never
// drift apart. The codes are catalogued for operators in docs/errors.md; a code, once
// published, keeps its meaning.

export const ERROR_CODES = {
  /** A cluster configuration was refused: schema or whole-config rules. */
  CONFIG_INVALID: { exitCode: 1, httpStatus: 422 },
  /** A status snapshot was refused: schema, or it does not fit the configuration. */
  STATUS_INVALID: { exitCode: 1, httpStatus: 422 },
  /** A Pacemaker CIB could not be read: not well-formed XML, or not a <cib> document. */
  CIB_INVALID: { exitCode: 1, httpStatus: 422 },
  /** The command line (or a request) was malformed: unknown option, bad value, wrong combination. */
  USAGE: { exitCode: 2, httpStatus: 400 },
  /** A named thing does not exist: a file, a resource, a node. */
  NOT_FOUND: { exitCode: 3, httpStatus: 404 },
  /** Reading or writing failed for another reason than absence: permissions, a directory, a full disk. */
  IO: { exitCode: 4, httpStatus: 500 },
  /** The lab is not up (a lab command other than `up` was run without one). */
  LAB_NOT_UP: { exitCode: 5, httpStatus: 409 },
  /** `haven lab up` was run while a lab with that name is up. */
  LAB_ALREADY_UP: { exitCode: 5, httpStatus: 409 },
  /** This machine lacks something a command needs (root, a kernel feature, a program). */
  UNSUPPORTED: { exitCode: 6, httpStatus: 501 },
  /** A system command Haven ran (ip, nft, an OCF agent's helper) failed; its output is in the message. */
  SYSTEM_COMMAND_FAILED: { exitCode: 7, httpStatus: 500 },
  /** The controller or an agent could not be reached, or did not answer in time. */
  UNREACHABLE: { exitCode: 8, httpStatus: 503 },
  /** A request was refused because it is out of date: a command with an older epoch, a stale apply. */
  CONFLICT: { exitCode: 9, httpStatus: 409 },
  /** A bug in Haven: an invariant broke. The message says which. */
  INTERNAL: { exitCode: 70, httpStatus: 500 },
} as const satisfies Record<string, { exitCode: number; httpStatus: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Every error Haven reports on purpose; anything else reaching a face is a bug. */
export class HavenError extends Error {
  readonly code: ErrorCode;
  /** Shown after the message as "(hint: …)". */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HavenError';
    this.code = code;
    this.hint = options?.hint;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }
}

/** One located problem in a file: what `haven check` prints as `file:line:col: message`. */
export interface SourceError {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** Where in the document, as keys and indexes (`["resources", 2, "agent"]`). */
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly hint?: string;
}

/** Thrown when a config file is refused; `errors` holds every problem found, not just the first. */
export class ConfigInvalidError extends HavenError {
  readonly errors: readonly SourceError[];
  constructor(file: string, errors: readonly SourceError[]) {
    super('CONFIG_INVALID', `${file}: configuration refused (${plural(errors.length, 'error')})`);
    this.name = 'ConfigInvalidError';
    this.errors = errors;
  }
}

/** Thrown when a status file is refused, on its own or against the configuration. */
export class StatusInvalidError extends HavenError {
  readonly errors: readonly SourceError[];
  constructor(file: string, errors: readonly SourceError[]) {
    super('STATUS_INVALID', `${file}: status refused (${plural(errors.length, 'error')})`);
    this.name = 'StatusInvalidError';
    this.errors = errors;
  }
}

/** Thrown for a malformed command line that the argument parser could not catch itself. */
export class UsageError extends HavenError {
  constructor(message: string, options?: { hint?: string }) {
    super('USAGE', message, options);
    this.name = 'UsageError';
  }
}

/** Thrown when a file, resource or node named by the operator does not exist. */
export class NotFoundError extends HavenError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

/** Thrown when reading or writing a file fails for another reason than its absence. */
export class IoError extends HavenError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('IO', message, options);
    this.name = 'IoError';
  }
}

/** Turns a failed fs call into NOT_FOUND or IO, naming the file. */
export function fileError(file: string, err: unknown): HavenError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return new NotFoundError(`${file}: no such file`, { cause: err });
  if (code === 'EISDIR') return new IoError(`${file}: is a directory, not a file`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new IoError(`${file}: permission denied`, { cause: err });
  const detail = err instanceof Error ? err.message : String(err);
  return new IoError(`${file}: cannot read: ${detail}`, { cause: err });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
