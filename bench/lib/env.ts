/** @module bench/lib/env — reading a benchmark's settings from its environment variables. */

/** The whole number in `process.env[name]`, `fallback` when unset or empty; throws naming the variable when it is below `min` or not whole. */
export function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name}=${JSON.stringify(raw)}: expected a whole number of at least ${min}`);
  return value;
}
