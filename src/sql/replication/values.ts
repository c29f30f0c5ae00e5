/**
 * @module replication/values
 * How SQLite values travel in the log: a record is a list of values, each a type byte and its
 * bytes. Exact where JSON and MessagePack are not: an INTEGER stays an INTEGER (64 bits, as a
 * BigInt) and a REAL stays a REAL even when it is 2.0, so a replica binds what the primary
 * stored, type and all (better-sqlite3 binds a BigInt as INTEGER and a number as REAL).
 */

/** A value as it is read from a row with safe integers on, and bound again on a replica. */
export type LogValue = null | bigint | number | string | Uint8Array;

const NULL = 0;
const INTEGER = 1;
const REAL = 2;
const TEXT = 3;
const BLOB = 4;

/** Appends records to a growing buffer. */
export class RecordWriter {
  private buffer = Buffer.allocUnsafe(4096);
  private length = 0;

  /** Appends one record: its byte length, then its values. */
  record(values: readonly LogValue[]): void {
    const start = this.length;
    this.reserve(4);
    this.length += 4;
    for (const v of values) this.value(v);
    this.buffer.writeUInt32LE(this.length - start - 4, start);
  }

  /** Appends records already encoded (each with its length, as record() writes them). */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The bytes written, copied out. */
  finish(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buffer, 0, this.length);
  }

  private value(v: LogValue): void {
    if (v === null || v === undefined) {
      this.byte(NULL);
    } else if (typeof v === 'bigint') {
      this.byte(INTEGER);
      this.reserve(8);
      this.buffer.writeBigInt64LE(v, this.length);
      this.length += 8;
    } else if (typeof v === 'number') {
      this.byte(REAL);
      this.reserve(8);
      this.buffer.writeDoubleLE(v, this.length);
      this.length += 8;
    } else if (typeof v === 'string') {
      this.bytes(TEXT, Buffer.from(v, 'utf8'));
    } else {
      this.bytes(BLOB, v);
    }
  }

  private bytes(type: number, bytes: Uint8Array): void {
    this.byte(type);
    this.reserve(4 + bytes.length);
    this.buffer.writeUInt32LE(bytes.length, this.length);
    this.buffer.set(bytes, this.length + 4);
    this.length += 4 + bytes.length;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buffer[this.length++] = b;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + n));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** One record encoded on its own (what a capture trigger stores per row). */
export function encodeRecord(values: readonly LogValue[]): Uint8Array {
  const w = new RecordWriter();
  w.record(values);
  return w.finish();
}

/** Every record of `bytes`, in order; throws on bytes that are not records. */
export function decodeRecords(bytes: Uint8Array): LogValue[][] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: LogValue[][] = [];
  let at = 0;
  while (at < buf.length) {
    const end = at + 4 + buf.readUInt32LE(at);
    if (end > buf.length) throw new Error('a log record runs past the end of its message');
    at += 4;
    const values: LogValue[] = [];
    while (at < end) {
      const type = buf[at++];
      switch (type) {
        case NULL:
          values.push(null);
          break;
        case INTEGER:
          values.push(buf.readBigInt64LE(at));
          at += 8;
          break;
        case REAL:
          values.push(buf.readDoubleLE(at));
          at += 8;
          break;
        case TEXT:
        case BLOB: {
          const n = buf.readUInt32LE(at);
          const slice = buf.subarray(at + 4, at + 4 + n);
          values.push(type === TEXT ? slice.toString('utf8') : Buffer.from(slice));
          at += 4 + n;
          break;
        }
        default:
          throw new Error(`a log record holds an unknown value type ${type}`);
      }
    }
    records.push(values);
  }
  return records;
}

/** The first value of an encoded record (the shape id of a captured row), without decoding the rest. */
export function firstInteger(record: Uint8Array): bigint | null {
  const buf = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  return buf[4] === INTEGER ? buf.readBigInt64LE(5) : null;
}
