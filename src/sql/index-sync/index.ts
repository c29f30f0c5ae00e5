/** @module index-sync — the door of src/sql/index-sync/. */
export { dropFulltext, ftsTable, installFulltext, registerFulltextFunctions } from './fulltext.ts';
export { ChangeLog, dropCaptureTriggers, installCaptureTriggers } from './change-log.ts';
export { IndexRegistry, SavesHeldError } from './index-registry.ts';
export type { IndexRegistryOptions } from './index-registry.ts';
