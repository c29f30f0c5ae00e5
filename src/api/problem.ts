/**
 * @module problem
 * The one place where an error becomes an HTTP answer: an `application/problem+json` body
 * (RFC 9457) whose `type` and `code` come from the error catalog, so clients branch on `code`
 * and never on the wording of `detail`. A QuiverError is the user's mistake and answers with
 * its catalog status and detail. Anything else is a broken invariant: it is logged here with
 * its cause, and the client gets a generic 500 whose detail reveals nothing (no message, no
 * stack, no SQL, no bound parameters).
 */
import { ERROR_CATALOG, isQuiverError } from '../sql/index.ts';
import type { ErrorCode } from '../sql/index.ts';

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
    const { status, title } = ERROR_CATALOG.INTERNAL_ERROR;
    return { type: PROBLEM_TYPE_BASE + 'INTERNAL_ERROR', title, status, code: 'INTERNAL_ERROR', detail: INTERNAL_DETAIL };
  }
  const problem: Problem = {
    type: PROBLEM_TYPE_BASE + error.code,
    title: error.title,
    status: error.status,
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

