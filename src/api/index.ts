/**
 * @module api
 * Quiver's HTTP layer: the public door of src/api. `createApp` builds the Hono app (no socket),
 * `loadConfig` reads the environment; `server.ts` is the entry point that puts them on a port.
 */
export { createApp } from './app.ts';
export type { AppOptions, SqlEngine } from './app.ts';
export { ConfigError, loadConfig } from './config.ts';
export type { Config } from './config.ts';
