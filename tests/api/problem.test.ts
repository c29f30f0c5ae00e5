/** The error-to-problem+json mapping, for every code in the catalog. */
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS, PROBLEM_CONTENT_TYPE, problemResponse, toProblem } from '../../src/api/problem.ts';
import { ERROR_TITLES, QuiverError } from '../../src/core/index.ts';
import type { ErrorCode } from '../../src/core/index.ts';

describe('toProblem', () => {
  for (const code of Object.keys(ERROR_TITLES) as ErrorCode[]) {
    it(`maps ${code} to its status and title`, () => {
      const status = HTTP_STATUS[code];
      const title = ERROR_TITLES[code];
      expect(toProblem(new QuiverError(code, 'what to fix'))).toEqual({
        type: `https://quiver.dev/errors/${code}`,
        title,
        status,
        code,
        detail: 'what to fix',
      });
    });
  }

  it('adds the position and statement index when the error has them', () => {
    const error = new QuiverError('UNKNOWN_COLUMN', 'no column c in t', { position: { line: 2, column: 8 }, statementIndex: 0 });
    expect(toProblem(error)).toMatchObject({ line: 2, column: 8, statementIndex: 0 });
  });

  it('turns any other error into a 500 that says nothing about it', () => {
    const problem = toProblem(new Error('secret internals'));
    expect(problem).toEqual({
      type: 'https://quiver.dev/errors/INTERNAL_ERROR',
      title: 'Internal error',
      status: 500,
      code: 'INTERNAL_ERROR',
      detail: 'the server failed to handle this request; the error has been logged',
    });
  });
});

describe('problemResponse', () => {
  it('answers problem+json with the status and extra headers', async () => {
    const res = problemResponse(new QuiverError('METHOD_NOT_ALLOWED', 'use POST'), { headers: { allow: 'POST' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED', detail: 'use POST' });
  });
});
