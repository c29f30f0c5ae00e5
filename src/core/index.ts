/**
 * @module core
 * What every module of Quiver shares and nothing else: the error class and its codes, how a
 * vector is encoded, and the names of distance metrics. It imports no other module of ours.
 */
export { QuiverError, isQuiverError, isDiskFullError, ERROR_TITLES } from './errors.ts';
export type { ErrorCode, QuiverErrorOptions, SourcePosition } from './errors.ts';
export type { EmbeddingSource } from './embedding-source.ts';
export {
  MAX_VECTOR_DIMS,
  MIN_VECTOR_DIMS,
  checkDims,
  decodeVector,
  encodeVector,
  formatVectorText,
  originalsReader,
  parseVectorText,
  shortestFloat32,
  vectorBlob,
  vectorToNumbers,
  viewVector,
} from './vector-codec.ts';
export { parseMetric, type Metric } from './metric.ts';
