/**
 * @module problem
 * The one place where an error becomes an HTTP answer: an `application/problem+json` body
 * (RFC 9457) whose `type` and `code` come from the error catalog, so clients branch on `code`
 * and never on the wording of `detail`. A QuiverError is the user's mistake and answers with
 * its code's status (`HTTP_STATUS`, the one table from code to status) and detail. Anything else is a broken invariant: it is logged here with
 * its cause, and the client gets a generic 500 whose detail reveals nothing (no message, no
 * stack, no SQL, no bound parameters).
 */
import { isQuiverError, ERROR_TITLES } from '../core/index.ts';
import type { ErrorCode } from '../core/index.ts';

/** The HTTP status each error code answers with: the one table from code to status. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  SYNTAX_ERROR: 400,
  UNSUPPORTED_STATEMENT: 400,
  UNKNOWN_TABLE: 400,
  UNKNOWN_COLUMN: 400,
  UNKNOWN_FUNCTION: 400,
  UNKNOWN_INDEX: 400,
  ALREADY_EXISTS: 409,
  RESERVED_NAME: 400,
  CONSTRAINT_VIOLATION: 409,
  TYPE_MISMATCH: 400,
  DIMENSION_MISMATCH: 400,
  INVALID_VECTOR: 400,
  NO_VECTOR_INDEX: 400,
  CONVERSION_FAILED: 400,
  PARAMETER_ERROR: 400,
  TRANSACTION_ERROR: 400,
  SQL_ERROR: 400,
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNKNOWN_MODEL: 400,
  EMBEDDING_DIMENSIONS: 400,
  EMBEDDING_FAILED: 502,
  CHAT_FAILED: 502,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  STATEMENT_TIMEOUT: 408,
  BODY_TIMEOUT: 408,
  LIMIT_EXCEEDED: 400,
  OVERLOADED: 503,
  TOO_MANY_REQUESTS: 429,
  DATABASE_BUSY: 503,
  DATABASE_CLOSED: 503,
  // GET /ready only: the server is up but still starting (its writer, its vector indexes).
  NOT_READY: 503,
  // RFC 4918's Insufficient Storage: the server's condition, not the request's, and temporary.
  STORAGE_FULL: 507,
  // Cluster mode: no primary is known to take the write (an election is running), or a write
  // forwarded to a node that is no longer primary; retry.
  NOT_PRIMARY: 503,
  // Cluster mode: NATS JetStream, the log every write goes through first, cannot be reached.
  LOG_UNAVAILABLE: 503,
  // Cluster mode: this node has not applied the position a read asked for (Quiver-Min-Position) in time.
  POSITION_NOT_REACHED: 503,
  INTERNAL_ERROR: 500,
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://quiver.dev/errors/';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  /** 1-based position in the submitted SQL (or JSON body), when known. */
  line?: number;
  column?: number;
  /** 0-based index of the failing statement within the request, when known. */
  statementIndex?: number;
}

const INTERNAL_DETAIL = 'the server failed to handle this request; the error has been logged';

/** The problem document for `error`; pure, so it can be tested without a server. */
export function toProblem(error: unknown): Problem {
  if (!isQuiverError(error)) {
    const code = 'INTERNAL_ERROR';
    return { type: PROBLEM_TYPE_BASE + code, title: ERROR_TITLES[code], status: HTTP_STATUS[code], code, detail: INTERNAL_DETAIL };
  }
  const problem: Problem = {
    type: PROBLEM_TYPE_BASE + error.code,
    title: error.title,
    status: HTTP_STATUS[error.code],
    code: error.code,
    detail: error.detail,
  };
  if (error.position) {
    problem.line = error.position.line;
    problem.column = error.position.column;
  }
  if (error.statementIndex !== undefined) problem.statementIndex = error.statementIndex;
  return problem;
}

export interface ProblemResponseOptions {
  /** Extra response headers, such as `Allow` on a 405. */
  headers?: Record<string, string>;
  /** The request being answered; only its method and path go into the log line. */
  request?: Request;
}

/** Answers `error` as problem+json, logging it first when it is not a QuiverError. */
export function problemResponse(error: unknown, options: ProblemResponseOptions = {}): Response {
  if (!isQuiverError(error)) {
    const where = options.request ? ` on ${options.request.method} ${new URL(options.request.url).pathname}` : '';
    // console.error prints the stack and the `cause` chain, which is what an operator needs.
    console.error(`quiver: internal error${where}:`, error);
  }
  const problem = toProblem(error);
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE, ...options.headers };
  if (isQuiverError(error)) {
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
    // RFC 9110: a 401 names the scheme the client should use.
    if (error.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer realm="quiver"';
  }
  return new Response(JSON.stringify(problem), { status: problem.status, headers });
}

