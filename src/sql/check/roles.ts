/**
 * @module check/roles
 * What each statement needs of an API key's role. Roles nest: `read` ⊂ `write` ⊂ `admin`.
 * - read: SELECT, EXPLAIN, SHOW, readable PRAGMAs, SET (a setting of the request only), and the
 *   transaction statements that wrap them;
 * - write: plus INSERT, UPDATE, DELETE (and REPLACE);
 * - admin: plus every schema change (CREATE, DROP, ALTER, TRUNCATE) and index maintenance
 *   (OPTIMIZE, REINDEX, ANALYZE, VACUUM).
 * EXPLAIN needs only `read` whatever it explains: it plans the statement and never runs it.
 */
import type { A } from '../dialect/index.ts';
import { QuiverError } from '../../core/index.ts';

export const ROLES = ['read', 'write', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { read: 0, write: 1, admin: 2 };

const NEEDS: Record<A.Statement['kind'], Role> = {
  select: 'read',
  explain: 'read',
  show: 'read',
  pragma: 'read',
  set: 'read',
  transaction: 'read',
  insert: 'write',
  update: 'write',
  delete: 'write',
  createTable: 'admin',
  createIndex: 'admin',
  createVectorIndex: 'admin',
  createFulltextIndex: 'admin',
  createView: 'admin',
  createTrigger: 'admin',
  drop: 'admin',
  alterTable: 'admin',
  truncate: 'admin',
  maintenance: 'admin',
  optimize: 'admin',
};

/** Whether `role` includes `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** The role statement `s` needs. */
export function roleFor(s: A.Statement): Role {
  return NEEDS[s.kind];
}

/** Throws FORBIDDEN, naming the first statement `role` may not run and the role it needs. */
export function checkRole(statements: readonly A.Statement[], role: Role): void {
  statements.forEach((s, i) => {
    const needed = roleFor(s);
    if (!roleAllows(role, needed)) {
      throw new QuiverError('FORBIDDEN', `statement ${i + 1} (${describe(s)}) needs the ${needed} role; this key has the ${role} role`, {
        statementIndex: i,
      });
    }
  });
}

function describe(s: A.Statement): string {
  switch (s.kind) {
    case 'createTable': return 'CREATE TABLE';
    case 'createIndex': return 'CREATE INDEX';
    case 'createVectorIndex': return 'CREATE VECTOR INDEX';
    case 'createFulltextIndex': return 'CREATE FULLTEXT INDEX';
    case 'createView': return 'CREATE VIEW';
    case 'createTrigger': return 'CREATE TRIGGER';
    case 'alterTable': return 'ALTER TABLE';
    case 'maintenance': return s.verb;
    default: return s.kind.toUpperCase();
  }
}
