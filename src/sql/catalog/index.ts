/** @module catalog — the door of src/sql/catalog/. */
export { Catalog, migrateCatalog } from './catalog.ts';
export type { ColumnEmbedding } from './column-embedding.ts';
export { DdlRunner } from './ddl.ts';
export { Introspector } from './introspect.ts';
export type { CatalogLookup, FulltextIndexInfo, TableInfo, VectorIndexInfo } from './table-info.ts';
