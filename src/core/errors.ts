/**
 * @module core/errors
 * The one error class for users' mistakes, and the one catalog of their codes, shared by every
 * module. Nothing here knows HTTP: the API layer maps each code to its status in one table
 * (src/api/problem.ts). Broken invariants are not QuiverErrors: they stay plain Errors and
 * become a generic 500.
 */

/** Stable error codes and a short human title for each. */
export const ERROR_TITLES = {
  SYNTAX_ERROR: 'SQL syntax error',
  UNSUPPORTED_STATEMENT: 'Statement not allowed',
  UNKNOWN_TABLE: 'Unknown table',
  UNKNOWN_COLUMN: 'Unknown column',
  UNKNOWN_FUNCTION: 'Unknown function',
  UNKNOWN_INDEX: 'Unknown index',
  ALREADY_EXISTS: 'Object already exists',
  RESERVED_NAME: 'Reserved name',
  CONSTRAINT_VIOLATION: 'Constraint violation',
  TYPE_MISMATCH: 'Type mismatch',
  DIMENSION_MISMATCH: 'Vector dimension mismatch',
  INVALID_VECTOR: 'Invalid vector',
  NO_VECTOR_INDEX: 'No vector index for distance',
  CONVERSION_FAILED: 'Column conversion failed',
  PARAMETER_ERROR: 'Bad statement parameters',
  TRANSACTION_ERROR: 'Transaction error',
  SQL_ERROR: 'SQL error',
  BAD_REQUEST: 'Bad request',
  INVALID_JSON: 'Invalid JSON body',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported content type',
  PAYLOAD_TOO_LARGE: 'Request body too large',
  NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  UNKNOWN_MODEL: 'Unknown embedding model',
  EMBEDDING_DIMENSIONS: 'Embedding dimensions not available',
  EMBEDDING_FAILED: 'Embedding provider failed',
  CHAT_FAILED: 'Chat provider failed',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'Forbidden',
  STATEMENT_TIMEOUT: 'Statement timeout',
  BODY_TIMEOUT: 'Request body timeout',
  LIMIT_EXCEEDED: 'Limit exceeded',
  OVERLOADED: 'Server overloaded',
  TOO_MANY_REQUESTS: 'Too many requests from this key',
  DATABASE_BUSY: 'Database busy',
  DATABASE_CLOSED: 'Database closed',
  NOT_READY: 'Not ready',
  STORAGE_FULL: 'Storage full',
  NOT_PRIMARY: 'Not the primary',
  LOG_UNAVAILABLE: 'Replication log unavailable',
  POSITION_NOT_REACHED: 'Position not reached',
  INTERNAL_ERROR: 'Internal error',
} as const;

export type ErrorCode = keyof typeof ERROR_TITLES;

/** Where in the submitted SQL an error was found (1-based). */
export interface SourcePosition {
  line: number;
  column: number;
}

export interface QuiverErrorOptions {
  position?: SourcePosition;
  /** 0-based index of the failing statement within the request. */
  statementIndex?: number;
  /** For 503s and 507s: when the client may retry, sent as the `Retry-After` header. */
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

  get title(): string {
    return ERROR_TITLES[this.code];
  }
}

export function isQuiverError(e: unknown): e is QuiverError {
  return e instanceof QuiverError;
}

/**
 * Whether `e` says a disk (or the user's quota on it) had no room for a write: ENOSPC or
 * EDQUOT from the file system, SQLITE_FULL from SQLite (which turns its own ENOSPC into it).
 * Which disk it was is for the caller to tell; this only reads the error's code.
 */
export function isDiskFullError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}
