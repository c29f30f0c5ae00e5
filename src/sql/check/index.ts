/** @module check — the door of src/sql/check/. */
export { checkPragma } from './pragmas.ts';
export { ROLES, checkRole, roleAllows } from './roles.ts';
export type { Role } from './roles.ts';
export { INTERNAL_PREFIX, checkFunctionAllowed, checkUserTableName } from './user-objects.ts';
export { vectorDimsOf } from './vector-columns.ts';
