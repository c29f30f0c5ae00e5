/** @module functions — the door of src/sql/functions/. */
export { distanceMetricOf, isDistanceFunction, metricFunction } from './distance-names.ts';
export { EmbeddingCalls, embeddingKey, registerEmbeddingFunction } from './embedding-calls.ts';
export type { EmbeddingRound, MissingTexts, ReadEmbeddings } from './embedding-calls.ts';
export { registerVectorFunctions } from './vector-functions.ts';
