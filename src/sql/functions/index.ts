/** @module functions — the door of src/sql/functions/. */
export { distanceMetricOf, isDistanceFunction, metricFunction } from './distance-names.ts';
export { EmbeddingCalls, inEmbeddingRounds } from './embedding-calls.ts';
export type { EmbeddingRound, MissingTexts, ReadEmbeddings, ReadMisses } from './embedding-calls.ts';
export { ReadEmbeddingCalls } from './read-embedding-calls.ts';
export { registerVectorFunctions } from './vector-functions.ts';
