/** @module check — the door of src/sql/check/. */
export { ROLES, checkRole, roleAllows } from './roles.ts';
export type { Role } from './roles.ts';
export { INTERNAL_PREFIX, checkUserObjects, isReservedName } from './user-objects.ts';
export { vectorDimsOf } from './vector-columns.ts';
