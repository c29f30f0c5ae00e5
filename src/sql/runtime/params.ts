/**
 * @module runtime/params
 * Binds a request's parameters to the statements that use them. Positional `?` parameters are
 * consumed in order across the request's statements; named ones (`:name`, `@name`, `$name`)
 * come from one object shared by all. A JSON array of numbers is a vector, bound as its
 * float32 BLOB; `{"$base64": "..."}` is a blob. An integer (a bigint when the API read it past
 * 2^53) is bound as SQLite's 64-bit INTEGER, exactly, or refused: nothing is rounded or cut
 * short on the way in. Errors name the parameter, never its value.
 */
import type { A } from '../dialect/index.ts';
import type { LoweredStatement } from '../lower/index.ts';
import { QuiverError, checkDims, encodeVector } from '../../core/index.ts';
import type { Params } from '../types.ts';

type Bindable = null | number | bigint | string | Buffer;

/** One bound value from JSON. `label` names it in errors (`?3`, `:since`). */
export function toBindable(value: unknown, label: string): Bindable {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new QuiverError('PARAMETER_ERROR', `parameter ${label} is not a finite number`);
      return value;
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new QuiverError(
          'PARAMETER_ERROR',
          `parameter ${label} must be an integer from -2^63 to 2^63-1, SQLite's INTEGER range; got one outside it. ` +
            'Bind a larger number as a string, or as a double by writing it with an exponent (1e20)',
        );
      }
      return value;
    case 'string':
      return value;
    case 'boolean':
      return value ? 1 : 0;
  }
  if (Array.isArray(value)) {
    checkDims(value.length, `parameter ${label} (a vector)`);
    // A vector's elements are float32s, so a huge integer element is rounded like any other number.
    const vector = value.some((x) => typeof x === 'bigint') ? value.map((x) => (typeof x === 'bigint' ? Number(x) : x)) : value;
    for (let i = 0; i < vector.length; i++) {
      const x = vector[i];
      if (typeof x !== 'number' || !Number.isFinite(Math.fround(x))) {
        throw new QuiverError('PARAMETER_ERROR', `parameter ${label} is an array, so it must be a vector of finite numbers; element ${i + 1} is not`);
      }
    }
    return encodeVector(vector as number[]);
  }
  if (typeof value === 'object' && value !== null && typeof (value as { $base64?: unknown }).$base64 === 'string') {
    return decodeBase64((value as { $base64: string }).$base64, label);
  }
  throw new QuiverError('PARAMETER_ERROR', `parameter ${label} must be null, a number, a string, a boolean, an array of numbers (a vector) or {"$base64": "..."}`);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** One alphabet throughout, standard or URL-safe; padding is checked apart. */
const BASE64_DIGITS = /^(?:[A-Za-z0-9+/]*|[A-Za-z0-9_-]*)$/;

/**
 * The bytes of `text`, in base64's standard or URL-safe alphabet (not both in one value), with
 * its `=` padding or none. Buffer.from skips what it cannot read, so a value is accepted only
 * when its bytes encode back to it: no stray characters or blanks, no impossible length, no
 * set bits after the last byte. Anything else is an error, never a shorter or empty blob.
 */
function decodeBase64(text: string, label: string): Buffer {
  const padding = text.length % 4 === 0 ? (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0) : 0;
  const digits = text.slice(0, text.length - padding);
  const bytes = BASE64_DIGITS.test(digits) ? Buffer.from(digits, 'base64') : undefined;
  if (bytes === undefined || bytes.toString('base64url') !== digits.replaceAll('+', '-').replaceAll('/', '_')) {
    throw new QuiverError(
      'PARAMETER_ERROR',
      `parameter ${label} is {"$base64": ...}, so its text must be base64 (standard or URL-safe alphabet, with or without = padding); it is not`,
    );
  }
  return bytes;
}

/** Walks a request's parameters statement by statement. */
export class ParamCursor {
  private next = 0;
  private readonly positional: readonly unknown[];
  private readonly named: Readonly<Record<string, unknown>> | null;

  constructor(params: Params | undefined) {
    if (params === undefined || params === null) {
      this.positional = [];
      this.named = null;
    } else if (Array.isArray(params)) {
      this.positional = params;
      this.named = null;
    } else if (typeof params === 'object') {
      this.positional = [];
      this.named = params as Record<string, unknown>;
    } else {
      throw new QuiverError('PARAMETER_ERROR', 'params must be an array (for ?) or an object (for :name)');
    }
  }

  /**
   * The arguments for one statement, in better-sqlite3's calling shape: one object, since
   * positional parameters are emitted as numbered names (`:3`), which better-sqlite3 binds by name ("3").
   */
  take(statement: LoweredStatement): unknown[] {
    if (statement.positionalParams === 0 && statement.namedParams.size === 0) return [];
    const bound: Record<string, Bindable> = {};
    if (statement.positionalParams > 0) {
      if (this.named) throw new QuiverError('PARAMETER_ERROR', 'the SQL uses ? parameters, so params must be an array');
      if (this.next + statement.positionalParams > this.positional.length) {
        throw new QuiverError(
          'PARAMETER_ERROR',
          `the SQL uses at least ${this.next + statement.positionalParams} ? parameters; params has ${this.positional.length}`,
        );
      }
      for (let i = 1; i <= statement.positionalParams; i++) {
        bound[i] = toBindable(this.positional[this.next], `?${this.next + 1}`);
        this.next++;
      }
    }
    if (statement.namedParams.size > 0) {
      if (!this.named) throw new QuiverError('PARAMETER_ERROR', 'the SQL uses named parameters (:name), so params must be an object');
      for (const name of statement.namedParams) {
        if (!Object.hasOwn(this.named, name)) throw new QuiverError('PARAMETER_ERROR', `missing value for parameter :${name}`);
        bound[name] = toBindable(this.named[name], `:${name}`);
      }
    }
    return [bound];
  }

  /** Where the cursor stands, to replay a statement from there. */
  mark(): number {
    return this.next;
  }

  reset(mark: number): void {
    this.next = mark;
  }

  /** Throws if positional parameters were given that no statement used. */
  finish(): void {
    if (this.next < this.positional.length) {
      throw new QuiverError('PARAMETER_ERROR', `params has ${this.positional.length} values but the SQL uses ${this.next} ? parameters`);
    }
  }
}

/** `args` (as ParamCursor.take gave them: one object of named values, or none) with `values` added. */
export function withNamed(args: unknown[], values: Record<string, unknown>): unknown[] {
  return [{ ...(args[0] as Record<string, unknown> | undefined), ...values }];
}

/** `args` with each restricted core's candidate row ids bound as JSON. */
export function bindRowIds(args: unknown[], statement: LoweredStatement, restrictions: ReadonlyMap<A.SelectCore, readonly number[]>): unknown[] {
  if (statement.rowIdParams.size === 0) return args;
  const values: Record<string, string> = {};
  for (const [core, name] of statement.rowIdParams) values[name] = JSON.stringify(restrictions.get(core) ?? []);
  return withNamed(args, values);
}
