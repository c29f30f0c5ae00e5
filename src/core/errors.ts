/**
 * @module errors
 * The one error class for users' mistakes, and the one catalog of their codes. Every code has
 * a fixed HTTP status here, so the API layer maps errors without knowing where they came from.
 * Broken invariants are not QuiverErrors: they stay plain Errors and become a generic 500.
 */

/** Stable error codes, the HTTP status each maps to, and a short human title. */
export const ERROR_CATALOG = {
  SYNTAX_ERROR: { status: 400, title: 'SQL syntax error' },
  UNSUPPORTED_STATEMENT: { status: 400, title: 'Statement not allowed' },
  UNKNOWN_TABLE: { status: 400, title: 'Unknown table' },
  UNKNOWN_COLUMN: { status: 400, title: 'Unknown column' },
  UNKNOWN_FUNCTION: { status: 400, title: 'Unknown function' },
  UNKNOWN_INDEX: { status: 400, title: 'Unknown index' },
  ALREADY_EXISTS: { status: 409, title: 'Object already exists' },
  RESERVED_NAME: { status: 400, title: 'Reserved name' },
  CONSTRAINT_VIOLATION: { status: 409, title: 'Constraint violation' },
  TYPE_MISMATCH: { status: 400, title: 'Type mismatch' },
  DIMENSION_MISMATCH: { status: 400, title: 'Vector dimension mismatch' },
  INVALID_VECTOR: { status: 400, title: 'Invalid vector' },
  NO_VECTOR_INDEX: { status: 400, title: 'No vector index for distance' },
  CONVERSION_FAILED: { status: 400, title: 'Column conversion failed' },
  PARAMETER_ERROR: { status: 400, title: 'Bad statement parameters' },
  TRANSACTION_ERROR: { status: 400, title: 'Transaction error' },
  SQL_ERROR: { status: 400, title: 'SQL error' },
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  INVALID_JSON: { status: 400, title: 'Invalid JSON body' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  UNKNOWN_MODEL: { status: 400, title: 'Unknown embedding model' },
  EMBEDDING_DIMENSIONS: { status: 400, title: 'Embedding dimensions not available' },
  EMBEDDING_FAILED: { status: 502, title: 'Embedding provider failed' },
  CHAT_FAILED: { status: 502, title: 'Chat provider failed' },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  STATEMENT_TIMEOUT: { status: 408, title: 'Statement timeout' },
  LIMIT_EXCEEDED: { status: 400, title: 'Limit exceeded' },
  OVERLOADED: { status: 503, title: 'Server overloaded' },
  DATABASE_BUSY: { status: 503, title: 'Database busy' },
  DATABASE_CLOSED: { status: 503, title: 'Database closed' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Where in the submitted SQL an error was found (1-based). */
export interface SourcePosition {
  line: number;
  column: number;
}

export interface QuiverErrorOptions {
  position?: SourcePosition;
  /** 0-based index of the failing statement within the request. */
  statementIndex?: number;
  /** For 503s: when the client may retry, sent as the `Retry-After` header. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** A mistake in what the user sent; `detail` says what to fix, never echoing bound values. */
export class QuiverError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  position?: SourcePosition;
  statementIndex?: number;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, detail: string, options: QuiverErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QuiverError';
    this.code = code;
    this.detail = detail;
    this.position = options.position;
    this.statementIndex = options.statementIndex;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }

  get title(): string {
    return ERROR_CATALOG[this.code].title;
  }
}

export function isQuiverError(e: unknown): e is QuiverError {
  return e instanceof QuiverError;
}
