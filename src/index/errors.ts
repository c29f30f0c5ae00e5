/**
 * @module index/errors
 * Errors of the index's own files. They are not users' mistakes (those are QuiverErrors from
 * src/core/errors.ts: a wrong dimension, a bad parameter) but damaged or foreign data on disk,
 * which the caller answers by rebuilding the index from SQLite, the source of truth. Each
 * carries a stable `code` and a `reason` that says which check failed.
 */

/** Why a segment file was refused. */
export type SegmentCorruptReason = 'truncated' | 'magic' | 'version' | 'checksum' | 'structure';

/** A segment or manifest file that cannot be trusted: wrong magic, version, checksum or shape. */
export class SegmentCorruptError extends Error {
  readonly code = 'SEGMENT_CORRUPT' as const;
  readonly path: string;
  readonly reason: SegmentCorruptReason;

  constructor(path: string, reason: SegmentCorruptReason, detail: string) {
    super(`segment file ${path} is corrupt (${reason}): ${detail}`);
    this.name = 'SegmentCorruptError';
    this.path = path;
    this.reason = reason;
  }
}

export function isSegmentCorruptError(e: unknown): e is SegmentCorruptError {
  return e instanceof SegmentCorruptError;
}
