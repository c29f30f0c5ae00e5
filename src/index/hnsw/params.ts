/**
 * @module index/hnsw/params
 * The HNSW tunables, with the paper's names (Malkov & Yashunin, "Efficient and robust
 * approximate nearest neighbor search using Hierarchical Navigable Small World graphs", 2016):
 * `m` is M, the number of links a node keeps per layer above 0 (layer 0 keeps Mmax0 = 2M, the
 * paper's recommendation in section 4.1); `efConstruction` is the candidate list size while
 * inserting (algorithm 1); `efSearch` is ef at query time (algorithm 5). Each has the
 * DEFAULT/MIN/MAX triple pgvector uses, and the catalog (src/sql/catalog/catalog.ts) re-exports them so
 * the DDL layer and the index validate against one set of bounds. Also here: the level
 * normalisation mL = 1/ln(M) and the cap on a node's level.
 */
import { QuiverError } from '../../core/index.ts';

export const DEFAULT_M = 16;
export const MIN_M = 2;
export const MAX_M = 100;
export const DEFAULT_EF_CONSTRUCTION = 200;
export const MIN_EF_CONSTRUCTION = 4;
export const MAX_EF_CONSTRUCTION = 1000;
export const DEFAULT_EF_SEARCH = 40;
export const MIN_EF_SEARCH = 1;
export const MAX_EF_SEARCH = 1000;

/**
 * A node's level is drawn as floor(-ln(U) * mL) (algorithm 1, line 4) and capped here: with
 * M >= 2 a level of 16 needs about 2^16 times more nodes than the index will ever hold in one
 * segment, and the cap lets a level fit in a byte.
 */
export const MAX_LEVEL = 16;

/** The seed of the level generator when none is given, so that a build is reproducible. */
export const DEFAULT_LEVEL_SEED = 0x5eed;

/** What shapes a graph at build time. */
export interface HnswParams {
  /** M: links per node on layers >= 1; layer 0 keeps 2M. */
  m: number;
  /** efConstruction: candidates kept while searching for a new node's neighbours. */
  efConstruction: number;
}

/** Mmax0, the link capacity of layer 0 (section 4.1: 2M is a good choice). */
export function maxLinksLayer0(m: number): number {
  return 2 * m;
}

/** mL = 1/ln(M), the level normalisation the paper recommends (section 4.1). */
export function levelMultiplier(m: number): number {
  return 1 / Math.log(m);
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new QuiverError('PARAMETER_ERROR', `${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
  return value;
}

/** Fills defaults and checks bounds; throws PARAMETER_ERROR naming the parameter. */
export function resolveHnswParams(params: Partial<HnswParams> = {}): HnswParams {
  return {
    m: checkInt('m', params.m ?? DEFAULT_M, MIN_M, MAX_M),
    efConstruction: checkInt(
      'efConstruction',
      params.efConstruction ?? DEFAULT_EF_CONSTRUCTION,
      MIN_EF_CONSTRUCTION,
      MAX_EF_CONSTRUCTION,
    ),
  };
}

/** Checks an efSearch (a per-request override must stay in bounds); the default when absent. */
export function resolveEfSearch(efSearch: number | undefined): number {
  return checkInt('efSearch', efSearch ?? DEFAULT_EF_SEARCH, MIN_EF_SEARCH, MAX_EF_SEARCH);
}
