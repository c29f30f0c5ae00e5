/**
 * @module exec/scripts
 * A connection's parsed and lowered requests. Scripts are cached by SQL text, and each
 * statement's SQLite form by catalog version, so a repeated statement costs one map lookup and
 * SQLite's own prepared statement. The engine (engine.ts) and the writer (writer.ts) each keep
 * their own, against their own catalog: the writer's sees its open transaction's DDL.
 */
import type { Catalog } from '../catalog/index.ts';
import { checkUserObjects } from '../check/index.ts';
import { parseScript, type A } from '../dialect/index.ts';
import { lowerStatement, type LoweredStatement } from '../lower/index.ts';
import type { Planner } from '../plan/index.ts';
import { tooManyStatements, type Limits } from '../runtime/index.ts';
import { QuiverError } from '../../core/index.ts';

const MAX_CACHED_SCRIPTS = 1000;

export interface CompiledScript {
  statements: A.Statement[];
  /** Per statement: whether it holds a vector query the planner may answer from an index. */
  vectorQueries?: boolean[];
  lowered: ({ version: number; statement: LoweredStatement } | undefined)[];
}

export class Scripts {
  private readonly scripts = new Map<string, CompiledScript>();

  constructor(
    private readonly limits: Limits,
    private readonly catalog: Catalog,
    private readonly planner: Planner,
  ) {}

  /** `sql` parsed and checked (users' objects only), before anything of it runs. */
  compile(sql: string): CompiledScript {
    const cached = this.scripts.get(sql);
    if (cached) return cached;
    const statements = parseScript(sql, this.limits.maxSqlTokens);
    if (statements.length === 0) throw new QuiverError('BAD_REQUEST', 'the request holds no SQL statement');
    if (statements.length > this.limits.maxStatements) throw tooManyStatements(statements.length, this.limits);
    // Whatever the role, before anything runs or is cached: reads, writes and EXPLAIN all compile here.
    checkUserObjects(statements, sql);
    const script: CompiledScript = { statements, lowered: new Array(statements.length) };
    if (this.scripts.size >= MAX_CACHED_SCRIPTS) this.scripts.delete(this.scripts.keys().next().value!);
    this.scripts.set(sql, script);
    return script;
  }

  /** The SQLite form of statement `i`, lowered against the current catalog. */
  lowered(script: CompiledScript, i: number, source: string): LoweredStatement {
    const cached = script.lowered[i];
    if (cached && cached.version === this.catalog.version) return cached.statement;
    const statement = lowerStatement(script.statements[i], this.catalog, source);
    script.lowered[i] = { version: this.catalog.version, statement };
    // Whether the planner has work here depends on the catalog too: worked out at the same time.
    (script.vectorQueries ??= [])[i] = this.planner.candidates(script.statements[i]).length > 0;
    return statement;
  }
}
